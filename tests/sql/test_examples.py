"""Question-SQL examples: taught through REST (checked by the safety gate and by running), shown to the model with
similar questions, learnt from an answer marked correct, bundled with the sample database, gone with their
datasource."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.bundled_examples import BUNDLED_EXAMPLES
from dbgpt_tools.sql.examples import ExampleIn
from tests.envelope import data
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
EXAMPLES = "/api/v2/serve/datasources/{}/examples"
TAUGHT = [
    ("How many customers live in Germany?", "SELECT COUNT(*) FROM customers WHERE country = 'Germany'"),
    ("What is the average order value in 2023?", "SELECT AVG(amount) FROM payments WHERE paid_at LIKE '2023%'"),
    ("Which supplier has the most products?", "SELECT supplier_id, COUNT(*) FROM products GROUP BY 1 ORDER BY 2 DESC"),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel.replying(*["```sql\nSELECT COUNT(*) AS n FROM customers\n```"] * 5)


@pytest.fixture
def runtime(settings: Settings, model: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model, embedder=embedder)
    yield rt
    rt.close()


async def test_pairs_are_checked_listed_and_deleted(api: httpx.AsyncClient, runtime: Runtime) -> None:
    url = EXAMPLES.format("sample_sales")
    added = data(await api.post(url, json={"question": TAUGHT[0][0], "sql": TAUGHT[0][1] + ";"}))
    assert added["question"] == TAUGHT[0][0] and added["sql"] == TAUGHT[0][1] and added["source"] == "user"
    sample_id = runtime.datasources.resolve("sample_sales").id
    assert [e["id"] for e in data(await api.get(EXAMPLES.format(sample_id)))["examples"]] == [added["id"]]
    failing = await api.post(url, json={"question": "q", "sql": "SELECT x FROM nowhere"})
    assert failing.status_code == 400 and "no such table: nowhere" in failing.json()["err_msg"]
    two = await api.post(url, json={"question": "q", "sql": "SELECT 1; SELECT 2"})
    assert two.status_code == 400 and "exactly one SQL statement" in two.json()["err_msg"]
    assert (await api.post(EXAMPLES.format("nope"), json={"question": "q", "sql": "SELECT 1"})).status_code == 404
    assert data(await api.delete(f"{url}/{added['id']}"))["id"] == added["id"]
    assert data(await api.get(url))["examples"] == []
    assert (await api.delete(f"{url}/{added['id']}")).status_code == 404


async def test_a_writable_datasource_still_only_learns_reads(api: httpx.AsyncClient, settings: Settings) -> None:
    path = settings.data_dir / "notes.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE notes (body TEXT)").connection.commit()
    source = {"db_name": "notes", "db_type": "sqlite", "db_path": str(path), "read_only": False}
    assert (await api.post("/api/v2/serve/datasources", json=source)).status_code == 200
    write = await api.post(
        EXAMPLES.format("notes"), json={"question": "Add a note", "sql": "INSERT INTO notes VALUES ('x')"}
    )
    assert write.status_code == 403 and "read-only" in write.json()["err_msg"]
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM notes").fetchone() == (0,)  # never ran


async def test_the_most_similar_pairs_go_to_the_model_with_the_question(
    runtime: Runtime, model: ScriptedChatModel
) -> None:
    for question, sql in TAUGHT:
        await runtime.examples.add("sample_sales", question_sql(question, sql))
    ask = ChatRequest(
        messages="How many customers are in France?", chat_mode=ChatMode.chat_data, chat_param="sample_sales"
    )
    await runtime.chat.complete(ask)
    texts = model.texts(-1)
    assert texts[1] == TAUGHT[0][0] and texts[2] == f"```sql\n{TAUGHT[0][1]}\n```"  # the closest pair comes first
    assert texts[-1] == "How many customers are in France?" and len(texts) == 1 + 2 * len(TAUGHT) + 1
    assert "customers" in texts[0]  # the system prompt (with the schema) is unchanged, first


async def test_an_answer_marked_correct_becomes_a_pair(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ask = {"model": "x", "messages": "How many customers do we have?", "chat_mode": "chat_data",
           "chat_param": "sample_sales"}  # fmt: skip
    answer = (await api.post("/api/v2/chat/completions", json=ask)).json()
    feedback = f"/api/v2/serve/conversations/{answer['id']}/feedback"
    assert data(await api.post(feedback, json={"correct": False}))["example"] is None
    learnt = data(await api.post(feedback, json={"correct": True}))["example"]
    assert learnt["question"] == "How many customers do we have?" and learnt["source"] == "feedback"
    assert learnt["sql"] == "SELECT COUNT(*) AS n FROM customers"
    missing = await api.post(feedback, json={"correct": True, "answer": 2})
    assert missing.status_code == 404 and "has 1 answers, not 2" in missing.json()["err_msg"]
    follow_up = {**ask, "messages": "And how many in France?", "conv_uid": answer["id"]}
    assert (await api.post("/api/v2/chat/completions", json=follow_up)).status_code == 200
    earlier = data(await api.post(feedback, json={"correct": True, "answer": 2}))["example"]
    assert earlier["question"] == "How many customers do we have?"  # counted back from the latest
    chat = (await api.post("/api/v2/chat/completions", json={"model": "x", "messages": "Hi"})).json()
    refused = await api.post(f"/api/v2/serve/conversations/{chat['id']}/feedback", json={"correct": True})
    assert refused.status_code == 409 and "ran no query" in refused.json()["err_msg"]
    assert (await api.post("/api/v2/serve/conversations/nope/feedback", json={"correct": True})).status_code == 404


def test_the_sample_databases_come_with_their_pairs_and_lose_them_with_them(runtime: Runtime) -> None:
    runtime.start_background()
    runtime.start_background()  # once only
    for name, bundled in BUNDLED_EXAMPLES.items():
        pairs = runtime.examples.list(name).examples
        assert [p.question for p in pairs] == [e.question for e in bundled]  # every one runs, none twice
        assert {p.source for p in pairs} == {"bundled"}
    sample_id = runtime.datasources.resolve("sample_sales").id
    runtime.datasources.delete(sample_id)
    assert runtime.examples.similar(sample_id, "revenue in 2021") == []


def question_sql(question: str, sql: str) -> ExampleIn:
    return ExampleIn(question=question, sql=sql)
