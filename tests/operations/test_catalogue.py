"""The catalogue MCP and LangChain are generated from: each operation declared once, runs on the service it names,
and its hints are honest (an operation marked read-only leaves the metadata store and the database unchanged)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from dbgpt_tools.errors import NotFound
from dbgpt_tools.evaluation.models import EvaluationRequest
from dbgpt_tools.operations import OPERATIONS
from dbgpt_tools.operations.base import AnyOperation, NoArgs
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
BY_NAME = {operation.name: operation for operation in OPERATIONS}


def test_each_operation_is_declared_once_with_typed_arguments_and_result() -> None:
    assert len(BY_NAME) == len(OPERATIONS)
    for operation in OPERATIONS:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", operation.name) and operation.title and operation.description
        assert issubclass(operation.args_model, BaseModel) and issubclass(operation.result_model, BaseModel)
        assert not (operation.read_only and operation.destructive), operation.name


def test_each_operation_runs_on_a_service_the_runtime_has(runtime: Runtime) -> None:
    services = {name: operation.uses(runtime) for name, operation in BY_NAME.items()}
    assert services["chat"] is runtime.chat and services["ask_data"] is runtime.chat
    assert services["run_sql"] is runtime.sql and services["describe_schema"] is runtime.schemas
    assert services["test_connection"] is runtime.connections
    assert services["get_conversation"] is runtime.conversations
    assert {services[name] for name in ("list_datasources", "create_datasource", "delete_datasource")} == {
        runtime.datasources
    }


def fingerprint(*paths: Path) -> str:
    """Every row of every table of these SQLite files (the metadata store and a datasource)."""
    digest = hashlib.sha256()
    for path in paths:
        conn = sqlite3.connect(path)
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")]
        for table in tables:
            digest.update(repr(conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()).encode())
        conn.close()
    return digest.hexdigest()


@pytest.fixture
def sample(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=ScriptedChatModel.replying("Hi"))
    yield runtime
    runtime.close()


async def test_read_only_operations_change_nothing(sample: Runtime, settings: Settings) -> None:
    first = await BY_NAME["chat"].invoke(sample, BY_NAME["chat"].args_model(question="Hello"))
    space = sample.knowledge.spaces.create({"name": "notes"})
    document = sample.knowledge.add_document(space.id, "a.txt", content="Orders ship from the north warehouse.")
    assert (await sample.knowledge.wait(document.id)).status == "FINISHED"
    sample.apps.create({"app_code": "notes_app", "app_name": "Notes"})
    recall = {"scene_key": "recall", "scene_value": "notes", "datasets": [{"query": "ships?", "doc_name": "a.txt"}]}
    first_run = (await sample.evaluation.run(EvaluationRequest.model_validate(recall))).run_id
    files = (settings.data_dir / "metadata.db", settings.data_dir / "sample_sales.sqlite")
    before = fingerprint(*files)
    calls = {
        "list_datasources": NoArgs(),
        "describe_schema": {"datasource": "sample_sales", "question": "orders per region"},
        "test_connection": {"datasource": "sample_sales"},
        "get_conversation": {"conv_uid": first.conv_uid},
        "list_spaces": NoArgs(),
        "document_status": {"document_id": document.id},
        "search_knowledge": {"space": "notes", "query": "where do orders ship from?"},
        "list_apps": NoArgs(),
        "get_app": {"app_code": "notes_app"},
        "list_flows": NoArgs(),
        "get_flow": {"uid": "simple_rag"},
        "list_flow_operators": NoArgs(),
        "list_sql_examples": {"datasource": "sample_sales"},
        "list_evaluation_runs": NoArgs(),
        "list_evaluation_datasets": NoArgs(),
        "compare_evaluation_runs": {"first": first_run, "second": first_run},
    }
    read_only = {operation.name for operation in OPERATIONS if operation.read_only}
    assert read_only == set(calls)
    for name, arguments in calls.items():
        operation: AnyOperation = BY_NAME[name]
        args = arguments if isinstance(arguments, BaseModel) else operation.args_model.model_validate(arguments)
        assert isinstance(await operation.invoke(sample, args), operation.result_model)
    assert fingerprint(*files) == before


async def test_describe_schema_names_unknown_tables_and_lists_names_alone(sample: Runtime) -> None:
    describe = BY_NAME["describe_schema"]
    names = await describe.invoke(sample, describe.args_model(datasource="sample_sales", tables=[]))
    assert "orders" in names.tables and names.schema_text == ""
    chosen = await describe.invoke(sample, describe.args_model(datasource="sample_sales", tables=[" Orders "]))
    assert chosen.schema_text.startswith("CREATE TABLE orders (")
    with pytest.raises(NotFound) as unknown:
        await describe.invoke(sample, describe.args_model(datasource="sample_sales", tables=["orders", "nope"]))
    assert unknown.value.field == "tables" and "no table nope" in unknown.value.message


async def test_delete_datasource_by_name_removes_only_the_registration(sample: Runtime, settings: Settings) -> None:
    delete = BY_NAME["delete_datasource"]
    removed = await delete.invoke(sample, delete.args_model(datasource="sample_sales"))
    assert removed.db_name == "sample_sales"
    assert [source.db_name for source in sample.datasources.list()] == ["sample_logistics"]
    assert (settings.data_dir / "sample_sales.sqlite").is_file()
    with pytest.raises(NotFound):
        await delete.invoke(sample, delete.args_model(datasource="sample_sales"))
