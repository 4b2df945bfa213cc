"""What an operation is: name, description, argument and result models, and the core function it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.runtime import Runtime


class Progress(Protocol):
    """Progress of a long operation: work done so far, total if known, and a message."""

    async def __call__(self, done: float, total: float | None, message: str) -> None: ...


@dataclass(frozen=True)
class Operation:
    """One operation: its name, description, input and output models, and the core function it runs.

    `returns_data`: the result carries rows or documents a program should keep whole (LangChain's tool
    artifact), apart from the text an agent reads.
    """

    name: str
    title: str
    description: str
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    run: Callable[[Runtime, Any, Progress | None], Awaitable[BaseModel]]
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    returns_data: bool = False


def invalid_input(error: ValidationError) -> InvalidInput:
    """Pydantic's validation errors as one `InvalidInput` naming the first bad field."""
    problems = [(".".join(str(part) for part in e["loc"]), e["msg"]) for e in error.errors()]
    message = "; ".join(f"{field}: {msg}" if field else msg for field, msg in problems)
    return InvalidInput(message, field=problems[0][0] or None)  # a ValidationError holds at least one error


class NoArgs(BaseModel):
    """No arguments."""
