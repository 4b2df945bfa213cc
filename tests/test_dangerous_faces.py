"""The dangerous-SQL corpus through every face (REST, MCP, LangChain, the core op, chat_data): all refused,
each with the safety layer's reason, and the read-only database byte-for-byte unchanged afterwards.

The victim is a copy of the sample database registered read-only; its file stays writable on disk, so the
refusals come from our checks and the guarded engine, not from file permissions.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langchain_core.tools import BaseTool
from mcp import Client
from mcp.types import TextContent

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.errors import DbgptError, Forbidden
from dbgpt_tools.langchain import get_tools
from dbgpt_tools.operations.sql import RunSqlArgs, run_sql
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.safety import check_sql
from dbgpt_tools.sql.sample_db import ensure_sample_db
from server.app import create_app
from server.mcp import build_mcp_server
from tests.conftest import MODEL_DIR
from tests.scripted import ScriptedChatModel
from tests.sql.dangerous_sql import DANGEROUS, DangerousSql

VICTIM = "victim"
AUTH = {"Authorization": "Bearer test-key"}
CLEAR_REASON = re.compile(
    r"is not allowed on a read-only datasource|exactly one SQL statement|does not parse as sqlite"
)
# Entries refused as writes (Forbidden: no repair round in chat_data), each sent as an LLM's fenced answer.
CHAT_ENTRIES = (
    "drop-table",
    "delete-all",
    "update",
    "insert-values",
    "create-table",
    "attach",
    "pragma-writable-schema",
    "vacuum-into",
    "load-extension",
    "writefile",
    "cte-delete",
    "select-into",
)
TMP_TARGETS = sorted({Path(p) for e in DANGEROUS for p in re.findall(r"'(/tmp/[^']+)'", e.sql)})


@dataclass
class Victim:
    """A runtime with the read-only sample database registered as `victim`, in its own data dir."""

    runtime: Runtime
    data_dir: Path
    db_path: Path
    corpus: list[DangerousSql]

    def snapshot(self) -> dict[str, object]:
        """Everything that would show a change: per-table row checksums, DDL, pragmas, bytes, stat, files."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            ddl = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
            tables = {}
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
                rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
                tables[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
            pragmas = [conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("user_version", "schema_version")]
        finally:
            conn.close()
        stat = self.db_path.stat()
        return {
            "tables": tables,
            "ddl": ddl,
            "pragmas": pragmas,
            "sha256": hashlib.sha256(self.db_path.read_bytes()).hexdigest(),
            "stat": (stat.st_mtime_ns, stat.st_size),
            "files": sorted(str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*")),
            "tmp_targets": {str(p): _stat(p) for p in TMP_TARGETS},
        }


def _stat(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def reason(entry: DangerousSql) -> str:
    """The safety layer's refusal of `entry`, which every face must pass on unchanged."""
    with pytest.raises(DbgptError) as refusal:
        check_sql(entry.sql, "sqlite", writable=False)
    return refusal.value.message


def make_victim(root: Path, chat_model: ScriptedChatModel) -> Victim:
    data_dir = root / "data"
    with pytest.MonkeyPatch.context() as patch:  # module scope runs before the autouse env isolation
        for name in [n for n in os.environ if n.startswith("DBGPT_")]:
            patch.delenv(name)
        patch.setitem(Settings.model_config, "env_file", None)
        settings = Settings(
            data_dir=data_dir, model_dir=MODEL_DIR, local_model="smollm2-135m", api_keys="test-key", sample_db=False
        )
    runtime = Runtime(settings, chat_model=chat_model)
    db_path = ensure_sample_db(data_dir / "victim.sqlite")
    runtime.datasources.create({"db_name": VICTIM, "db_type": "sqlite", "db_path": str(db_path)})
    # Writes aimed inside the data dir, where a new file would be easy to miss.
    local = [
        DangerousSql("attach-data-dir", f"ATTACH DATABASE '{data_dir / 'stolen.db'}' AS s", ("sqlite",)),
        DangerousSql("vacuum-into-data-dir", f"VACUUM INTO '{data_dir / 'copy.db'}'", ("sqlite",)),
    ]
    corpus = [entry for entry in DANGEROUS if "sqlite" in entry.db_types] + local
    return Victim(runtime, data_dir.resolve(), db_path.resolve(), corpus)


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Victim]:
    v = make_victim(tmp_path_factory.mktemp("dangerous"), ScriptedChatModel.replying("unused"))
    v.runtime.sql.run_sql(VICTIM, "SELECT count(*) FROM customers")  # open the engine before the snapshot
    yield v
    v.runtime.close()


@pytest.fixture
def before(victim: Victim) -> dict[str, object]:
    return victim.snapshot()


def check_refusals(victim: Victim, before: dict[str, object], failures: list[str]) -> None:
    """No refusal went wrong, and the database and its directory are exactly as they were."""
    assert not failures, "\n".join(failures)
    assert victim.snapshot() == before


def test_corpus_is_refused_by_the_safety_layer(victim: Victim) -> None:
    assert len(victim.corpus) > 70
    unclear = [f"{e.id}: {reason(e)}" for e in victim.corpus if not CLEAR_REASON.search(reason(e))]
    assert not unclear, unclear


@pytest.mark.anyio
async def test_core_operation(victim: Victim, before: dict[str, object]) -> None:
    failures = []
    for entry in victim.corpus:
        try:
            result = await run_sql(victim.runtime.sql, RunSqlArgs(datasource=VICTIM, sql=entry.sql))
            failures.append(f"{entry.id}: ran, {result.row_count} rows")
        except DbgptError as refusal:
            if refusal.message != reason(entry) or refusal.status not in (400, 403):
                failures.append(f"{entry.id}: {refusal.status} {refusal.message}")
    check_refusals(victim, before, failures)


@pytest.fixture
async def api(victim: Victim) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(victim.runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as client:
            yield client


@pytest.mark.anyio
async def test_rest_query_endpoint(victim: Victim, api: httpx.AsyncClient, before: dict[str, object]) -> None:
    failures = []
    for entry in victim.corpus:
        response = await api.post(f"/api/v2/serve/datasources/{VICTIM}/query", json={"sql": entry.sql})
        body = response.json()
        expected = {
            "success": False,
            "err_code": "E0003" if response.status_code == 403 else "E0001",
            "err_msg": reason(entry),
            "data": None,
        }
        if response.status_code not in (400, 403) or body != expected:
            failures.append(f"{entry.id}: {response.status_code} {body}")
    check_refusals(victim, before, failures)


@pytest.mark.anyio
async def test_mcp_tool(victim: Victim, before: dict[str, object]) -> None:
    failures = []
    async with Client(build_mcp_server(victim.runtime)) as client:
        for entry in victim.corpus:
            result = await client.call_tool("run_sql", {"datasource": VICTIM, "sql": entry.sql})
            first = result.content[0] if result.content else None
            text = first.text if isinstance(first, TextContent) else ""
            if not result.is_error or reason(entry) not in text or result.structured_content:
                failures.append(f"{entry.id}: is_error={result.is_error} {text}")
    check_refusals(victim, before, failures)


def test_langchain_tool(victim: Victim, before: dict[str, object]) -> None:
    tool: BaseTool = next(t for t in get_tools(victim.runtime) if t.name == "run_sql")
    failures = []
    for number, entry in enumerate(victim.corpus):
        call = {
            "type": "tool_call",
            "id": f"call-{number}",
            "name": "run_sql",
            "args": {"datasource": VICTIM, "sql": entry.sql},
        }
        message = tool.invoke(call)
        if message.status != "error" or message.content != reason(entry) or message.artifact is not None:
            failures.append(f"{entry.id}: {message.status} {message.content}")
    check_refusals(victim, before, failures)


@pytest.mark.anyio
async def test_chat_data_does_not_run_a_generated_dangerous_query(tmp_path: Path) -> None:
    entries = [entry for entry in DANGEROUS if entry.id in CHAT_ENTRIES]
    assert len(entries) == len(CHAT_ENTRIES)
    replies = [f"I will do as asked.\n```sql\n{entry.sql}\n```" for entry in entries]
    model = ScriptedChatModel.replying(*replies)
    v = make_victim(tmp_path, model)
    try:
        before = v.snapshot()
        failures = []
        for entry in entries:
            calls = len(model.calls)
            answer = await v.runtime.chat.complete(
                ChatRequest(messages="delete all orders", chat_mode=ChatMode.chat_data, chat_param=VICTIM)
            )
            refusal = reason(entry)
            if f"The query was not run: {refusal}" not in answer.content or len(model.calls) != calls + 1:
                failures.append(f"{entry.id}: {answer.content!r}")
            with pytest.raises(Forbidden):  # chosen so that the refusal is final: no repair round
                check_sql(entry.sql, "sqlite", writable=False)
        check_refusals(v, before, failures)
    finally:
        v.runtime.close()
