"""Engines per datasource (cached, rebuilt after a change elsewhere) and connection tests."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, exc, text

from dbgpt_tools.errors import Upstream
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql import connection_test
from dbgpt_tools.sql.datasource_models import ConnectionStatus, DatasourceIn
from dbgpt_tools.sql.engine_config import EngineConfig
from dbgpt_tools.sql.engines import create_datasource_engine
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import SECRET, add_shop, engine_of, free_port


def test_engine_is_cached_and_rebuilt_after_an_update_elsewhere(
    runtime: Runtime, settings: Settings, shop: Path
) -> None:
    created = add_shop(runtime)
    engine = engine_of(runtime, "shop")
    assert engine_of(runtime, created.id) is engine
    other_process = Runtime(settings, chat_model=ScriptedChatModel.replying())
    try:
        other_process.datasources.update({**created.model_dump(), "read_only": False})
    finally:
        other_process.close()
    rebuilt = engine_of(runtime, "shop")
    assert rebuilt is not engine
    with rebuilt.begin() as conn:  # the new engine follows the new configuration: writable
        conn.execute(text("DELETE FROM items WHERE id = 25"))
    old_pool = rebuilt.pool
    runtime.datasources.delete(created.id)
    assert rebuilt.pool is not old_pool  # disposed


def test_engine_of_a_read_only_datasource_refuses_writes(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime)
    with pytest.raises(exc.DBAPIError), engine_of(runtime, "shop").connect() as conn:
        conn.execute(text("INSERT INTO items (id, name) VALUES (99, 'x')"))
        conn.commit()
    assert runtime.sql.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]


def test_test_connection_sqlite(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime)
    status = runtime.connections.test("shop")
    assert isinstance(status, ConnectionStatus)
    assert (status.ok, status.version, status.error, status.db_type) == (True, sqlite3.sqlite_version, None, "sqlite")
    unsaved = runtime.connections.test(DatasourceIn(db_name="draft", db_type="sqlite", db_path="shop.db"))
    assert unsaved.ok and runtime.datasources.list()[0].db_name == "shop" and len(runtime.datasources.list()) == 1


def test_mysql_closed_port_is_not_ok_and_fast(runtime: Runtime) -> None:
    runtime.datasources.create(
        {"db_name": "shopdb", "db_type": "mysql", "db_host": "127.0.0.1", "db_port": free_port(),
         "db_user": "bob", "db_pwd": SECRET}
    )  # fmt: skip
    started = time.monotonic()
    status = runtime.connections.test("shopdb")
    assert not status.ok and status.error and SECRET not in status.model_dump_json()
    assert time.monotonic() - started < 10  # refused at once, not the 5 s connect timeout twice over
    with pytest.raises(Upstream) as caught:
        runtime.sql.run_sql("shopdb", "SELECT 1")
    assert SECRET not in caught.value.message


def test_testing_an_unsaved_edit_uses_the_stored_password(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    created = runtime.datasources.create(
        {"db_name": "wh", "db_type": "mysql", "db_host": "127.0.0.1", "db_port": free_port(), "db_pwd": SECRET}
    )
    passwords: list[str] = []

    def recording(config: EngineConfig) -> Engine:
        passwords.append(config.password)
        return create_datasource_engine(config)

    monkeypatch.setattr(connection_test, "create_datasource_engine", recording)
    edited = DatasourceIn(**{**created.model_dump(), "comment": "edited"})
    assert edited.db_pwd == "******"
    assert not runtime.connections.test(edited).ok
    assert not runtime.connections.test(DatasourceIn(**{**created.model_dump(), "db_pwd": "typed"})).ok
    assert passwords == [SECRET, "typed"]


def test_an_unsaved_datasource_that_does_not_validate_is_not_ok(runtime: Runtime) -> None:
    with pytest.raises(ValidationError, match="unsupported db_type 'oracle'"):
        DatasourceIn(db_name="draft", db_type="oracle", db_host="h")  # refused before anything is tried
    escaped = runtime.connections.test(DatasourceIn(db_name="draft", db_type="sqlite", db_path="/etc/passwd"))
    assert not escaped.ok and "outside the allowed roots" in (escaped.error or "")
    assert runtime.datasources.list() == []


def test_a_deleted_datasource_gives_its_engine_back(runtime: Runtime, shop: Path) -> None:
    created = add_shop(runtime)
    engine = engine_of(runtime, created.id)
    with engine.connect():
        pass
    pool = engine.pool
    runtime.datasources.delete(created.id)
    assert engine.pool is not pool  # disposed: its connections are closed
    again = add_shop(runtime)
    assert engine_of(runtime, again.id) is not engine


def test_a_server_that_takes_the_connection_and_says_nothing_is_answered_in_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_test, "ANSWER_WITHIN", 1)  # the rule, not the default 7 s, is under test
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts (the kernel does) and never answers: a firewall, a dead service behind a proxy
    runtime = Runtime(settings, chat_model=ScriptedChatModel.replying())
    try:
        started = time.monotonic()
        unsaved = DatasourceIn(db_name="mute", db_type="mysql", db_host="127.0.0.1",
                               db_port=listener.getsockname()[1], db_user="u", db_pwd="s3cret-pw")  # fmt: skip
        status = runtime.connections.test(unsaved)
        assert time.monotonic() - started < 1 + 2
        assert not status.ok and status.error == "the server accepted the connection but did not answer within 1 s"
    finally:
        runtime.close()
        listener.close()
