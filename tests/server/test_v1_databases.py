"""DB-GPT's v1 datasource and SQL editor calls (`/api/v1/chat/db/*`, `/api/v1/editor/*`): shapes, status codes,
refusals, the SQL safety gate and the API key."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_NAME
from tests.asgi import rest_client
from tests.server.recording import Recorder
from tests.server.test_datasources_api import SECRET, ok, refused

pytestmark = pytest.mark.anyio
DB = "/api/v1/chat/db"
EDITOR = "/api/v1/editor"
V2 = "/api/v2/serve/datasources"


@pytest.fixture
async def api(sample_runtime: Runtime, recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(sample_runtime, event_hooks={"response": [recorder]}) as client:
        yield client


async def names(api: httpx.AsyncClient) -> list[str]:
    return [d["db_name"] for d in ok(await api.get(f"{DB}/list"))]


async def test_list_is_every_datasource_in_both_shapes_or_the_one_named(api: httpx.AsyncClient) -> None:
    listed = ok(await api.get(f"{DB}/list"))
    assert [d["db_name"] for d in listed] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]
    assert listed == ok(await api.get(V2))
    assert listed[0]["db_type"] == listed[0]["type"] == "sqlite" and listed[0]["params"]["path"].endswith(".sqlite")
    assert ok(await api.get(f"{DB}/list", params={"db_name": SAMPLE_DB_NAME.upper()})) == listed[:1]
    assert ok(await api.get(f"{DB}/list", params={"db_name": "nowhere"})) == []
    assert ok(await api.get(f"{DB}/list", params={"db_name": ""})) == listed
    refused(await api.get(f"{DB}/list", params={"page": 1}), 400, "E0001", "unknown query parameter 'page'")
    refused(await api.get(f"{DB}/list?db_name=a&db_name=b"), 400, "E0001", "at most once")


async def test_add_edit_delete_with_v1_db_config(api: httpx.AsyncClient, sample_runtime: Runtime, shop: str) -> None:
    config = {"db_type": "sqlite", "db_name": "shop", "file_path": shop, "comment": "toy", "db_host": None}
    assert ok(await api.post(f"{DB}/add", json=config)) is True
    [added] = ok(await api.get(f"{DB}/list", params={"db_name": "shop"}))
    assert (added["db_path"], added["comment"], added["read_only"]) == (shop, "toy", True)
    refused(await api.post(f"{DB}/add", json=config), 409, "E0003", "already exists")

    ok(await api.put(V2, json={**added, "read_only": False}))  # made writable through v2
    assert ok(await api.post(f"{DB}/edit", json={**config, "comment": "edited"})) is True
    [edited] = ok(await api.get(f"{DB}/list", params={"db_name": "shop"}))
    assert (edited["id"], edited["comment"], edited["read_only"]) == (added["id"], "edited", False)
    refused(await api.post(f"{DB}/edit", json={**config, "db_name": "nowhere"}), 404, "E0003", "nowhere")
    refused(await api.post(f"{DB}/edit", json={"db_type": "sqlite", "file_path": shop}), 400, "E0001", "id")

    assert ok(await api.post(f"{DB}/delete", params={"db_name": "shop"})) is True
    assert await names(api) == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]
    refused(await api.post(f"{DB}/delete", params={"db_name": "shop"}), 404, "E0003", "shop")
    refused(await api.post(f"{DB}/delete"), 400, "E0001", "db_name is required")


async def test_add_takes_either_v2_shape_too(api: httpx.AsyncClient, shop: str) -> None:
    assert ok(await api.post(f"{DB}/add", json={"type": "sqlite", "params": {"path": shop}})) is True
    assert ok(await api.post(f"{DB}/add", json={"db_type": "sqlite", "db_name": "flat", "db_path": shop})) is True
    assert await names(api) == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME, "sqlite_shop", "flat"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"db_type": "sqlite", "file_path": "x.sqlite"}, ("db_name", "Field required")),
        ({"db_type": "oracle", "db_name": "o", "db_host": "h"}, ("db_type", "'oracle'")),
        ({"db_type": "mysql", "db_name": "m"}, ("db_host", "required")),
        ({"db_type": "sqlite", "db_name": "a", "file_path": "a.sqlite", "db_path": "b.sqlite"}, ("disagree",)),
        ({"db_type": "sqlite", "db_name": "e", "file_path": "/etc/passwd"}, ("outside the allowed roots",)),
    ],
)
async def test_bad_db_configs_are_400_and_save_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    refused(await api.post(f"{DB}/add", json=body), 400, "E0001", *words)
    refused(await api.post(f"{DB}/add", content=b"[1]", headers={"Content-Type": "application/json"}), 400, "E0001")
    assert await names(api) == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_the_password_is_kept_and_never_returned(
    api: httpx.AsyncClient, sample_runtime: Runtime, recorder: Recorder
) -> None:
    config = {"db_type": "postgresql", "db_name": "pg", "db_host": "127.0.0.1", "db_user": "u", "db_pwd": SECRET}
    assert ok(await api.post(f"{DB}/add", json=config)) is True
    assert ok(await api.post(f"{DB}/edit", json={**config, "db_pwd": "", "comment": "c"})) is True
    assert sample_runtime.datasources.resolve("pg").db_pwd == SECRET
    [listed] = ok(await api.get(f"{DB}/list", params={"db_name": "pg"}))
    assert listed["db_pwd"] == listed["params"]["password"] == "******"
    recorder.assert_never_shows(SECRET)


async def test_test_connect_is_true_or_a_400_and_saves_nothing(api: httpx.AsyncClient, shop: str) -> None:
    config = {"db_type": "sqlite", "db_name": "t", "file_path": shop}
    assert ok(await api.post(f"{DB}/test/connect", json=config)) is True
    missing = {**config, "file_path": "missing.sqlite"}
    refused(await api.post(f"{DB}/test/connect", json=missing), 400, "E1001", "does not exist")
    nobody = {"db_type": "mysql", "db_name": "m", "db_host": "127.0.0.1", "db_port": 1}
    refused(await api.post(f"{DB}/test/connect", json=nobody), 400, "E1001", "cannot connect")
    refused(await api.post(f"{DB}/test/connect", json={"db_type": "sqlite"}), 400, "E0001", "db_name")
    assert await names(api) == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_summary_forgets_the_kept_schema(api: httpx.AsyncClient, shop: str) -> None:
    ok(await api.post(f"{DB}/add", json={"db_type": "sqlite", "db_name": "shop", "file_path": shop}))
    tables = f"{EDITOR}/db/tables"
    assert [t["title"] for t in ok(await api.get(tables, params={"db_name": "shop"}))["children"]] == ["items"]
    with sqlite3.connect(shop) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.close()
    assert len(ok(await api.get(tables, params={"db_name": "shop"}))["children"]) == 1  # kept
    assert ok(await api.post(f"{DB}/summary", params={"db_name": "shop", "db_type": "sqlite"})) is True
    assert [t["title"] for t in ok(await api.get(tables, params={"db_name": "shop"}))["children"]] == [
        "items",
        "orders",
    ]
    assert ok(await api.post(f"{DB}/summary", params={"db_name": "shop"})) is True
    refused(await api.post(f"{DB}/summary", params={"db_name": "shop", "db_type": "mysql"}), 400, "E0001", "sqlite")
    refused(await api.post(f"{DB}/summary", params={"db_name": "nowhere"}), 404, "E0003", "nowhere")
    refused(await api.post(f"{DB}/summary"), 400, "E0001", "db_name")


async def test_support_type_lists_the_supported_types(api: httpx.AsyncClient) -> None:
    assert ok(await api.get(f"{DB}/support/type")) == [
        {"db_type": "sqlite", "is_file_db": True},
        {"db_type": "duckdb", "is_file_db": True},
        {"db_type": "postgresql", "is_file_db": False},
        {"db_type": "mysql", "is_file_db": False},
    ]


async def test_editor_tables_is_the_tree_of_tables_and_columns(api: httpx.AsyncClient, shop: str) -> None:
    ok(await api.post(f"{DB}/add", json={"db_type": "sqlite", "db_name": "shop", "file_path": shop}))
    params = {"db_name": "shop", "db_type": "sqlite", "page_index": "1", "page_size": "100", "search_str": ""}
    tree = ok(await api.get(f"{EDITOR}/db/tables", params=params))
    column: dict[str, Any] = {"default_value": None, "comment": None, "children": []}
    assert tree == {
        "title": "shop",
        "key": "shop",
        "type": "db",
        "default_value": None,
        "can_null": "YES",
        "comment": None,
        "children": [
            {
                "title": "items",
                "key": "items",
                "type": "table",
                "default_value": None,
                "can_null": "YES",
                "comment": None,
                "children": [
                    {"title": "id", "key": "id", "type": "INTEGER", "can_null": "NO", **column},
                    {"title": "name", "key": "name", "type": "TEXT", "can_null": "NO", **column},
                ],
            }
        ],
    }


async def test_editor_tables_pages_and_filters_tables(api: httpx.AsyncClient) -> None:
    url = f"{EDITOR}/db/tables"
    every = [t["title"] for t in ok(await api.get(url, params={"db_name": SAMPLE_DB_NAME}))["children"]]
    assert len(every) > 3 and "orders" in every
    tree = ok(await api.get(url, params={"db_name": SAMPLE_DB_NAME}))["children"]
    assert {column["can_null"] for table in tree for column in table["children"]} == {"YES", "NO"}
    first = ok(await api.get(url, params={"db_name": SAMPLE_DB_NAME, "page_index": 1, "page_size": 2}))
    second = ok(await api.get(url, params={"db_name": SAMPLE_DB_NAME, "page_index": 2, "page_size": 2}))
    assert [t["title"] for t in first["children"] + second["children"]] == every[:4]
    found = ok(await api.get(url, params={"db_name": SAMPLE_DB_NAME, "search_str": "ORDER"}))["children"]
    assert [t["title"] for t in found] == [name for name in every if "order" in name] and found
    for bad in ({"page_size": "0"}, {"page_size": "1001"}, {"page_index": "x"}, {"page_index": "9" * 30}):
        name = next(iter(bad))
        refused(await api.get(url, params={"db_name": SAMPLE_DB_NAME, **bad}), 400, "E0001", name)
    refused(await api.get(url, params={"db_name": SAMPLE_DB_NAME, "sort": "x"}), 400, "E0001", "'sort'")
    refused(await api.get(url), 400, "E0001", "db_name is required")
    refused(await api.get(url, params={"db_name": "nowhere"}), 404, "E0003", "nowhere")


async def test_editor_sql_run_answers_dbgpt_s_shape_with_the_truncation(api: httpx.AsyncClient) -> None:
    run = f"{EDITOR}/sql/run"
    result = ok(await api.post(run, json={"db_name": SAMPLE_DB_NAME, "sql": "SELECT 1 AS one, 'a' AS two"}))
    assert set(result) == {"result_info", "run_cost", "colunms", "values", "truncated"}
    assert (result["colunms"], result["values"], result["result_info"], result["truncated"]) == (
        ["one", "two"],
        [[1, "a"]],
        "",
        False,
    )
    assert isinstance(result["run_cost"], float) and 0 <= result["run_cost"] < 60
    sql = "SELECT order_id FROM orders ORDER BY order_id"
    capped = ok(await api.post(run, json={"db_name": SAMPLE_DB_NAME, "sql": sql, "limit": 2}))
    assert capped["values"] == [[1], [2]] and capped["truncated"] is True and "2 rows" in capped["result_info"]


async def test_editor_sql_goes_through_the_safety_gate(
    api: httpx.AsyncClient, sample_runtime: Runtime, shop: str
) -> None:
    run = f"{EDITOR}/sql/run"
    write = {"db_name": SAMPLE_DB_NAME, "sql": "DELETE FROM orders"}
    refused(await api.post(run, json=write), 403, "E0003", "read-only datasource")
    two = {"db_name": SAMPLE_DB_NAME, "sql": "SELECT 1; DROP TABLE orders"}
    refused(await api.post(run, json=two), 400, "E0001", "exactly one SQL statement")
    refused(await api.post(run, json={"db_name": SAMPLE_DB_NAME, "sql": "SELECT nope FROM orders"}), 400, "E0001")
    refused(await api.post(run, json={"db_name": SAMPLE_DB_NAME}), 400, "E0001", "sql")
    refused(await api.post(run, json={"sql": "SELECT 1"}), 400, "E0001", "db_name")
    refused(await api.post(run, json={"db_name": "nowhere", "sql": "SELECT 1"}), 404, "E0003", "nowhere")
    refused(await api.post(run, json={"db_name": SAMPLE_DB_NAME, "sql": "SELECT 1", "limit": 0}), 400, "E0001")
    assert sample_runtime.sql.run_sql(SAMPLE_DB_NAME, "SELECT count(*) FROM orders").rows[0][0] > 0
    # A writable datasource takes writes (one statement still).
    ok(await api.post(V2, json={"db_type": "sqlite", "db_name": "shop", "db_path": shop, "read_only": False}))
    inserted = ok(await api.post(run, json={"db_name": "shop", "sql": "INSERT INTO items VALUES (6, 'item6')"}))
    assert inserted["colunms"] == ["rows_affected"] and inserted["values"] == [[1]]
    refused(await api.post(run, json={"db_name": "shop", "sql": "DELETE FROM items; DELETE FROM items"}), 400, "E0001")
    assert sample_runtime.sql.run_sql("shop", "SELECT count(*) FROM items").rows[0][0] == 6


ROUTES = [
    ("GET", f"{DB}/list"),
    ("POST", f"{DB}/add"),
    ("POST", f"{DB}/edit"),
    ("POST", f"{DB}/delete?db_name={SAMPLE_DB_NAME}"),
    ("POST", f"{DB}/test/connect"),
    ("POST", f"{DB}/summary?db_name={SAMPLE_DB_NAME}"),
    ("GET", f"{DB}/support/type"),
    ("GET", f"{EDITOR}/db/tables?db_name={SAMPLE_DB_NAME}"),
    ("POST", f"{EDITOR}/sql/run"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_the_key(
    api: httpx.AsyncClient, sample_runtime: Runtime, method: str, path: str
) -> None:
    body = {"db_name": SAMPLE_DB_NAME, "db_type": "sqlite", "sql": "SELECT 1"}
    for headers, reason in (({"Authorization": ""}, "missing"), ({"Authorization": "Bearer no"}, "invalid API key")):
        refused(await api.request(method, path, json=body, headers=headers), 401, "401", reason)
    assert [d.db_name for d in sample_runtime.datasources.list()] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_the_routes_are_documented(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for method, path in ROUTES:
        assert method.lower() in paths[path.split("?")[0]], path
    tables = {p["name"] for p in paths[f"{EDITOR}/db/tables"]["get"]["parameters"]}
    assert tables == {"db_name", "page_index", "page_size", "search_str", "db_type"}
