"""Reading an SSE chat stream strictly, as the official clients do."""

from __future__ import annotations

import json
from typing import Any


def parse_sse(body: str) -> list[dict[str, Any]]:
    """The JSON chunks of a chat stream; asserts the framing (`data: ` lines, blank-line separated, [DONE] last)."""
    events = [event for event in body.split("\n\n") if event and not event.startswith(":")]
    assert events, "empty stream"
    assert events[-1] == "data: [DONE]", f"stream must end with data: [DONE], got {events[-1]!r}"
    chunks = []
    for event in events[:-1]:
        assert event.startswith("data: "), f"not a data event: {event!r}"
        assert "\n" not in event, f"one line per event: {event!r}"
        chunks.append(json.loads(event[len("data: ") :]))
    return chunks


def check_chunks(chunks: list[dict[str, Any]]) -> str:
    """Assert what the OpenAI SDK and dbgpt-client insist on; return the concatenated text."""
    ids = {chunk["id"] for chunk in chunks}
    assert len(ids) == 1, f"one id per stream, got {ids}"
    text = []
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert isinstance(chunk["created"], int)
        choice = chunk["choices"][0]
        assert isinstance(choice["delta"]["content"], str)
        assert choice["finish_reason"] in (None, "stop", "length")
        assert "usage" not in chunk or isinstance(chunk["usage"], dict)
        text.append(choice["delta"]["content"])
    last = chunks[-1]
    assert "error" not in last, f"stream failed: {last['error']}"
    assert last["choices"][0]["finish_reason"] in ("stop", "length")
    assert set(last["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    return "".join(text)
