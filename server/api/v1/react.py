"""What DB-GPT's home page (its react agent) reads of an answer: its events, the markdown (rows as chart-view markup),
the citations of a space's chunks, and the payload an answer is kept as (`messages/history` gives it back, so a
reopened conversation shows its step and its sources)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from dbgpt_tools.chat.markup import render_artifact
from dbgpt_tools.chat.models import Artifact, ChatMode, QueryArtifact, ReferencesArtifact

STEP = "answer"
"""The id of the one step an answer is written in."""
EXCERPT_CHARS = 500


class Citation(BaseModel):
    """A source a home-page answer cites (DB-GPT's `AgentCitation`, version 2 field names)."""

    index: int
    id: str
    sourceName: str  # DB-GPT's wire name
    excerpt: str
    score: float | None = None
    path: str | None = None
    url: str | None = None


def citations_of(artifact: ReferencesArtifact, first: int) -> list[Citation]:
    """The chunks an answer was grounded in, as citations numbered from `first`."""
    return [
        Citation(
            index=first + number,
            id=chunk.chunk_id,
            sourceName=chunk.doc_name,
            excerpt=chunk.content[:EXCERPT_CHARS],
            score=chunk.score,
        )
        for number, chunk in enumerate(artifact.chunks)
    ]


class AnswerParts:
    """An answer as the home page shows it, built as it arrives: its markdown and its citations."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self.citations: list[Citation] = []

    def add(self, delta: str, artifact: Artifact | None) -> None:
        """Add a piece of text, and an artifact: rows follow the text as chart-view markup, a space's chunks
        become citations (the home page lists them itself, so no references markup)."""
        self._text.append(delta)
        if isinstance(artifact, QueryArtifact):
            self._text.append(render_artifact(artifact, markup=True))
        elif isinstance(artifact, ReferencesArtifact):
            self.citations += citations_of(artifact, len(self.citations) + 1)

    @property
    def markdown(self) -> str:
        return "".join(self._text)


def step_title(mode: ChatMode, param: str | None) -> str:
    """What an answer's step says it does."""
    if mode is ChatMode.chat_data:
        return f"Querying {param}" if param else "Querying the database"
    if mode is ChatMode.chat_knowledge:
        return f"Searching {param}" if param else "Searching the knowledge space"
    return "Writing the answer"


def kept_payload(content: str, artifacts: list[Artifact]) -> str:
    """A kept answer as DB-GPT keeps a react-agent turn (version 2): its markdown, citations and step."""
    answer = AnswerParts()
    answer.add(content, None)
    for artifact in artifacts:
        answer.add("", artifact)
    kinds = {type(artifact) for artifact in artifacts}
    mode = ChatMode.chat_data if QueryArtifact in kinds else ChatMode.chat_normal
    space = next((a.space for a in artifacts if isinstance(a, ReferencesArtifact)), None)
    if space is not None:
        mode = ChatMode.chat_knowledge
    step = {"id": STEP, "title": step_title(mode, space), "detail": "", "status": "done", "action": mode.value}
    payload = {
        "version": 2,
        "protocol_version": 2,
        "type": "react-agent",
        "final_content": answer.markdown,
        "citations": [citation.model_dump() for citation in answer.citations],
        "steps": [step],
        "task_plan": [],
        "generated_images": [],
        "sub_agents": [],
        "input_files": [],
    }
    return json.dumps(payload, ensure_ascii=False)


class AgentEvent(BaseModel):
    """One event of `/api/v1/chat/react-agent`: `step.start`, `step.chunk` (the answer's text as it is written),
    `step.done`, then `final` (the answer as markdown, chart-view included, and its citations) and `done`.
    Documentation only: `agent_events` writes them."""

    type: Literal["step.start", "step.chunk", "step.done", "final", "done"]
    id: str | None = None
    step: int | None = None
    title: str | None = None
    detail: str | None = None
    phase: str | None = None
    action: str | None = None
    output_type: Literal["text"] | None = None
    content: str | None = None
    status: Literal["done", "failed"] | None = None
    protocol_version: Literal[2] | None = None
    citations: list[Citation] | None = None


def agent_event(**fields: Any) -> bytes:
    """One home-page event."""
    return f"data: {json.dumps(fields, ensure_ascii=False)}\n\n".encode()


def final_events(content: str, citations: list[Citation]) -> list[bytes]:
    """The events that end a home-page turn (without them the UI waits forever)."""
    cited = [citation.model_dump() for citation in citations]
    return [
        agent_event(type="final", protocol_version=2, content=content, citations=cited),
        agent_event(type="done"),
    ]
