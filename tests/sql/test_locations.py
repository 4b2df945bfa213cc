"""Where datasources may be: never one of dbgpt-tools' own files (however spelled), only files, only one host name
or IP address, and only on the allowed networks when they are set."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from dbgpt_tools.errors import Forbidden, InvalidInput
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import DatasourceIn
from dbgpt_tools.sql.locations import check_host, connect_address
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import engine_of


def register(runtime: Runtime, db_path: str, *, read_only: bool = True) -> None:
    runtime.datasources.create({"db_name": "probe", "db_type": "sqlite", "db_path": db_path, "read_only": read_only})


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime whose model directory is inside its data dir, as on a default install."""
    rt = Runtime(
        settings.model_copy(update={"model_dir": settings.data_dir / "models"}), chat_model=ScriptedChatModel.replying()
    )
    yield rt
    rt.close()


@pytest.fixture
def own(settings: Settings, runtime: Runtime) -> Path:
    """The data dir holding the runtime's metadata store (with a model file and a knowledge index beside it)."""
    data = settings.data_dir
    (data / "models").mkdir(exist_ok=True)
    sqlite3.connect(data / "models" / "fake.gguf").close()
    (data / "knowledge").mkdir(exist_ok=True)
    sqlite3.connect(data / "knowledge" / "index.sqlite").close()
    return data


@pytest.mark.parametrize(
    "spelling",
    [
        "metadata.db",
        "./metadata.db",
        "sub/../metadata.db",
        "{data}/metadata.db",
        "{data}/../data/metadata.db",
        "metadata.db-wal",
        "models/fake.gguf",
        "knowledge/index.sqlite",
        "link-to-store.db",  # a symlink
        "hard-link.db",  # a hard link: another name for the same file
    ],
)
@pytest.mark.parametrize("read_only", [True, False])
def test_our_own_files_never_open_as_a_datasource(runtime: Runtime, own: Path, spelling: str, read_only: bool) -> None:
    (own / "sub").mkdir(exist_ok=True)
    sqlite3.connect(own / "metadata.db-wal").close()
    if not (own / "link-to-store.db").exists():
        (own / "link-to-store.db").symlink_to(own / "metadata.db")
        os.link(own / "metadata.db", own / "hard-link.db")
    with pytest.raises(Forbidden) as refused:
        register(runtime, spelling.format(data=own), read_only=read_only)
    assert refused.value.field == "db_path" and "dbgpt-tools' own files" in refused.value.message
    assert runtime.datasources.list() == []


def test_a_link_made_after_registration_is_refused_when_it_is_used(runtime: Runtime, own: Path) -> None:
    sqlite3.connect(own / "mine.db").close()
    register(runtime, "mine.db")
    (own / "mine.db").unlink()
    (own / "mine.db").symlink_to(own / "metadata.db")  # swapped for our store behind the registry's back
    with pytest.raises(Forbidden):
        runtime.sql.run_sql("probe", "SELECT * FROM datasources")
    assert not runtime.connections.test("probe").ok


@pytest.mark.parametrize("db_path", [":memory:", "md:", "md:my_db", "file:x.db?mode=rwc", "x.db?mode=rwc", "a\x00b.db"])
def test_only_plain_files_are_database_paths(runtime: Runtime, db_path: str) -> None:
    before = sorted(path.name for path in runtime.settings.data_dir.iterdir())
    with pytest.raises(InvalidInput) as refused:
        register(runtime, db_path, read_only=False)
    assert refused.value.field == "db_path"
    assert sorted(path.name for path in runtime.settings.data_dir.iterdir()) == before  # nothing was created


def test_a_store_elsewhere_is_protected_too(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    outside.mkdir()
    store = settings.model_copy(update={"metadata_url": f"sqlite:///{outside / 'team.db'}", "db_roots": [outside]})
    runtime = Runtime(store, chat_model=ScriptedChatModel.replying())
    try:
        with pytest.raises(Forbidden):
            register(runtime, str(outside / "team.db"))
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("host", "kept"),
    [("db.example.com", "db.example.com"), ("10.1.2.3", "10.1.2.3"), ("::1", "::1"),
     ("my_db-1", "my_db-1"), ("localhost.", "localhost.")],
)  # fmt: skip
def test_a_host_is_one_name_or_address(host: str, kept: str) -> None:
    assert check_host(host) == kept


@pytest.mark.parametrize(
    "host",
    [
        "/var/run/postgresql",
        "/tmp",
        "h1,h2",
        "h1 h2",
        "bob@db",
        "db:5432",
        "db/x",
        "-db",
        "db.",
        "a" * 254,
        "é.example",
        "[::1]",
        "fe80::1%eth0",
        "db\n",
    ],
)
def test_socket_directories_lists_and_other_forms_are_refused(host: str) -> None:
    if host == "db.":
        assert check_host(host) == "db."  # a fully qualified name ends with a dot
        return
    with pytest.raises(ValidationError, match="db_host"):
        DatasourceIn(db_name="x", db_type="postgresql", db_host=host)


def test_the_allowed_networks_decide_and_the_checked_address_is_used(settings: Settings) -> None:
    anywhere = settings
    assert connect_address(anywhere, "localhost", 5432) == "localhost"  # no list: any host, as given
    limited = settings.model_copy(update={"datasource_networks": ["10.0.0.0/8", "db.internal"]})
    assert connect_address(limited, "10.20.30.40", 5432) == "10.20.30.40"
    with pytest.raises(Forbidden, match="not on the networks"):
        connect_address(limited, "127.0.0.1", 5432)
    with pytest.raises(Forbidden, match="not on the networks"):
        connect_address(limited, "localhost", 5432)  # a name is judged by its addresses
    loopback = settings.model_copy(update={"datasource_networks": ["127.0.0.0/8"]})
    assert connect_address(loopback, "localhost", 5432) == "127.0.0.1"  # the address that was checked
    named = settings.model_copy(update={"datasource_networks": ["localhost"]})
    assert connect_address(named, "localhost", 5432) in ("127.0.0.1", "::1")
    with pytest.raises(Forbidden, match="could not be resolved"):
        connect_address(limited, "no-such-host.invalid", 5432)


def test_registration_is_refused_off_the_allowed_networks(settings: Settings) -> None:
    limited = settings.model_copy(update={"datasource_networks": ["10.0.0.0/8"]})
    runtime = Runtime(limited, chat_model=ScriptedChatModel.replying())
    try:
        with pytest.raises(Forbidden) as refused:
            runtime.datasources.create({"db_name": "db", "db_type": "postgresql", "db_host": "127.0.0.1"})
        assert refused.value.status == 403 and refused.value.field == "db_host"
        assert runtime.datasources.list() == []
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '{store}' AS m (TYPE sqlite)",
        "SELECT * FROM sqlite_scan('{store}', 'datasources')",
        "SELECT * FROM read_blob('{store}')",
        "SELECT * FROM read_csv('{store}')",
    ],
)
def test_no_engine_reaches_our_store_from_inside(runtime: Runtime, own: Path, sql: str) -> None:
    duckdb.connect(str(own / "w.duckdb")).close()
    runtime.datasources.create({"db_name": "duck", "db_type": "duckdb", "db_path": "w.duckdb", "read_only": False})
    statement = sql.format(store=own / "metadata.db")
    with pytest.raises((Forbidden, InvalidInput)):  # the checker refuses it...
        runtime.sql.run_sql("duck", statement)
    with (
        pytest.raises(DBAPIError, match=r"(?i)disabled|permission|not allowed|external"),  # ...and so does the engine
        engine_of(runtime, "duck").connect() as conn,
    ):
        conn.exec_driver_sql(statement)
