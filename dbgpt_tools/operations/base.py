"""What an operation is: name, description, argument and result models, the service it uses and the core
function it runs with that service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from dbgpt_tools.runtime import Runtime

S = TypeVar("S")
A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class Progress(Protocol):
    """Progress of a long operation: work done so far, total if known, and a message."""

    async def __call__(self, done: float, total: float | None, message: str) -> None: ...


@dataclass(frozen=True)
class Operation(Generic[S, A, R]):
    """One operation: its name, description, input and output models, and the core function it runs on the
    service it uses (`uses` picks that service from the runtime).

    `returns_data`: the result carries rows or documents a program should keep whole (LangChain's tool
    artifact), apart from the text an agent reads.
    """

    name: str
    title: str
    description: str
    args_model: type[A]
    result_model: type[R]
    uses: Callable[[Runtime], S]
    run: Callable[[S, A, Progress | None], Awaitable[R]]
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    returns_data: bool = False

    async def invoke(self, runtime: Runtime, args: A, progress: Progress | None = None) -> R:
        """Run the operation on the runtime's service."""
        return await self.run(self.uses(runtime), args, progress)


AnyOperation = Operation[Any, Any, Any]


class NoArgs(BaseModel):
    """No arguments."""
