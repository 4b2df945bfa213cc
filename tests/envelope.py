"""Reading DB-GPT's result envelope in REST tests: the data of a success, the whole body of a refusal."""

from __future__ import annotations

from typing import Any

import httpx


def data(response: httpx.Response, status: int = 200) -> Any:
    """`data` of a 200 answer, or the envelope of a refusal with `status`; asserts the envelope's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is (status == 200) and set(body) == {"success", "err_code", "err_msg", "data"}
    return body["data"] if status == 200 else body
