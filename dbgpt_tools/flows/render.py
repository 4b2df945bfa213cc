"""Operators and checked graphs in the form DB-GPT's clients read: node metadata (`ViewMetadata`) rendered from the
operator's declaration, with the node's parameter values."""

from __future__ import annotations

from typing import Any

from dbgpt_tools.flows.declarations import CATEGORY_LABELS, TYPE_CLASSES, Category, Operator, Port
from dbgpt_tools.flows.graph import Graph
from dbgpt_tools.flows.models import (
    FlowData,
    FlowEdge,
    FlowNode,
    OperatorCatalogue,
    OperatorMetadata,
    ParameterMetadata,
    PortMetadata,
)
from dbgpt_tools.flows.operators import OPERATORS


def operator_metadata(operator: Operator, values: dict[str, Any] | None = None) -> OperatorMetadata:
    """An operator's metadata; `values` are a node's parameter values."""
    values = values or {}
    if operator.category is Category.trigger:
        kind = "input"
    elif operator.passes_through:
        kind = "join"
    elif len(operator.outputs) > 1:
        kind = "branch"
    else:
        kind = "streamify" if operator.stream is not None else "map"
    return OperatorMetadata(
        label=operator.label,
        name=operator.name,
        description=operator.description,
        category=operator.category.value,
        category_label=CATEGORY_LABELS[operator.category],
        id=operator.metadata_id,
        operator_type=kind,
        parameters=[
            ParameterMetadata(
                type_name=parameter.kind.__name__,
                type_cls=f"builtins.{parameter.kind.__name__}",
                label=parameter.label,
                name=parameter.name,
                optional=parameter.optional,
                default=parameter.default,
                description=parameter.description,
                value=values.get(parameter.name, parameter.default),
            )
            for parameter in operator.parameters
        ],
        inputs=[_port(port) for port in operator.inputs],
        outputs=[_port(port) for port in operator.outputs],
    )


def _port(port: Port) -> PortMetadata:
    return PortMetadata(
        type_name=port.type.value,
        type_cls=TYPE_CLASSES[port.type],
        label=port.label,
        name=port.name,
        description=port.description + (" (optional)" if port.optional else ""),
    )


def flow_data(graph: Graph) -> FlowData:
    """A checked graph as served."""
    return FlowData(
        nodes=[
            FlowNode(
                id=node.id,
                width=node.width,
                height=node.height,
                position=node.position,
                position_absolute=node.position,
                data=operator_metadata(node.operator, node.parameters),
            )
            for node in graph.nodes.values()
        ],
        edges=[
            FlowEdge(
                id=edge.id,
                source=edge.source,
                source_order=edge.source_order,
                target=edge.target,
                target_order=edge.target_order,
                source_handle=f"{edge.source}|outputs|{edge.source_order}",
                target_handle=f"{edge.target}|inputs|{edge.target_order}",
            )
            for edge in graph.edges
        ],
        viewport=graph.viewport,
    )


def operator_catalogue() -> OperatorCatalogue:
    """Every operator a node may use."""
    return OperatorCatalogue(operators=[operator_metadata(operator) for operator in OPERATORS.values()])
