"""Finding stored objects: by the reference a caller gives, an id (an int, or ASCII digits) or a name (exact, then
whatever its case). Names are never all digits, so the two cannot be confused; names taken whatever their case; and
by page."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dbgpt_tools.errors import Conflict, InvalidInput
from dbgpt_tools.json_types import MAX_ID

T = TypeVar("T")
MAX_PAGE_SIZE = 1000


def is_id(reference: str | int) -> bool:
    """Whether a reference is an id (an int, or ASCII digits) rather than a name."""
    return isinstance(reference, int) or (reference.isascii() and reference.strip().isdigit())


def as_id(value: int | str, field: str = "id") -> int:
    """An id given as an int or as ASCII digits (400 naming `field` otherwise)."""
    if is_id(value) and 1 <= int(value) <= MAX_ID:
        return int(value)
    raise InvalidInput(f"{field} must be an integer from 1 to {MAX_ID}, got {str(value)[:40]!r}", field=field)


def find(session: Session, model: type[T], name: InstrumentedAttribute[Any], reference: str | int) -> T | None:
    """The row of `model` with this id, or with this `name` (exact, else whatever its case)."""
    if is_id(reference):
        key = int(reference)
        return session.get(model, key) if 1 <= key <= MAX_ID else None
    exact = session.scalar(select(model).where(name == reference))
    return exact or session.scalar(select(model).where(func.lower(name) == str(reference).lower()))


def refuse_taken_name(
    session: Session,
    key: InstrumentedAttribute[Any],
    name: InstrumentedAttribute[Any],
    value: str,
    own: object,
    taken: Conflict,
) -> None:
    """Raise `taken` when a row other than `own` (its `key`) has the name `value`, whatever its case."""
    other = session.scalar(select(key).where(func.lower(name) == value.lower()))
    if other is not None and other != own:
        raise taken


def check_page(page: int, page_size: int) -> None:
    """Refuse a page number below 1 or a page size outside 1..MAX_PAGE_SIZE."""
    if page < 1:
        raise InvalidInput(f"page must be at least 1, got {page}", field="page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}", field="page_size")
