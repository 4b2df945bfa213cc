"""A flow's graph checked against the operators' declarations: every refusal is a 400 naming the node (or edge)
at fault — an unknown operator, a missing or mistyped parameter, a dangling edge, an input fed twice or not at
all, an output joined to an input of another type, a cycle, or a graph without exactly one last node giving text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.flows.declarations import Operator, Parameter, PortType
from dbgpt_tools.flows.models import MAX_TEXT, EdgeIn, FlowDataIn, NodeIn, Position


@dataclass(frozen=True)
class Node:
    """A checked node: its operator and parameter values (defaults filled in), and its layout."""

    id: str
    operator: Operator
    parameters: dict[str, Any]
    width: int
    height: int
    position: Position


@dataclass(frozen=True)
class Edge:
    """A checked edge: output `source_order` of `source` feeds input `target_order` of `target`."""

    id: str
    source: str
    source_order: int
    target: str
    target_order: int


@dataclass(frozen=True)
class Graph:
    """A checked flow: nodes in an order that runs every node after its sources, and the last node (the answer)."""

    nodes: dict[str, Node]
    edges: list[Edge]
    order: list[str]
    last: str
    viewport: Position

    def feeding(self, node_id: str) -> dict[int, Edge]:
        """The edges into a node, by the input they feed."""
        return {edge.target_order: edge for edge in self.edges if edge.target == node_id}


def check_graph(data: FlowDataIn, operators: Mapping[str, Operator]) -> Graph:
    """The graph of `data`, or InvalidInput naming the first node or edge at fault."""
    nodes: dict[str, Node] = {}
    for node in data.nodes:
        if node.id in nodes:
            raise _refused(node.id, "appears twice: node ids must be unique")
        nodes[node.id] = _node(node, operators)
    edges = [_edge(index, edge, nodes) for index, edge in enumerate(data.edges)]
    _check_inputs(nodes, edges)
    order = _order(nodes, edges)
    last = _last(nodes, edges)
    return Graph(nodes, edges, order, last, data.viewport)


def _refused(node_id: str, problem: str) -> InvalidInput:
    return InvalidInput(f"flow node {node_id!r} {problem}", field="flow_data")


def _node(node: NodeIn, operators: Mapping[str, Operator]) -> Node:
    operator = operators.get(node.data.name)
    if operator is None:
        known = ", ".join(sorted(operators))
        raise _refused(node.id, f"uses the unknown operator {node.data.name[:64]!r} (known: {known})")
    given: dict[str, Any] = {}
    for value in node.data.parameters:
        parameter = operator.parameter(value.name)
        if parameter is None:
            known = ", ".join(p.name for p in operator.parameters) or "none"
            raise _refused(node.id, f"({operator.name}) has no parameter {value.name!r} (it takes: {known})")
        empty = value.value is None or (value.value == "" and (parameter.kind is not str or not parameter.optional))
        if not empty:  # an empty text is a value for an optional text (a separator), "not given" otherwise
            given[value.name] = _checked(node.id, parameter, value.value)
    for parameter in operator.parameters:
        if parameter.name not in given:
            if not parameter.optional:
                raise _refused(node.id, f"({operator.name}) is missing its required parameter {parameter.name!r}")
            given[parameter.name] = parameter.default
    return Node(node.id, operator, given, node.width, node.height, node.position)


def _checked(node_id: str, parameter: Parameter, value: Any) -> Any:
    kind = parameter.kind
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # DB-GPT's editor sends numbers as text
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _refused(node_id, f"parameter {parameter.name!r} must be {kind.__name__}, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise _refused(node_id, f"parameter {parameter.name!r} is longer than {MAX_TEXT} characters")
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = parameter.minimum, parameter.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise _refused(node_id, f"parameter {parameter.name!r} must be within {low}..{high}, got {value}")
    return value


def _edge(index: int, edge: EdgeIn, nodes: dict[str, Node]) -> Edge:
    name = edge.id or f"edge_{index}"
    for end in (edge.source, edge.target):
        if end not in nodes:
            raise InvalidInput(f"flow edge {name!r} is dangling: there is no node {end[:160]!r}", field="flow_data")
    source, target = nodes[edge.source].operator, nodes[edge.target].operator
    if edge.source_order >= len(source.outputs):
        raise _refused(edge.source, f"({source.name}) has no output {edge.source_order} (edge {name!r})")
    if edge.target_order >= len(target.inputs):
        raise _refused(edge.target, f"({target.name}) has no input {edge.target_order} (edge {name!r})")
    given, wanted = source.outputs[edge.source_order], target.inputs[edge.target_order]
    if given.type is not wanted.type:
        raise _refused(
            edge.target,
            f"({target.name}) input {wanted.name!r} takes {wanted.type.value}, but node {edge.source!r} "
            f"({source.name}) output {given.name!r} gives {given.type.value} (edge {name!r})",
        )
    return Edge(name, edge.source, edge.source_order, edge.target, edge.target_order)


def _check_inputs(nodes: dict[str, Node], edges: list[Edge]) -> None:
    for node in nodes.values():
        fed = [edge.target_order for edge in edges if edge.target == node.id]
        for order, port in enumerate(node.operator.inputs):
            if fed.count(order) > 1:
                raise _refused(node.id, f"input {port.name!r} is fed by {fed.count(order)} edges: one at most")
            if order not in fed and not port.optional:
                raise _refused(node.id, f"({node.operator.name}) input {port.name!r} is not connected")


def _order(nodes: dict[str, Node], edges: list[Edge]) -> list[str]:
    sorter: TopologicalSorter[str] = TopologicalSorter({node_id: set() for node_id in nodes})
    for edge in edges:
        sorter.add(edge.target, edge.source)
    try:
        return list(sorter.static_order())
    except CycleError as error:
        cycle = error.args[1]
        raise _refused(cycle[0], "is on a cycle: " + " -> ".join(cycle)) from None


def _last(nodes: dict[str, Node], edges: list[Edge]) -> str:
    sources = {edge.source for edge in edges}
    last = [node_id for node_id in nodes if node_id not in sources]
    if len(last) != 1:
        raise _refused(
            last[0],
            f"is one of {len(last)} nodes whose output goes nowhere ({', '.join(last[:8])}): exactly one "
            "node must give the flow's answer",
        )
    node = nodes[last[0]]
    if not node.operator.outputs or node.operator.outputs[0].type is not PortType.text:
        raise _refused(node.id, f"({node.operator.name}) gives the answer, so it must output text")
    return node.id
