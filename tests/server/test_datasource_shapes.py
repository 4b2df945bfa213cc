"""Both of DB-GPT's datasource shapes on `/api/v2/serve/datasources`: the flat db_* fields and the web UI's
`{type, params, description}` in and out, the types the UI builds its form from, refresh, failed tests as 4xx."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.asgi import rest_client
from tests.server.recording import Recorder
from tests.server.test_datasources_api import BASE, SECRET, ok, refused

pytestmark = pytest.mark.anyio
FLAT_KEYS = {"id", "db_name", "db_type", "db_path", "db_host", "db_port", "db_user", "db_pwd", "comment", "read_only"}
BOTH_KEYS = FLAT_KEYS | {"type", "params", "description", "gmt_created", "gmt_modified"}
# The db types DB-GPT's web UI knows (webui.md, breakage 3): a type outside them breaks its pages.
UI_KNOWN_TYPES = {
    *("mysql", "oceanbase", "mssql", "duckdb", "sqlite", "clickhouse", "oracle", "access", "mongodb", "doris"),
    *("starrocks", "db2", "hbase", "redis", "cassandra", "couchbase", "omc", "postgresql", "gaussdb", "vertica"),
    *("spark", "hive", "maxcompute", "space", "tugraph", "neo4j"),
}


@pytest.fixture
async def api(runtime: Runtime, recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(runtime, event_hooks={"response": [recorder]}) as client:
        yield client


def sqlite_file(settings: Settings, name: str = "shop.sqlite") -> str:
    """A SQLite file in the data dir with one table, `items`."""
    path = settings.data_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    return str(path)


def server_body(**params: Any) -> dict[str, Any]:
    """A PostgreSQL datasource in the UI's shape (registering it does not connect)."""
    defaults = {"host": "127.0.0.1", "port": 5432, "user": "reader", "password": SECRET, "database": "shopdb"}
    return {"type": "postgresql", "params": {**defaults, **params}, "description": "remote shop"}


async def test_the_ui_shape_creates_a_file_datasource_answered_in_both_shapes(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    path = sqlite_file(settings)
    created = ok(await api.post(BASE, json={"type": "SQLite", "params": {"path": path}, "description": "toy shop"}))
    assert set(created) == BOTH_KEYS
    assert created["type"] == created["db_type"] == "sqlite"
    assert created["params"] == {"path": path} and created["db_path"] == path
    assert created["description"] == created["comment"] == "toy shop"
    assert created["db_name"] == "sqlite_shop"  # named as DB-GPT names it: type and file name
    assert created["read_only"] is True and created["gmt_created"] <= created["gmt_modified"]
    assert ok(await api.get(f"{BASE}/{created['id']}")) == created
    assert ok(await api.get(BASE)) == [created]
    duck = {"type": "duckdb", "db_name": "ducks", "params": {"path": "d.duckdb"}, "read_only": False}
    named = ok(await api.post(BASE, json=duck))
    assert (named["db_name"], named["params"], named["db_type"], named["read_only"]) == (
        "ducks",
        {"path": "d.duckdb"},
        "duckdb",
        False,
    )


async def test_the_ui_shape_maps_server_params_and_never_returns_the_password(
    api: httpx.AsyncClient, runtime: Runtime, recorder: Recorder
) -> None:
    created = ok(await api.post(BASE, json=server_body()))
    assert created["params"] == {
        "host": "127.0.0.1",
        "port": 5432,
        "user": "reader",
        "password": "******",
        "database": "shopdb",
    }
    assert (created["db_host"], created["db_port"], created["db_user"], created["db_name"]) == (
        "127.0.0.1",
        5432,
        "reader",
        "shopdb",
    )
    assert created["db_pwd"] == "******" and runtime.datasources.resolve("shopdb").db_pwd == SECRET
    flat = ok(await api.post(BASE, json={"db_name": "flatdb", "db_type": "mysql", "db_host": "127.0.0.1"}))
    assert flat["params"] == {"host": "127.0.0.1", "port": 0, "user": "", "password": "", "database": "flatdb"}
    assert flat["type"] == "mysql" and flat["description"] == ""
    ok(await api.get(BASE))
    recorder.assert_never_shows(SECRET)


async def test_a_ui_edit_keeps_the_name_writability_and_password_it_cannot_say(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    path = sqlite_file(settings)
    shop = ok(await api.post(BASE, json={"db_name": "shop", "db_type": "sqlite", "db_path": path, "read_only": False}))
    edited = ok(
        await api.put(BASE, json={"id": shop["id"], "type": "sqlite", "params": {"path": path}, "description": "x"})
    )
    assert (edited["db_name"], edited["read_only"], edited["comment"]) == ("shop", False, "x")

    server = ok(await api.post(BASE, json=server_body()))
    # The UI fills its form from params (the masked password included) and sends it back: the password is kept.
    ok(await api.put(BASE, json={"id": server["id"], **server_body(password="******", user="reader")}))
    assert runtime.datasources.resolve(server["id"]).db_pwd == SECRET
    moved = {"id": server["id"], **server_body(host="localhost", password="******")}
    refused(await api.put(BASE, json=moved), 400, "E0001", "send db_pwd again")
    assert runtime.datasources.resolve(server["id"]).db_host == "127.0.0.1"


async def test_port_0_and_the_default_port_are_one_destination_for_a_kept_password(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    created = ok(await api.post(BASE, json={**server_body(port=0)}))
    assert created["db_port"] == 0 and created["params"]["port"] == 0
    # The UI shows the type's default port (5432) for an unset one and sends it back with the masked password.
    ok(await api.put(BASE, json={"id": created["id"], **server_body(port=5432, password="******")}))
    row = runtime.datasources.resolve(created["id"])
    assert (row.db_port, row.db_pwd) == (5432, SECRET)


async def test_a_round_tripped_answer_takes_the_value_changed_in_either_shape(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    path, other = sqlite_file(settings), sqlite_file(settings, "other.sqlite")
    created = ok(await api.post(BASE, json={"db_name": "shop", "db_type": "sqlite", "db_path": path}))
    by_params = ok(await api.put(BASE, json={**created, "params": {"path": other}}))
    assert by_params["db_path"] == by_params["params"]["path"] == other
    by_flat = ok(await api.put(BASE, json={**by_params, "db_path": path, "comment": "flat"}))
    assert by_flat["params"]["path"] == path and by_flat["description"] == "flat"
    both = {**by_flat, "comment": "one", "description": "two"}
    refused(await api.put(BASE, json=both), 400, "E0001", "comment and description disagree")
    conflicting = {"type": "sqlite", "params": {"path": path}, "db_path": other, "db_name": "new"}
    refused(await api.post(BASE, json=conflicting), 400, "E0001", "db_path and params.path disagree")
    assert ok(await api.get(f"{BASE}/{created['id']}"))["comment"] == "flat"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"type": "sqlite", "params": {}}, ("params.path", "required")),
        ({"type": "postgresql", "params": {"database": "d"}}, ("params.host", "required")),
        ({"type": "postgresql", "params": {"host": "h"}}, ("params.database",)),
        ({"type": "mysql", "params": {"host": "h", "database": "d", "port": "x"}}, ("params.port", "integer")),
        ({"type": "mysql", "params": {"host": "h", "database": "d", "port": 70000}}, ("params.port",)),
        ({"type": "oracle", "params": {"host": "h"}}, ("type", "'oracle'", "sqlite, duckdb, postgresql, mysql")),
        ({"type": "sqlite", "params": "path=x"}, ("params", "dictionary")),
        ({"type": "sqlite", "params": {"path": "a.sqlite"}, "description": 5}, ("description",)),
        ({"type": "sqlite", "params": {"path": "a.sqlite"}, "id": "abc"}, ("id",)),
    ],
)
async def test_bad_ui_shaped_bodies_are_400_naming_the_ui_field(
    api: httpx.AsyncClient, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    message = refused(await api.post(BASE, json=body), 400, "E0001", *words)
    assert "db_path" not in message and "db_host" not in message
    assert ok(await api.get(BASE)) == []


async def test_an_update_of_an_unknown_id_in_the_ui_shape_is_404(api: httpx.AsyncClient, settings: Settings) -> None:
    body = {"id": 4242, "type": "sqlite", "params": {"path": sqlite_file(settings)}}
    refused(await api.put(BASE, json=body), 404, "E0003", "no datasource with id 4242")
    refused(await api.put(BASE, json={"type": "sqlite", "params": {"path": "a"}}), 400, "E0001", "id")


async def test_test_connection_takes_the_ui_shape_and_a_failure_is_a_4xx_that_saves_nothing(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    path = sqlite_file(settings)
    status = ok(await api.post(f"{BASE}/test-connection", json={"type": "sqlite", "params": {"path": path}}))
    assert status["ok"] is True and status["version"] and status["db_name"] == "sqlite_shop"
    missing = {"type": "sqlite", "params": {"path": "missing.sqlite"}, "description": ""}
    refused(await api.post(f"{BASE}/test-connection", json=missing), 400, "E1001", "connection test failed")
    nobody = server_body(host="127.0.0.1", port=1)
    refused(await api.post(f"{BASE}/test-connection", json=nobody), 400, "E1001", "cannot connect")
    refused(await api.post(f"{BASE}/test-connection", json={"type": "sqlite", "params": {}}), 400, "E0001", "path")
    outside = {"type": "sqlite", "params": {"path": "/etc/passwd"}}
    refused(await api.post(BASE, json=outside), 400, "E0001", "outside the allowed roots")
    assert ok(await api.get(BASE)) == []


async def test_datasource_types_describe_the_form_of_each_supported_type(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    types = ok(await api.get("/api/v2/serve/datasource-types"))["types"]
    assert [t["name"] for t in types] == ["sqlite", "duckdb", "postgresql", "mysql"]
    assert {t["name"] for t in types} <= UI_KNOWN_TYPES
    keys = {"param_name", "param_type", "required", "label", "description", "default_value", "valid_values"}
    keys |= {"ext_metadata", "nested_fields", "param_order"}
    for kind in types:
        assert kind["label"] and kind["description"]
        assert [p["param_order"] for p in kind["parameters"]] == list(range(len(kind["parameters"])))
        for param in kind["parameters"]:
            assert set(param) == keys and param["description"] and param["param_type"] in ("str", "int")
    by_name = {t["name"]: {p["param_name"]: p for p in t["parameters"]} for t in types}
    assert list(by_name["sqlite"]) == ["path"] and by_name["sqlite"]["path"]["required"] is True
    mysql = by_name["mysql"]
    assert list(mysql) == ["host", "port", "user", "password", "database"]
    assert mysql["port"]["param_type"] == "int" and mysql["port"]["default_value"] == 3306
    assert by_name["postgresql"]["port"]["default_value"] == 5432
    assert mysql["password"]["ext_metadata"] == {"tags": "privacy"} and mysql["host"]["ext_metadata"] == {}
    # The UI's form sends one value per param_name, defaults filled in: that body registers the datasource.
    form = {name: param["default_value"] for name, param in mysql.items()} | {"host": "127.0.0.1", "database": "m"}
    made = ok(await api.post(BASE, json={"type": "mysql", "params": form, "description": ""}))
    assert made["db_port"] == 3306 and made["db_name"] == "m"
    path = sqlite_file(settings)
    ok(await api.post(BASE, json={"type": "sqlite", "params": {"path": path}}))


async def test_refresh_forgets_the_kept_schema(api: httpx.AsyncClient, settings: Settings) -> None:
    path = sqlite_file(settings)
    created = ok(await api.post(BASE, json={"type": "sqlite", "params": {"path": path}}))
    schema = f"{BASE}/{created['id']}/schema"
    assert ok(await api.get(schema))["tables"] == ["items"]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.close()
    assert ok(await api.get(schema))["tables"] == ["items"]  # kept
    assert ok(await api.post(f"{BASE}/{created['id']}/refresh")) is True
    assert ok(await api.get(schema))["tables"] == ["items", "orders"]
    assert ok(await api.post(f"{BASE}/{created['db_name']}/refresh")) is True
    refused(await api.post(f"{BASE}/9999/refresh"), 404, "E0003", "9999")
    refused(await api.post(f"{BASE}/nowhere/refresh"), 404, "E0003", "nowhere")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v2/serve/datasource-types"), ("POST", f"{BASE}/1/refresh"), ("POST", f"{BASE}/test-connection")],
)
async def test_the_new_routes_need_the_key(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={}, headers={"Authorization": "Bearer wrong"})
    refused(response, 401, "401", "invalid API key")


async def test_the_new_routes_and_both_shapes_are_documented(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert set(spec["paths"]["/api/v2/serve/datasource-types"]) == {"get"}
    assert set(spec["paths"][f"{BASE}/{{datasource_id}}/refresh"]) == {"post"}
    body = spec["paths"][BASE]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    shapes = [ref["$ref"].rsplit("/", 1)[-1] for ref in schemas[body.rsplit("/", 1)[-1]]["anyOf"]]
    assert shapes == ["DatasourceIn", "DatasourceParamsIn"]
    assert {"type", "params", "description", "db_name", "db_pwd", "gmt_created"} <= set(
        schemas["DatasourceView"]["properties"]
    )
