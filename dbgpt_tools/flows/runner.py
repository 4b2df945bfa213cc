"""Running a checked flow on one chat turn: nodes run in order, each on its sources' outputs; a node fed by a
branch not taken is skipped; the last node's text is the answer. An LLM node whose answer reaches the last node
(directly or through merges) streams it as the model writes. A failing node ends the run with its error, naming
the node."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from dbgpt_tools.chat.models import ChatChunk
from dbgpt_tools.chat.modes.base import ModeHandler, TurnContext
from dbgpt_tools.errors import DbgptError, InternalError, InvalidInput
from dbgpt_tools.flows.graph import Graph, Node
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.sql.executor import SqlExecutor

log = logging.getLogger(__name__)
MAX_TEXT_OUTPUT = 1_000_000
"""The longest text a node may give (characters): joins and templates cannot grow a text without bound."""


@dataclass(frozen=True)
class FlowServices:
    """What operators use beside the turn: knowledge, chat_data and SQL."""

    knowledge: KnowledgeService
    data_chat: ModeHandler
    sql: SqlExecutor


@dataclass(frozen=True)
class NodeCall:
    """One node's run: its parameters, its inputs by name (an unconnected optional input is empty text), the
    turn it answers and the services."""

    node: Node
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    turn: TurnContext
    services: FlowServices


@dataclass(frozen=True)
class Value:
    """An output's value, and whether its text already streamed to the user."""

    data: Any
    streamed: bool = False


async def run_flow(graph: Graph, turn: TurnContext, services: FlowServices) -> AsyncIterator[ChatChunk]:
    """The flow's answer as chat chunks (the last carries the finish reason)."""
    values: dict[tuple[str, int], Value] = {}
    streaming = _streaming(graph, graph.last)
    for node_id in graph.order:
        node = graph.nodes[node_id]
        inputs = _inputs(graph, node, values)
        if inputs is None:
            continue  # fed by a branch not taken
        try:
            if node.operator.passes_through:
                chosen = next((value for value in inputs.values() if value is not None), None)
                if chosen is not None:
                    values[(node_id, 0)] = chosen
                continue
            call = NodeCall(node, node.parameters, {k: v.data if v else "" for k, v in inputs.items()}, turn, services)
            if node.operator.stream is not None:
                parts: list[str] = []
                async for chunk in node.operator.stream(call):
                    parts.append(chunk.delta)
                    if node_id in streaming:
                        yield chunk
                values[(node_id, 0)] = Value("".join(parts), streamed=node_id in streaming)
                continue
            assert node.operator.run is not None
            outputs = await node.operator.run(call)
        except DbgptError as error:
            raise _naming(node, error) from error
        except Exception:
            log.exception("flow node %s (%s) failed", node_id, node.operator.name)
            raise InternalError(f"flow node {node_id!r} ({node.operator.name}) failed; see the server log") from None
        for order, port in enumerate(node.operator.outputs):
            if port.name in outputs:
                value = outputs[port.name]
                if isinstance(value, str) and len(value) > MAX_TEXT_OUTPUT:
                    raise _naming(node, InvalidInput(f"its text grew past {MAX_TEXT_OUTPUT:,} characters"))
                values[(node_id, order)] = Value(value)
    answer = values.get((graph.last, 0))
    if answer is None:
        raise InvalidInput(f"flow node {graph.last!r} gave no answer: the branch that leads to it was not taken")
    if not answer.streamed:
        yield ChatChunk(delta=str(answer.data), finish_reason="stop")


def _inputs(graph: Graph, node: Node, values: dict[tuple[str, int], Value]) -> dict[str, Value | None] | None:
    """A node's input values by name (None for an unconnected or skipped input), or None when the node is
    skipped: a required input's branch was not taken (a merge is skipped only when all its inputs were)."""
    feeding = graph.feeding(node.id)
    inputs: dict[str, Value | None] = {}
    for order, port in enumerate(node.operator.inputs):
        edge = feeding.get(order)
        value = values.get((edge.source, edge.source_order)) if edge else None
        if edge is not None and value is None and not node.operator.passes_through:
            return None
        inputs[port.name] = value
    if node.operator.passes_through and all(value is None for value in inputs.values()):
        return None
    return inputs


def _streaming(graph: Graph, node_id: str) -> set[str]:
    """The LLM nodes whose answer is the flow's answer: the last node, or those feeding it through merges."""
    operator = graph.nodes[node_id].operator
    if operator.stream is not None:
        return {node_id}
    if not operator.passes_through:
        return set()
    return {found for edge in graph.feeding(node_id).values() for found in _streaming(graph, edge.source)}


def _naming(node: Node, error: DbgptError) -> DbgptError:
    """The same error, its message naming the node."""
    named = copy.copy(error)
    named.message = f"flow node {node.id!r} ({node.operator.name}) failed: {error.message}"
    named.args = (named.message,)
    return named
