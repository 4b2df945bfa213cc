"""Flows as callers send and receive them, in DB-GPT's `FlowPanel` form: `flow_data {nodes, edges, viewport}`,
each node carrying its operator's metadata (`data`), each edge joining an output (`source_order`) of one node to
an input (`target_order`) of another. Callers may send back everything they read; only the operator's `name`
and the parameters' `value`s of a node's `data` are read, the rest is rendered from the operator's declaration."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel, model_validator

from dbgpt_tools.json_types import drop_nulls, null_means_absent
from dbgpt_tools.knowledge.models import Page

FlowUid = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="A flow's uid: letters, digits and _ . - (a UUID when the client makes one).",
    ),
]
NodeId = Annotated[str, Field(min_length=1, max_length=160, pattern=r"^[^\x00-\x1f\x7f]+$")]
OneLine = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
MAX_NODES = 64
MAX_EDGES = 256
MAX_TEXT = 20_000
"""The longest parameter value (a prompt template)."""


class Position(BaseModel):
    """Where a node sits in the editor (kept as given)."""

    model_config = ConfigDict(extra="ignore")

    x: float = 0
    y: float = 0
    zoom: float = 0


class ParameterValue(BaseModel):
    """A node parameter as sent: its name and value (the rest of DB-GPT's parameter metadata is ignored)."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    value: JsonValue = None


class NodeDataIn(BaseModel):
    """A node's `data` as sent: which operator, and its parameters."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    name: Annotated[str, Field(min_length=1, max_length=64, description="The operator's name (GET .../awel/nodes).")]
    parameters: list[ParameterValue] = Field(default_factory=list, max_length=32)

    _nulls = model_validator(mode="before")(drop_nulls)


class NodeIn(BaseModel):
    """A node as sent."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    id: NodeId
    width: int = 320
    height: int = 200
    position: Position = Field(default_factory=Position)
    data: NodeDataIn

    _nulls = model_validator(mode="before")(drop_nulls)


class EdgeIn(BaseModel):
    """An edge as sent: output `source_order` of `source` feeds input `target_order` of `target`; the editor's
    handles (`...|1`) stand in for the orders when they are missing, as in DB-GPT."""

    model_config = ConfigDict(extra="ignore")

    id: OneLine | None = None
    source: NodeId
    source_order: Annotated[int, Field(ge=0, le=64)] = 0
    target: NodeId
    target_order: Annotated[int, Field(ge=0, le=64)] = 0

    @model_validator(mode="before")
    @classmethod
    def _orders_from_handles(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = drop_nulls(data)
        for end in ("source", "target"):
            handle = data.get(f"{end}_handle")
            if f"{end}_order" not in data and isinstance(handle, str) and handle.rsplit("|", 1)[-1].isdigit():
                data[f"{end}_order"] = int(handle.rsplit("|", 1)[-1])
        return data


class FlowDataIn(BaseModel):
    """A flow's graph as sent."""

    model_config = ConfigDict(extra="ignore")

    nodes: list[NodeIn] = Field(min_length=1, max_length=MAX_NODES)
    edges: list[EdgeIn] = Field(default_factory=list, max_length=MAX_EDGES)
    viewport: Position = Field(default_factory=Position)


class FlowIn(BaseModel):
    """A flow as callers create it (a `uid` is made when none is given; `label` defaults to the name)."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    uid: FlowUid | None = None
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]*[^\s][^\x00-\x1f\x7f]*$")]
    label: OneLine | None = None
    description: str = Field(default="", max_length=4096)
    flow_category: Literal["common", "chat_flow", "chat_agent"] = "chat_flow"
    flow_data: FlowDataIn
    user_name: OneLine | None = None
    sys_code: OneLine | None = None
    source: OneLine = "DBGPT-WEB"
    source_url: OneLine | None = None

    _nulls = model_validator(mode="before")(drop_nulls)


class FlowUpdate(FlowIn):
    """A flow as callers update it: its `uid` names it."""

    uid: FlowUid


class ParameterMetadata(BaseModel):
    """A parameter as DB-GPT's node metadata describes it, with the node's value."""

    type_name: str
    type_cls: str
    label: str
    name: str
    category: Literal["common"] = "common"
    optional: bool
    default: JsonValue = None
    description: str
    value: JsonValue = None


class PortMetadata(BaseModel):
    """An input or output as DB-GPT's node metadata describes it."""

    type_name: str
    type_cls: str
    label: str
    name: str
    description: str


class OperatorMetadata(BaseModel):
    """An operator as DB-GPT's clients read it (`ViewMetadata`): a node's `data`, or an entry of the node list."""

    label: str
    name: str
    description: str
    category: str
    category_label: str
    flow_type: Literal["operator"] = "operator"
    id: str
    version: str = "v1"
    operator_type: Literal["map", "input", "branch", "join", "streamify"]
    parameters: list[ParameterMetadata]
    inputs: list[PortMetadata]
    outputs: list[PortMetadata]


class FlowNode(BaseModel):
    """A node as served: its layout and its operator's metadata with the parameter values."""

    id: str
    width: int
    height: int
    position: Position
    position_absolute: Position
    type: str = "customNode"
    data: OperatorMetadata


class FlowEdge(BaseModel):
    """An edge as served."""

    id: str
    source: str
    source_order: int
    target: str
    target_order: int
    source_handle: str
    target_handle: str
    type: str = "buttonedge"


class FlowData(BaseModel):
    """A flow's graph as served."""

    nodes: list[FlowNode]
    edges: list[FlowEdge]
    viewport: Position


class Flow(BaseModel):
    """A flow, as DB-GPT's client reads it (`FlowPanel`)."""

    uid: str
    dag_id: str
    name: str
    label: str
    description: str
    flow_category: str
    flow_data: FlowData | None = Field(description="The graph (None when a stored flow no longer checks).")
    state: Literal["deployed", "load_failed"] = "deployed"
    error_message: str | None = None
    source: str
    source_url: str | None
    version: str = "0.1.1"
    define_type: Literal["json"] = "json"
    editable: bool
    user_name: str | None
    sys_code: str | None
    gmt_created: str
    gmt_modified: str


FlowPage = Page[Flow]


class FlowSummary(BaseModel):
    """A flow in short: what it is and the operators its nodes use, in run order."""

    uid: str
    name: str
    label: str
    description: str
    editable: bool
    state: str
    operators: list[str]


class FlowList(BaseModel):
    """The flows in short (built-in first)."""

    flows: list[FlowSummary]
    total_count: int


class OperatorCatalogue(BaseModel):
    """Every operator a flow's node may use, as DB-GPT's node metadata."""

    operators: list[OperatorMetadata]


class OperatorList(RootModel[list[OperatorMetadata]]):
    """Every operator, as DB-GPT's `/awel/nodes` lists them."""
