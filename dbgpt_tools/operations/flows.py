"""Flow operations: list, get, create and update flows, list the operators their nodes may use, and run one on a
message (chat_flow)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.chat.models import ChatMode, ChatResult, ConvUid
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.flows.models import Flow, FlowIn, FlowList, FlowUid, FlowUpdate, OperatorCatalogue
from dbgpt_tools.flows.registry import FlowRegistry
from dbgpt_tools.flows.render import operator_catalogue
from dbgpt_tools.operations.base import AnyOperation, NoArgs, Operation, Progress
from dbgpt_tools.operations.chat import ChatArgs, chat


async def list_flows(flows: FlowRegistry, args: NoArgs, progress: Progress | None = None) -> FlowList:
    """Every flow in short (the first 1000, built-in first)."""
    return await asyncio.to_thread(flows.summaries)


class FlowRef(BaseModel):
    """A flow by its uid."""

    uid: FlowUid


async def get_flow(flows: FlowRegistry, args: FlowRef, progress: Progress | None = None) -> Flow:
    """A flow with its graph."""
    return await asyncio.to_thread(flows.get, args.uid)


async def list_flow_operators(flows: FlowRegistry, args: NoArgs, progress: Progress | None = None) -> OperatorCatalogue:
    """The operators a node may use, with their inputs, outputs and parameters."""
    return operator_catalogue()


async def create_flow(flows: FlowRegistry, args: FlowIn, progress: Progress | None = None) -> Flow:
    """Check and save a new flow."""
    return await asyncio.to_thread(flows.create, args)


async def update_flow(flows: FlowRegistry, args: FlowUpdate, progress: Progress | None = None) -> Flow:
    """Check and replace a flow."""
    return await asyncio.to_thread(flows.update, args)


class RunFlowArgs(BaseModel):
    """Arguments of `run_flow`."""

    uid: FlowUid
    message: str = Field(min_length=1, max_length=100_000, description="The user's message the flow starts from.")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation.")


async def run_flow(service: ChatService, args: RunFlowArgs, progress: Progress | None = None) -> ChatResult:
    """Run a flow on a message (chat_flow)."""
    message = ChatArgs(question=args.message, chat_mode=ChatMode.chat_flow, chat_param=args.uid, conv_uid=args.conv_uid)
    return await chat(service, message, progress)


GRAPH_HELP = (
    "flow_data: {nodes: [{id, data: {name: <operator>, parameters: [{name, value}]}}], edges: [{source, "
    "source_order: <output index>, target, target_order: <input index>}]}; start from a user_input node, end in "
    "one node that outputs text (see list_flow_operators)."
)
FLOW_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="list_flows",
        title="List flows",
        description="List the flows (declarative pipelines: retrieve, query, format, prompt the LLM...), built-in "
        "ones (hello, simple_chat, simple_rag) first, with the operators each uses.",
        args_model=NoArgs,
        result_model=FlowList,
        uses=lambda runtime: runtime.flows,
        run=list_flows,
    ),
    Operation(
        name="get_flow",
        title="Get flow",
        description="Show a flow: its nodes (operator and parameters) and edges.",
        args_model=FlowRef,
        result_model=Flow,
        uses=lambda runtime: runtime.flows,
        run=get_flow,
    ),
    Operation(
        name="list_flow_operators",
        title="List flow operators",
        description="The operators a flow's nodes may use, with their typed inputs, outputs and parameters.",
        args_model=NoArgs,
        result_model=OperatorCatalogue,
        uses=lambda runtime: runtime.flows,
        run=list_flow_operators,
    ),
    Operation(
        name="run_flow",
        title="Run a flow",
        description="Run a flow on a message and return its answer (chat_flow). Pass conv_uid for a follow-up.",
        args_model=RunFlowArgs,
        result_model=ChatResult,
        uses=lambda runtime: runtime.chat,
        run=run_flow,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="create_flow",
        title="Create flow",
        description="Save a flow after checking its graph (a bad node is refused, named). " + GRAPH_HELP,
        args_model=FlowIn,
        result_model=Flow,
        uses=lambda runtime: runtime.flows,
        run=create_flow,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="update_flow",
        title="Update flow",
        description="Replace a saved flow (uid names it) after checking its graph. " + GRAPH_HELP,
        args_model=FlowUpdate,
        result_model=Flow,
        uses=lambda runtime: runtime.flows,
        run=update_flow,
        read_only=False,
    ),
)
