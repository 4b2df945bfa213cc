"""The built-in flows, after DB-GPT's AWEL trigger examples: `hello` (no model: greets the message back),
`simple_chat` (the message to the LLM) and `simple_rag` (retrieval from the sample knowledge space, then the LLM
answering from the excerpts). They are listed with the stored flows and cannot be changed or deleted."""

from __future__ import annotations

from typing import Any

from dbgpt_tools.flows.models import FlowDataIn, FlowIn
from dbgpt_tools.knowledge.sample_space import SAMPLE_SPACE_NAME

SOURCE = "dbgpt-tools"


def _graph(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, int, str, int]]) -> FlowDataIn:
    """A graph from (id, operator, parameters) nodes, laid out left to right, and (source, output, target, input)
    edges."""
    return FlowDataIn.model_validate(
        {
            "nodes": [
                {
                    "id": node_id,
                    "position": {"x": 400 * index, "y": 0},
                    "data": {"name": operator, "parameters": [{"name": k, "value": v} for k, v in params.items()]},
                }
                for index, (node_id, operator, params) in enumerate(nodes)
            ],
            "edges": [{"source": s, "source_order": so, "target": t, "target_order": to} for s, so, t, to in edges],
        }
    )


BUILTIN_FLOWS: dict[str, FlowIn] = {
    flow.uid or "": flow
    for flow in (
        FlowIn(
            uid="hello",
            name="hello",
            label="Hello",
            description="Greets the message back, without a model (DB-GPT's `hello` trigger example).",
            flow_data=_graph(
                [("input", "user_input", {}), ("greet", "format_text", {"template": "Hello, {text}!"})],
                [("input", 0, "greet", 0)],
            ),
        ),
        FlowIn(
            uid="simple_chat",
            name="simple_chat",
            label="Simple chat",
            description="The message to the LLM, with the conversation so far (DB-GPT's `simple_chat` example).",
            flow_data=_graph([("input", "user_input", {}), ("llm", "llm", {})], [("input", 0, "llm", 0)]),
        ),
        FlowIn(
            uid="simple_rag",
            name="simple_rag",
            label="Simple RAG",
            description=f"Retrieves from the {SAMPLE_SPACE_NAME} space and answers from the excerpts, citing them "
            "(DB-GPT's `simple_rag` example).",
            flow_data=_graph(
                [
                    ("input", "user_input", {}),
                    ("retrieve", "retrieve", {"space": SAMPLE_SPACE_NAME, "top_k": 4}),
                    ("excerpts", "format_chunks", {"empty": "(nothing relevant was found)"}),
                    (
                        "llm",
                        "llm",
                        {
                            "system": "Answer from the numbered excerpts only, citing them as [1], [2]. If they do not "
                            "hold the answer, say so instead of guessing.",
                            "template": "Excerpts:\n{context}\n\nQuestion: {question}",
                        },
                    ),
                ],
                [
                    ("input", 0, "retrieve", 0),
                    ("retrieve", 0, "excerpts", 0),
                    ("input", 0, "llm", 0),
                    ("excerpts", 0, "llm", 1),
                ],
            ),
        ),
    )
}
