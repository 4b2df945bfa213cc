"""The datasource registry: CRUD with a masked password, validation naming the field, path confinement."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from dbgpt_tools.errors import Conflict, InvalidInput, NotFound
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import Datasource, DatasourceIn
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import SECRET, add_shop


def test_create_get_list_delete(runtime: Runtime, shop: Path) -> None:
    created = add_shop(runtime, comment="the shop")
    assert isinstance(created.id, int) and created.read_only is True and created.db_pwd == ""
    assert runtime.datasources.get(created.id) == created == Datasource.from_row(runtime.datasources.resolve("shop"))
    assert runtime.datasources.get(str(created.id)) == created  # path parameters arrive as strings
    assert runtime.datasources.list() == [created]
    assert runtime.datasources.delete(created.id) == created
    assert runtime.datasources.list() == []
    with pytest.raises(NotFound):
        runtime.datasources.get(created.id)
    with pytest.raises(NotFound):
        runtime.datasources.delete(created.id)


def test_password_is_stored_but_never_returned(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = runtime.datasources.create(
        {"db_name": "warehouse", "db_type": "postgresql", "db_host": "db.example", "db_user": "bob", "db_pwd": SECRET}
    )
    assert created.db_pwd == "******"
    for shown in (created, runtime.datasources.get(created.id), *runtime.datasources.list()):
        assert SECRET not in shown.model_dump_json()
    assert runtime.datasources.resolve("warehouse").db_pwd == SECRET
    assert SECRET not in caplog.text


def test_update_keeps_the_password_unless_a_new_one_is_sent(runtime: Runtime) -> None:
    created = runtime.datasources.create(
        {"db_name": "wh", "db_type": "mysql", "db_host": "h", "db_user": "bob", "db_pwd": SECRET}
    )
    for kept in ("******", "", None):
        updated = runtime.datasources.update({**created.model_dump(), "db_pwd": kept, "comment": f"kept {kept!r}"})
        assert updated.comment == f"kept {kept!r}" and updated.db_pwd == "******"
        assert runtime.datasources.resolve(created.id).db_pwd == SECRET
    runtime.datasources.update({**created.model_dump(), "db_pwd": "new-pw"})
    assert runtime.datasources.resolve("wh").db_pwd == "new-pw"


def test_conflict_not_found_and_bad_input(runtime: Runtime, shop: Path) -> None:
    first = add_shop(runtime)
    with pytest.raises(Conflict) as conflict:
        add_shop(runtime)
    assert conflict.value.status == 409 and "shop" in conflict.value.message
    other = runtime.datasources.create({"db_name": "other", "db_type": "sqlite", "db_path": "shop.db"})
    with pytest.raises(Conflict):
        runtime.datasources.update({**other.model_dump(), "db_name": "shop"})  # renaming onto an existing name
    with pytest.raises(NotFound) as missing:
        runtime.datasources.update({**first.model_dump(), "id": 999})
    assert missing.value.status == 404
    with pytest.raises(NotFound):
        runtime.datasources.resolve("nope")
    with pytest.raises(InvalidInput) as no_id:
        runtime.datasources.update({"db_name": "shop", "db_type": "sqlite", "db_path": "shop.db"})
    assert no_id.value.field == "id"
    with pytest.raises(InvalidInput) as not_int:
        runtime.datasources.get("abc")
    assert not_int.value.field == "id"


@pytest.mark.parametrize(
    ("payload", "field", "needle"),
    [
        ({"db_type": "sqlite", "db_path": "shop.db"}, "db_name", "db_name"),
        ({"db_name": "x", "db_path": "shop.db"}, "db_type", "db_type"),
        ({"db_name": None, "db_type": "sqlite"}, "db_name", "db_name"),
        ({"db_name": "x", "db_type": "oracle"}, "db_type", "sqlite, duckdb, postgresql, mysql"),
        ({"db_name": "x", "db_type": "postgresql"}, "db_host", "db_host"),
        ({"db_name": "x", "db_type": "sqlite"}, "db_path", "db_path"),
        ({"db_name": "x", "db_type": "sqlite", "db_path": "missing.db"}, "db_path", "does not exist"),
        ({"db_name": "x", "db_type": "mysql", "db_host": "h", "db_port": "many"}, "db_port", "db_port"),
    ],
)
def test_invalid_input_names_the_field(
    runtime: Runtime, shop: Path, payload: dict[str, object], field: str, needle: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        runtime.datasources.create(payload)
    assert caught.value.status == 400 and caught.value.field == field and needle in caught.value.message


def test_nulls_mean_absent_and_type_is_case_insensitive(runtime: Runtime, shop: Path) -> None:
    created = runtime.datasources.create(
        {"id": None, "db_name": "shop", "db_type": "SQLite", "db_path": "shop.db", "db_host": None, "db_port": None,
         "db_user": None, "db_pwd": None, "comment": None, "read_only": None}
    )  # fmt: skip
    assert (created.db_type, created.db_host, created.db_port, created.read_only) == ("sqlite", "", 0, True)


# --- Path confinement -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("db_path", ["../../etc/passwd", "/etc/passwd", "~/../../etc/hosts", "/tmp/../etc/x.db"])
def test_db_path_outside_the_roots_is_refused(runtime: Runtime, settings: Settings, db_path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        runtime.datasources.create({"db_name": "x", "db_type": "sqlite", "db_path": db_path, "read_only": False})
    assert caught.value.field == "db_path" and db_path in caught.value.message
    assert str(settings.allowed_db_roots[0]) in caught.value.message


def test_symlink_escaping_the_root_is_refused(runtime: Runtime, settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).close()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "link.db").symlink_to(outside)
    with pytest.raises(InvalidInput) as caught:
        runtime.datasources.create({"db_name": "x", "db_type": "sqlite", "db_path": "link.db"})
    assert caught.value.field == "db_path"


def test_configured_roots_are_allowed(settings: Settings, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    sqlite3.connect(extra / "e.db").close()
    runtime = Runtime(settings.model_copy(update={"db_roots": [extra]}), chat_model=ScriptedChatModel.replying())
    try:
        assert runtime.datasources.create({"db_name": "e", "db_type": "sqlite", "db_path": str(extra / "e.db")}).id
        assert runtime.sql.run_sql("e", "SELECT 1 AS one").rows == [(1,)]
    finally:
        runtime.close()


def test_a_file_removed_after_registration_is_reported(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime)
    shop.unlink()
    status = runtime.connections.test("shop")
    assert not status.ok and "does not exist" in (status.error or "")
    with pytest.raises(InvalidInput):
        runtime.sql.run_sql("shop", "SELECT 1")
    assert not shop.exists()  # a read-only datasource never creates its file


def test_check_validates_without_saving_and_the_stored_password_stays_inside(runtime: Runtime, shop: Path) -> None:
    checked = runtime.datasources.check(
        {"db_name": "draft", "db_type": "DuckDB", "db_path": "x.duckdb", "read_only": False}
    )
    assert checked.db_type == "duckdb" and runtime.datasources.list() == []  # validated, lower-cased, not stored
    with pytest.raises(InvalidInput) as missing:
        runtime.datasources.check({"db_name": "draft", "db_type": "duckdb", "db_path": "missing.duckdb"})
    assert missing.value.field == "db_path"  # a read-only datasource needs its file
    created = runtime.datasources.create(
        {"db_name": "wh", "db_type": "postgresql", "db_host": "db.example", "db_pwd": SECRET}
    )
    same = DatasourceIn(**{**created.model_dump(), "db_pwd": ""})
    assert runtime.datasources.stored_password(created.id, same) == SECRET
    assert runtime.datasources.stored_password(created.id + 1, same) == ""
    with pytest.raises(InvalidInput) as elsewhere:  # a stored password never goes to another host
        runtime.datasources.stored_password(created.id, same.model_copy(update={"db_host": "evil.example"}))
    assert elsewhere.value.field == "db_pwd"
    assert runtime.datasources.resolve(str(created.id)).db_name == "wh"  # a numeric string is an id
    with pytest.raises(NotFound):
        runtime.datasources.resolve(str(created.id + 1))
