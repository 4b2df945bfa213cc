"""The metadata store evolves by migrations: a store made by 0.1.0 (SQLite or PostgreSQL) is upgraded at start
and everything in it is still there; new stores match the models; several workers starting at once migrate once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dbgpt_tools.chat.models import ChatRequest, QueryArtifact
from dbgpt_tools.errors import Conflict
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.store import metadata as migrate
from dbgpt_tools.store.models import Base
from server.cli import main
from tests import markup
from tests.conftest import PG_URL, server_url
from tests.scripted import ScriptedChatModel
from tests.store import released_0_1_0 as released

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty metadata store: a SQLite file, or a new schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    server_url(PG_URL, "PostgreSQL")  # skips with the reason when the server is missing
    schema = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def released_store(url: str, settings: Settings) -> None:
    """Build and fill a 0.1.0 store at `url` (its sqlite datasource points at a file in the data dir)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shop = settings.data_dir / "shop.db"
    with sa.create_engine(f"sqlite:///{shop}").begin() as conn:
        conn.exec_driver_sql("CREATE TABLE regions (name TEXT)")
    engine = sa.create_engine(url)
    try:
        released.build(engine, str(shop))
    finally:
        engine.dispose()


def schema_differences(engine: sa.Engine) -> list[object]:
    """What Alembic's autogenerate would change to make the store match the models (nothing, when in step)."""
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect the index on lower(db_name), so autogenerate skips it there (PostgreSQL compares it)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_a_released_store_is_upgraded_at_start_and_keeps_everything(metadata_url: str, settings: Settings) -> None:
    released_store(metadata_url, settings)
    model = ScriptedChatModel.replying("Still here.")
    runtime = Runtime(settings.model_copy(update={"metadata_url": metadata_url}), chat_model=model)
    try:
        assert runtime.store.revision == migrate.head_revision() == migrate.current_revision(runtime.store.engine)
        assert schema_differences(runtime.store.engine) == []
        shop, warehouse = runtime.datasources.list()
        assert (shop.db_name, shop.comment, shop.read_only) == ("shop", "the shop", True)
        assert (warehouse.db_host, warehouse.db_port, warehouse.db_pwd, warehouse.read_only) == (
            "db.example",
            5432,
            "******",
            False,
        )
        assert runtime.datasources.resolve("warehouse").db_pwd == released.SECRET
        assert runtime.sql.run_sql("shop", "SELECT count(*) FROM regions").rows == [(0,)]
        history = runtime.conversations.history(released.CONVERSATION, 10)
        assert [(m.role, m.content) for m in history[:3]] == released.MESSAGES[:3]
        answer = history[3]
        assert answer.content == released.ANSWER_TEXT  # the markup left the text...
        [artifact] = answer.artifacts  # ...and became the answer's typed rows
        assert isinstance(artifact, QueryArtifact)
        assert artifact.chart_type == "response_pie_chart" and artifact.result.sql == released.SQL
        assert artifact.result.columns == ["region", "orders"]
        assert [list(row) for row in artifact.result.rows] == [["North", 12], ["South", 7]]
        follow_up = ChatRequest(messages="And now?", conv_uid=released.CONVERSATION)
        assert anyio.run(runtime.chat.complete, follow_up).content == "Still here."
        assert released.ANSWER_TEXT in [str(m.content) for m in model.calls[0]]  # old turns reach the model
        assert len(runtime.conversations.history(released.CONVERSATION, 10)) == 6
    finally:
        runtime.close()


def test_a_new_store_starts_at_the_newest_revision(metadata_url: str, settings: Settings) -> None:
    runtime = Runtime(
        settings.model_copy(update={"metadata_url": metadata_url}), chat_model=ScriptedChatModel.replying()
    )
    try:
        assert migrate.current_revision(runtime.store.engine) == migrate.head_revision()
        assert schema_differences(runtime.store.engine) == []
    finally:
        runtime.close()


def test_downgrade_renders_the_rows_back_and_upgrade_takes_them_out_again(settings: Settings, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    released_store(url, settings)
    engine = sa.create_engine(url)
    try:
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert migrate.downgrade(engine, released.RELEASED) == released.RELEASED
        with engine.connect() as conn:
            content = conn.execute(sa.text("SELECT content FROM messages ORDER BY id")).scalars().all()[-1]
            assert "artifacts" not in [c["name"] for c in sa.inspect(conn).get_columns("messages")]
        assert content.startswith(released.ANSWER_TEXT) and markup.chart_views(content) == [released.VIEW]
        assert migrate.upgrade(engine) == migrate.head_revision()
        with engine.connect() as conn:
            content = conn.execute(sa.text("SELECT content FROM messages ORDER BY id")).scalars().all()[-1]
        assert content == released.ANSWER_TEXT
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_the_store_once(metadata_url: str, settings: Settings) -> None:
    url = metadata_url
    released_store(url, settings)
    env = {**os.environ, "DBGPT_METADATA_URL": url, "DBGPT_DATA_DIR": str(settings.data_dir)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "server", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    assert [out.strip() for out, _ in outputs] == [migrate.head_revision()] * 3
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT content, CAST(artifacts AS TEXT) FROM messages ORDER BY id")).all()
        assert len(rows) == 4 and rows[-1][0] == released.ANSWER_TEXT
        assert '"response_pie_chart"' in rows[-1][1] and rows[-1][1].count('"kind"') == 1  # moved once
    finally:
        engine.dispose()


def test_db_commands_show_and_change_the_revision(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    released_store(url, settings)
    monkeypatch.setenv("DBGPT_METADATA_URL", url)
    head = migrate.head_revision()
    assert main(["db", "current"]) == 0 and capsys.readouterr().out == f"(none) (newest: {head})\n"
    assert main(["db", "upgrade"]) == 0 and capsys.readouterr().out == f"{head}\n"
    assert main(["db", "current"]) == 0 and capsys.readouterr().out == f"{head} (newest: {head})\n"
    assert main(["db", "downgrade", released.RELEASED]) == 0 and capsys.readouterr().out == f"{released.RELEASED}\n"


def test_names_that_clash_by_case_or_are_numbers_are_renamed_and_nothing_is_lost(
    metadata_url: str, settings: Settings
) -> None:
    released_store(metadata_url, settings)  # shop (1), warehouse (2)
    engine = sa.create_engine(metadata_url)
    names = ["Shop", "2", "db_2", "shop_3", "WAREHOUSE", "2024"]  # ids 3..8: 0.1.0 allowed all of these
    with engine.begin() as conn:
        for name in names:
            conn.execute(
                sa.text(
                    "INSERT INTO datasources (db_name, db_type, db_path, db_host, db_port, db_user, db_pwd, comment,"
                    " read_only, created_at, updated_at) VALUES (:name, 'sqlite', '', '', 0, '', '', :comment, true,"
                    " :at, :at)"
                ),
                {"name": name, "comment": name, "at": released.WHEN},
            )
    engine.dispose()
    runtime = Runtime(
        settings.model_copy(update={"metadata_url": metadata_url}), chat_model=ScriptedChatModel.replying()
    )
    try:
        renamed = {d.comment or d.db_name: d.db_name for d in runtime.datasources.list()}
        assert renamed == {
            "the shop": "shop",
            "warehouse": "warehouse",
            "Shop": "Shop_3_2",  # "Shop_3" would clash with "shop_3"
            "2": "db_2_4",  # "db_2" is another datasource's name
            "db_2": "db_2",
            "shop_3": "shop_3",
            "WAREHOUSE": "WAREHOUSE_7",
            "2024": "db_2024",
        }
        with pytest.raises(Conflict):
            runtime.datasources.create({"db_name": "SHOP", "db_type": "sqlite", "db_path": "shop.db"})
        assert (
            runtime.datasources.resolve("Shop_3_2").id == 3 and runtime.datasources.resolve("2").db_name == "warehouse"
        )
    finally:
        runtime.close()
