"""What a flow operator is, declared once: its typed inputs, outputs and parameters, and how it runs. The same
declaration renders the node metadata DB-GPT's clients read, validates a flow's graph and runs its nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbgpt_tools.flows.runner import NodeCall


class PortType(StrEnum):
    """What travels along an edge; an edge joins an output to an input of the same type."""

    text = "str"
    chunks = "Retrieval"
    rows = "QueryResult"


TYPE_CLASSES = {
    PortType.text: "builtins.str",
    PortType.chunks: "dbgpt_tools.knowledge.models.Retrieval",
    PortType.rows: "dbgpt_tools.sql.results.QueryResult",
}


class Category(StrEnum):
    """DB-GPT's operator categories (the ones our operators use), with the labels its UI shows."""

    trigger = "trigger"
    llm = "llm"
    conversion = "conversion"
    common = "common"
    rag = "rag"
    database = "database"


CATEGORY_LABELS = {
    Category.trigger: "Trigger",
    Category.llm: "LLM",
    Category.conversion: "Conversion",
    Category.common: "Common",
    Category.rag: "RAG",
    Category.database: "Database",
}


@dataclass(frozen=True)
class Port:
    """An input or output of an operator. An optional input may stay unconnected (it is then empty text)."""

    name: str
    label: str
    type: PortType
    description: str
    optional: bool = False


@dataclass(frozen=True)
class Parameter:
    """A setting of a node, given in the flow (`value`); `kind` is its JSON type."""

    name: str
    label: str
    kind: type[str] | type[int] | type[bool]
    description: str
    default: Any = None
    optional: bool = True
    minimum: int | None = None
    maximum: int | None = None


Outputs = dict[str, Any]
"""A node's outputs by port name; a port left out is *skipped* (a branch not taken)."""
Run = Callable[["NodeCall"], Awaitable[Outputs]]
Stream = Callable[["NodeCall"], AsyncIterator[Any]]


@dataclass(frozen=True)
class Operator:
    """One operator: what it takes, gives and needs, and its function.

    `run` computes the outputs; `stream` instead yields the chat chunks of an answer (an LLM node), whose text is
    its one output; a `passes_through` operator has neither: the runner hands on its first input that was not
    skipped (so a streamed answer stays streamed through it).
    """

    name: str
    label: str
    description: str
    category: Category
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    run: Run | None = None
    stream: Stream | None = None
    passes_through: bool = False

    @property
    def metadata_id(self) -> str:
        """DB-GPT's operator id (`operator_{name}___$$___{category}___$$___v1`)."""
        return f"operator_{self.name}___$$___{self.category.value}___$$___v1"

    def parameter(self, name: str) -> Parameter | None:
        return next((parameter for parameter in self.parameters if parameter.name == name), None)
