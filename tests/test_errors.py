"""The error hierarchy the faces map, and the one validation helper every face uses."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from dbgpt_tools.errors import Busy, Conflict, DbgptError, Forbidden, InvalidInput, NotFound, Upstream, validated


class Order(BaseModel):
    quantity: int = Field(ge=1)
    note: str = Field(max_length=5)


def test_validated_names_every_bad_field_and_the_first_as_the_field() -> None:
    assert validated(Order, {"quantity": "3", "note": "ok"}) == Order(quantity=3, note="ok")
    with pytest.raises(InvalidInput) as refused:
        validated(Order, {"quantity": 0, "note": "far too long"})
    message = refused.value.message
    assert refused.value.field == "quantity" and refused.value.status == 400 and refused.value.code == "E0001"
    assert message.startswith("quantity: Input should be greater than or equal to 1") and "; note: " in message
    with pytest.raises(InvalidInput) as not_an_object:
        validated(Order, ["not", "an", "object"])
    assert not_an_object.value.field is None and "valid dictionary" in not_an_object.value.message


def test_each_kind_of_refusal_has_its_status_and_names_its_field() -> None:
    kinds: list[tuple[type[DbgptError], int]] = [
        (InvalidInput, 400), (Forbidden, 403), (NotFound, 404), (Conflict, 409), (Upstream, 502),
    ]  # fmt: skip
    for kind, status in kinds:
        error = kind("no such thing", field="db_name")
        assert error.status == status and error.message == "db_name: no such thing" and str(error) == error.message
    assert NotFound("db_name 'x' is unknown", field="db_name").message == "db_name 'x' is unknown"  # named once
    busy = Busy("the model is busy", retry_after=3)
    assert (busy.status, busy.retry_after) == (429, 3)
