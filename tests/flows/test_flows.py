"""Flows: DB-GPT's flow routes in the envelope, graphs refused at save time naming the node at fault, and chat_flow
running the built-in and saved flows (streaming the final LLM node as it writes, branches, a failing node)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.errors import InvalidInput, NotFound
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.envelope import data
from tests.scripted import ScriptedChatModel, StallingModel
from tests.sse import check_chunks, parse_sse

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
FLOWS = "/api/v2/serve/awel/flows"
GUIDE = "# Ports\n\nThe server listens on port 5670.\n\n# Keys\n\nAPI keys travel as Bearer tokens."
Node = tuple[str, str, dict[str, Any]]
EdgeSpec = tuple[str, int, str, int]


def graph(nodes: list[Node], edges: list[EdgeSpec]) -> dict[str, Any]:
    """flow_data as DB-GPT's editor sends it (handles, not orders, on the edges)."""
    return {
        "nodes": [
            {
                "id": node_id,
                "width": 320,
                "height": 200,
                "position": {"x": 0, "y": 0, "zoom": 0},
                "position_absolute": {"x": 0, "y": 0, "zoom": 0},
                "type": "customNode",
                "data": {
                    "name": op,
                    "flow_type": "operator",
                    "label": op,
                    "parameters": [{"name": k, "value": v, "type_name": "str"} for k, v in params.items()],
                },
            }
            for node_id, op, params in nodes
        ],
        "edges": [
            {
                "id": f"e{i}",
                "source": s,
                "target": t,
                "source_handle": f"{s}|outputs|{so}",
                "target_handle": f"{t}|inputs|{to}",
            }
            for i, (s, so, t, to) in enumerate(edges)
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


RAG = graph(
    [("in", "user_input", {}), ("find", "retrieve", {"space": "docs", "top_k": "2"}), ("fmt", "format_chunks", {}),
     ("answer", "llm", {"template": "Context:\n{context}\nQ: {question}"})],
    [("in", 0, "find", 0), ("find", 0, "fmt", 0), ("in", 0, "answer", 0), ("fmt", 0, "answer", 1)],
)  # fmt: skip
CANNED = {"template": "Canned: {text}"}
BRANCHING = graph(
    [("in", "user_input", {}), ("if", "branch", {"contains": "SQL"}), ("canned", "format_text", CANNED),
     ("model", "llm", {}), ("out", "merge", {})],
    [("in", 0, "if", 0), ("if", 0, "canned", 0), ("if", 1, "model", 0), ("canned", 0, "out", 0),
     ("model", 0, "out", 1)],
)  # fmt: skip
DATA = graph(
    [("in", "user_input", {}), ("ask", "ask_datasource", {"datasource": "sample_sales"}),
     ("table", "format_rows", {"max_rows": 5}), ("say", "format_text", {"template": "{question}\n{text}"})],
    [("in", 0, "ask", 0), ("ask", 0, "table", 0), ("table", 0, "say", 0)],
)  # fmt: skip


def flow(name: str, flow_data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": name.title(), "description": "d", "flow_data": flow_data, **extra}


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel.replying(
        *["The answer is here.", "```sql\nSELECT COUNT(*) AS n, MIN(name) AS first FROM regions\n```"] * 5
    )


@pytest.fixture
def runtime(settings: Settings, model: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model, embedder=embedder)
    rt.knowledge.spaces.create({"name": "docs"})
    document = rt.knowledge.add_document("docs", "g.md", content=GUIDE)
    assert asyncio.run(rt.knowledge.wait(document.id)).status == "FINISHED"
    yield rt
    rt.close()


async def test_flows_have_dbgpt_shapes_and_clear_refusals(api: httpx.AsyncClient) -> None:
    listed = data(await api.get(FLOWS))
    assert [f["uid"] for f in listed["items"]] == ["hello", "simple_chat", "simple_rag"] and listed["total_count"] == 3
    created = data(await api.post(FLOWS, json=flow("my_rag", RAG, uid="rag-1")))
    assert created["uid"] == "rag-1" and created["state"] == "deployed" and created["editable"] is True
    nodes = {node["id"]: node for node in created["flow_data"]["nodes"]}
    retrieve = nodes["find"]["data"]
    assert retrieve["id"] == "operator_retrieve___$$___rag___$$___v1" and retrieve["category"] == "rag"
    assert {p["name"]: p["value"] for p in retrieve["parameters"]} == {"space": "docs", "top_k": 2}  # typed
    assert retrieve["inputs"][0]["type_name"] == "str" and retrieve["outputs"][0]["type_name"] == "Retrieval"
    assert [(e["source"], e["target_order"]) for e in created["flow_data"]["edges"]][-1] == ("fmt", 1)
    assert data(await api.get(f"{FLOWS}/rag-1")) == created
    assert [f["uid"] for f in data(await api.get(FLOWS, params={"name": "my_rag"}))["items"]] == ["rag-1"]
    assert [f["uid"] for f in data(await api.get(FLOWS, params={"page": 2, "page_size": 3}))["items"]] == ["rag-1"]
    assert (await api.post(FLOWS, json=flow("my_rag", RAG))).status_code == 409  # the name
    assert (await api.post(FLOWS, json=flow("MY_RAG", RAG))).status_code == 409  # whatever its case
    assert (await api.post(FLOWS, json=flow("other", RAG, uid="rag-1"))).status_code == 409  # the uid
    assert (await api.post(FLOWS, json=flow("mine", RAG, uid="hello"))).status_code == 409  # a built-in's uid
    updated = data(await api.put(f"{FLOWS}/rag-1", json={**created, "label": "Renamed"}))  # what it read, back
    assert updated["label"] == "Renamed" and updated["flow_data"] == created["flow_data"]
    mismatch = await api.put(f"{FLOWS}/rag-1", json={**created, "uid": "other"})
    assert mismatch.status_code == 400 and "uid" in mismatch.json()["err_msg"]
    assert (await api.put(f"{FLOWS}/hello", json=flow("hello", RAG))).status_code == 409
    assert (await api.delete(f"{FLOWS}/simple_chat")).status_code == 409
    assert (await api.put(f"{FLOWS}/missing", json=flow("x", RAG))).status_code == 404
    assert (await api.get(f"{FLOWS}/bad%20uid")).status_code == 400
    assert data(await api.delete(f"{FLOWS}/rag-1"))["uid"] == "rag-1"
    assert (await api.get(f"{FLOWS}/rag-1")).status_code == 404
    assert (await api.get(FLOWS, headers={"Authorization": "Bearer wrong"})).status_code == 401
    operators = data(await api.get("/api/v2/serve/awel/nodes"))
    assert {"user_input", "retrieve", "llm", "branch", "merge", "ask_datasource"} <= {o["name"] for o in operators}


def broken(kind: str) -> tuple[dict[str, Any], str]:
    """A graph with one fault, and the node (or edge) the refusal must name."""
    bad = copy.deepcopy(RAG)
    nodes, edges = bad["nodes"], bad["edges"]
    if kind == "cycle":
        return graph(
            [("in", "user_input", {}), ("a", "join_text", {}), ("b", "format_text", {}), ("c", "llm", {})],
            [("in", 0, "a", 0), ("a", 0, "b", 0), ("b", 0, "a", 1), ("b", 0, "c", 0)],
        ), "'a'"
    if kind == "unknown operator":
        nodes[2]["data"]["name"] = "summarise"
        return bad, "'fmt' uses the unknown operator 'summarise'"
    if kind == "type mismatch":
        edges[1]["source_handle"] = "in|outputs|0"
        edges[1]["source"] = "in"
        return bad, "'fmt' (format_chunks) input 'chunks' takes Retrieval, but node 'in' (user_input)"
    if kind == "missing parameter":
        nodes[1]["data"]["parameters"] = []
        return bad, "'find' (retrieve) is missing its required parameter 'space'"
    if kind == "mistyped parameter":
        nodes[1]["data"]["parameters"][1]["value"] = "many"
        return bad, "'find' parameter 'top_k' must be int"
    if kind == "dangling edge":
        edges[0]["target"] = "nowhere"
        return bad, "edge 'e0' is dangling: there is no node 'nowhere'"
    if kind == "unconnected input":
        del edges[2]
        return bad, "'answer' (llm) input 'question' is not connected"
    if kind == "two answers":
        nodes.append({**copy.deepcopy(nodes[2]), "id": "extra"})
        edges.append({"source": "find", "target": "extra", "source_handle": "find|outputs|0", "target_handle": "x|0"})
        return bad, "nodes whose output goes nowhere (answer, extra)"
    assert kind == "input fed twice"
    edges.append({"source": "in", "target": "answer", "source_handle": "in|outputs|0", "target_handle": "x|1"})
    return bad, "'answer' input 'context' is fed by 2 edges"


KINDS = [
    "cycle", "unknown operator", "type mismatch", "missing parameter", "mistyped parameter", "dangling edge",
    "unconnected input", "two answers", "input fed twice",
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
async def test_a_bad_graph_is_refused_naming_the_node_at_fault(api: httpx.AsyncClient, kind: str) -> None:
    flow_data, named = broken(kind)
    refused = await api.post(FLOWS, json=flow("bad", flow_data))
    assert refused.status_code == 400 and refused.json()["err_code"] == "E0001"
    assert named in refused.json()["err_msg"]
    created = data(await api.post(FLOWS, json=flow("good", RAG, uid="good")))
    updated = await api.put(f"{FLOWS}/good", json={**created, "flow_data": flow_data})
    assert updated.status_code == 400 and named in updated.json()["err_msg"]  # updates are checked the same way
    assert data(await api.get(f"{FLOWS}/good"))["flow_data"] == created["flow_data"]


async def test_chat_flow_runs_the_built_in_and_saved_flows(runtime: Runtime, model: ScriptedChatModel) -> None:
    ask = {"chat_mode": ChatMode.chat_flow}
    hello = await runtime.chat.complete(ChatRequest(messages="world", chat_param="hello", **ask))
    assert hello.content == "Hello, world!" and model.calls == []  # no model in this flow
    chat = await runtime.chat.complete(ChatRequest(messages="Hi there", chat_param="simple_chat", **ask))
    assert chat.content == "The answer is here." and model.texts(-1)[-1] == "Hi there"
    again = await runtime.chat.complete(
        ChatRequest(messages="And?", chat_param="simple_chat", conv_uid=chat.conv_uid, **ask)
    )
    assert model.texts(-1)[1:] == ["Hi there", "The answer is here.", "And?"] and again.conv_uid == chat.conv_uid
    runtime.flows.create(flow("rag", RAG, uid="rag"))
    await runtime.chat.complete(ChatRequest(messages="Which port?", chat_param="rag", **ask))
    prompt = model.texts(-1)[-1]
    assert (
        prompt.startswith("Context:\n[1] g.md, Ports\n# Ports\n\nThe server listens on port 5670.")
        and "Q: Which port?" in prompt
    )
    runtime.flows.create(flow("data", DATA, uid="data"))
    rows = await runtime.chat.complete(ChatRequest(messages="Regions?", chat_param="data", **ask))
    head, columns, rule, *table = rows.content.splitlines()
    assert head == "Regions?" and columns == "n | first" and rule == "--- | ---" and len(table) == 1


async def test_a_branch_runs_one_side_and_the_model_only_when_needed(
    runtime: Runtime, model: ScriptedChatModel
) -> None:
    runtime.flows.create(flow("branching", BRANCHING, uid="branching"))
    ask = {"chat_mode": ChatMode.chat_flow, "chat_param": "branching"}
    canned = await runtime.chat.complete(ChatRequest(messages="about sql", **ask))
    assert canned.content == "Canned: about sql" and model.calls == []
    answered = await runtime.chat.complete(ChatRequest(messages="about rivers", **ask))
    assert answered.content == "The answer is here." and model.texts(-1)[-1] == "about rivers"


async def test_the_final_llm_node_streams_as_the_model_writes(settings: Settings, embedder: LocalEmbedder) -> None:
    stalling = StallingModel(messages=iter([]))
    runtime = Runtime(settings, chat_model=stalling, embedder=embedder)
    try:
        runtime.flows.create(flow("branching", BRANCHING, uid="branching"))  # the answer passes through a merge
        for uid in ("simple_chat", "branching"):
            turn = await runtime.chat.start(ChatRequest(messages="Hi", chat_mode=ChatMode.chat_flow, chat_param=uid))
            chunks = turn.__aiter__()
            first = await chunks.__anext__()  # the model stalls after its first word: it can only arrive streamed
            assert first.delta == "Partial" and not stalling.cancelled.is_set()
            await chunks.aclose()
    finally:
        runtime.close()


async def test_a_failing_node_ends_the_answer_with_an_error_naming_it(api: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.flows.create(flow("rag", RAG, uid="rag"))
    runtime.knowledge.spaces.delete(runtime.knowledge.spaces.resolve("docs").id)
    ask = {"model": "x", "messages": "Which port?", "chat_mode": "chat_flow", "chat_param": "rag"}
    failed = await api.post("/api/v2/chat/completions", json=ask)
    assert failed.status_code == 404
    assert failed.json()["err_msg"] == "flow node 'find' (retrieve) failed: no knowledge space 'docs'"
    streamed = await api.post("/api/v2/chat/completions", json={**ask, "stream": True})
    last = parse_sse(streamed.text)[-1]
    assert streamed.status_code == 200 and "flow node 'find' (retrieve) failed" in last["error"]["message"]
    unknown = await api.post("/api/v2/chat/completions", json={**ask, "chat_param": "nope"})
    assert unknown.status_code == 404 and "no flow 'nope'" in unknown.json()["err_msg"]
    with pytest.raises(NotFound):
        await runtime.chat.start(ChatRequest(messages="x", chat_mode=ChatMode.chat_flow, chat_param="nope"))


async def test_texts_cannot_grow_without_bound(runtime: Runtime) -> None:
    doubling = graph(
        [("in", "user_input", {}), *((f"j{i}", "join_text", {"separator": ""}) for i in range(1, 5))],
        [edge for i in range(1, 5) for edge in ((f"j{i - 1}" if i > 1 else "in", 0, f"j{i}", 0),
                                                 (f"j{i - 1}" if i > 1 else "in", 0, f"j{i}", 1))],
    )  # fmt: skip
    runtime.flows.create(flow("doubling", doubling, uid="doubling"))
    ask = {"chat_mode": ChatMode.chat_flow, "chat_param": "doubling"}
    assert len((await runtime.chat.complete(ChatRequest(messages="ab", **ask))).content) == 32
    with pytest.raises(InvalidInput, match="flow node 'j4' \\(join_text\\) failed: its text grew past 1,000,000"):
        await runtime.chat.complete(ChatRequest(messages="x" * 100_000, **ask))
    repeating = graph(
        [("in", "user_input", {}), ("t", "format_text", {"template": "{text}" * 3000})], [("in", 0, "t", 0)]
    )
    runtime.flows.create(flow("repeating", repeating, uid="repeating"))
    with pytest.raises(InvalidInput, match="flow node 't' \\(format_text\\) failed: the template would make"):
        await runtime.chat.complete(
            ChatRequest(messages="x" * 1000, chat_mode=ChatMode.chat_flow, chat_param="repeating")
        )


async def test_chat_flow_streams_through_the_rest_face(api: httpx.AsyncClient) -> None:
    ask = {"model": "x", "messages": "Hi", "chat_mode": "chat_flow", "chat_param": "simple_chat", "stream": True}
    chunks = parse_sse((await api.post("/api/v2/chat/completions", json=ask)).text)
    assert check_chunks(chunks) == "The answer is here." and len(chunks) > 2
