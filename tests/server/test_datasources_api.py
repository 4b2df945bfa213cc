"""The datasource REST routes through their real protocol (ASGI in process): envelope, ids, masking, refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_NAME
from server.app import create_app
from tests.server.recording import Recorder

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
BASE = "/api/v2/serve/datasources"
SECRET = "s3cret-Pa55-never-shown"
ENVELOPE_KEYS = {"success", "err_code", "err_msg", "data"}


@pytest.fixture
async def api(sample_runtime: Runtime, recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sample_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=AUTH, event_hooks={"response": [recorder]}
        ) as client:
            yield client


def ok(response: httpx.Response) -> Any:
    """The `data` of a successful envelope."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["success"] is True and body["err_code"] is None and body["err_msg"] is None
    return body["data"]


def refused(response: httpx.Response, status: int, code: str, *words: str) -> str:
    """The `err_msg` of a failed envelope with this status and code, checked to contain `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"success": False, "err_code": code, "err_msg": body["err_msg"], "data": None}
    for word in words:
        assert word in body["err_msg"]
    return str(body["err_msg"])


async def test_crud_round_trip_with_integer_ids_and_masked_password(
    api: httpx.AsyncClient, sample_runtime: Runtime, shop: str, recorder: Recorder
) -> None:
    created = ok(
        await api.post(
            BASE,
            json={
                "db_name": "shop",
                "db_type": "SQLite",
                "db_path": shop,
                "db_pwd": SECRET,
                "comment": "toy shop",
                "db_host": None,
            },
        )
    )
    assert isinstance(created["id"], int) and created["db_type"] == "sqlite" and created["db_pwd"] == "******"
    assert created["read_only"] is True and created["comment"] == "toy shop"
    ds_id = created["id"]

    assert ok(await api.get(f"{BASE}/{ds_id}")) == created
    listed = ok(await api.get(BASE))
    assert isinstance(listed, list) and [d["db_name"] for d in listed] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME, "shop"]
    assert listed[-1] == created

    # DB-GPT's client sends the object back with the masked password: the stored one is kept.
    updated = ok(await api.put(BASE, json={**created, "comment": "renamed"}))
    assert updated == {**created, "comment": "renamed", "description": "renamed", "gmt_modified": ANY}
    assert (
        updated["gmt_modified"] > created["gmt_modified"] == created["gmt_created"][:19] + created["gmt_modified"][19:]
    )
    assert sample_runtime.datasources.resolve(ds_id).db_pwd == SECRET
    ok(await api.put(BASE, json={**created, "db_pwd": "new-" + SECRET}))
    assert sample_runtime.datasources.resolve(ds_id).db_pwd == "new-" + SECRET

    assert ok(await api.get(f"{BASE}/{ds_id}/test-connection"))["ok"] is True
    deleted = ok(await api.delete(f"{BASE}/{ds_id}"))
    assert deleted["id"] == ds_id and deleted["db_pwd"] == "******"
    refused(await api.get(f"{BASE}/{ds_id}"), 404, "E0003", f"no datasource with id {ds_id}")
    assert [d["db_name"] for d in ok(await api.get(BASE))] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]
    recorder.assert_never_shows(SECRET)


async def test_duplicate_name_is_409_envelope(api: httpx.AsyncClient, shop: str) -> None:
    body = {"db_name": "shop", "db_type": "sqlite", "db_path": shop}
    ok(await api.post(BASE, json=body))
    refused(await api.post(BASE, json=body), 409, "E0003", "'shop' already exists")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_unknown_and_non_integer_ids(api: httpx.AsyncClient, method: str) -> None:
    refused(await api.request(method, f"{BASE}/9999"), 404, "E0003", "no datasource with id 9999")
    for bad in ("abc", "1.5", "-1"):
        refused(await api.request(method, f"{BASE}/{bad}"), 400, "E0001", "datasource_id", repr(bad))


async def test_update_needs_a_known_id(api: httpx.AsyncClient, shop: str) -> None:
    body = {"db_name": "shop", "db_type": "sqlite", "db_path": shop}
    refused(await api.put(BASE, json=body), 400, "E0001", "id: Field required")
    refused(await api.put(BASE, json={**body, "id": 4242}), 404, "E0003", "no datasource with id 4242")
    refused(await api.put(BASE, json={**body, "id": "x"}), 400, "E0001", "id")


async def test_unsupported_type_lists_the_supported_ones(api: httpx.AsyncClient) -> None:
    message = refused(await api.post(BASE, json={"db_name": "o", "db_type": "oracle", "db_host": "h"}), 400, "E0001")
    assert "db_type" in message and "'oracle'" in message
    assert all(name in message for name in ("sqlite", "duckdb", "postgresql", "mysql"))


@pytest.mark.parametrize("db_path", ["../../etc/passwd", "/etc/passwd", "~/../../etc/passwd"])
async def test_db_path_outside_the_data_dir_is_400(api: httpx.AsyncClient, db_path: str) -> None:
    body = {"db_name": "evil", "db_type": "sqlite", "db_path": db_path}
    refused(await api.post(BASE, json=body), 400, "E0001", "db_path", "outside the allowed roots")
    refused(await api.post(f"{BASE}/test-connection", json=body), 400, "E1001", "outside the allowed roots")
    assert [d["db_name"] for d in ok(await api.get(BASE))] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_bad_bodies_are_400_naming_the_field(api: httpx.AsyncClient) -> None:
    refused(await api.post(BASE, content=b"{nope", headers={"Content-Type": "application/json"}), 400, "E0001", "body")
    refused(await api.post(BASE, json={"db_type": "sqlite"}), 400, "E0001", "db_name")
    refused(await api.post(BASE, json={"db_name": "x", "db_type": "mysql"}), 400, "E0001", "db_host")
    refused(
        await api.post(BASE, json={"db_name": "x", "db_type": "mysql", "db_host": "h", "db_port": 70000}),
        400,
        "E0001",
        "db_port",
    )


ROUTES = [
    ("GET", BASE),
    ("POST", BASE),
    ("PUT", BASE),
    ("GET", f"{BASE}/1"),
    ("DELETE", f"{BASE}/1"),
    ("POST", f"{BASE}/test-connection"),
    ("GET", f"{BASE}/1/test-connection"),
    ("POST", f"{BASE}/1/query"),
    ("GET", f"{BASE}/1/schema"),
]


async def test_every_route_needs_the_key(api: httpx.AsyncClient, sample_runtime: Runtime) -> None:
    for method, path in ROUTES:
        for headers, reason in (
            ({"Authorization": ""}, "missing API key"),
            ({"Authorization": "Bearer no"}, "invalid"),
        ):
            response = await api.request(method, path, json={"sql": "SELECT 1", "db_name": "x"}, headers=headers)
            refused(response, 401, "401", reason)
    assert [d.db_name for d in sample_runtime.datasources.list()] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_query_by_name_and_id_with_limit_and_truncation(api: httpx.AsyncClient) -> None:
    sample_id = ok(await api.get(BASE))[0]["id"]
    sql = "SELECT order_id, status FROM orders ORDER BY order_id"
    by_name = ok(await api.post(f"{BASE}/{SAMPLE_DB_NAME}/query", json={"sql": sql, "limit": 3}))
    assert by_name["columns"] == ["order_id", "status"]
    assert [row[0] for row in by_name["rows"]] == [1, 2, 3]
    assert by_name["row_count"] == 3 and by_name["truncated"] is True and by_name["limit_applied"] == 3
    by_id = ok(await api.post(f"{BASE}/{sample_id}/query", json={"sql": sql + ";", "limit": None}))
    assert by_id["rows"][:3] == by_name["rows"] and by_id["sql"] == sql
    assert by_id["limit_applied"] == 1000 and by_id["truncated"] is True
    small = ok(await api.post(f"{BASE}/{sample_id}/query", json={"sql": "SELECT count(*) AS n FROM regions"}))
    assert small["truncated"] is False and small["rows"][0][0] > 0


async def test_query_refusals(api: httpx.AsyncClient, sample_runtime: Runtime) -> None:
    url = f"{BASE}/{SAMPLE_DB_NAME}/query"
    refused(await api.post(url, json={"sql": "DELETE FROM orders"}), 403, "E0003", "read-only datasource")
    refused(await api.post(url, json={"sql": "SELECT 1; DROP TABLE orders"}), 400, "E0001", "exactly one SQL statement")
    refused(await api.post(url, json={}), 400, "E0001", "sql")
    refused(await api.post(url, json={"sql": ""}), 400, "E0001", "sql")
    refused(await api.post(url, json={"sql": "SELECT 1", "limit": 0}), 400, "E0001", "limit")
    refused(await api.post(url, json={"sql": "SELECT 1", "limit": 10**9}), 400, "E0001", "limit", "maximum")
    refused(await api.post(url, json={"sql": "SELECT nope FROM orders"}), 400, "E0001", "nope")
    refused(await api.post(f"{BASE}/no_such_db/query", json={"sql": "SELECT 1"}), 404, "E0003", "no_such_db")
    assert sample_runtime.sql.run_sql(SAMPLE_DB_NAME, "SELECT count(*) FROM orders").rows[0][0] > 0


async def test_schema_whole_ranked_and_refused(api: httpx.AsyncClient) -> None:
    whole = ok(await api.get(f"{BASE}/{SAMPLE_DB_NAME}/schema"))
    assert whole["datasource"] == SAMPLE_DB_NAME and whole["dialect"] == "sqlite"
    assert {"orders", "customers", "products"} <= set(whole["tables"])
    assert "CREATE TABLE orders" in whole["schema_text"]
    ranked = ok(
        await api.get(
            f"{BASE}/{SAMPLE_DB_NAME}/schema",
            params={"question": "Which payment methods are used?", "max_tokens": "300"},
        )
    )
    assert ranked["tables"] == whole["tables"]
    assert "payments" in ranked["schema_text"] and len(ranked["schema_text"]) < len(whole["schema_text"])
    for bad in ("5", "many"):
        refused(
            await api.get(f"{BASE}/{SAMPLE_DB_NAME}/schema", params={"max_tokens": bad}), 400, "E0001", "max_tokens"
        )
    refused(await api.get(f"{BASE}/nowhere/schema"), 404, "E0003", "nowhere")


async def test_test_connection_without_saving(api: httpx.AsyncClient, shop: str) -> None:
    status = ok(await api.post(f"{BASE}/test-connection", json={"db_name": "t", "db_type": "sqlite", "db_path": shop}))
    assert status["ok"] is True and status["version"] and status["db_name"] == "t"
    missing = {"db_name": "t", "db_type": "sqlite", "db_path": "missing.sqlite"}
    refused(await api.post(f"{BASE}/test-connection", json=missing), 400, "E1001", "failed", "does not exist")
    by_name = ok(await api.get(f"{BASE}/{SAMPLE_DB_NAME}/test-connection"))
    assert by_name["ok"] is True and by_name["db_type"] == "sqlite"
    refused(await api.get(f"{BASE}/nowhere/test-connection"), 404, "E0003", "nowhere")
    assert [d["db_name"] for d in ok(await api.get(BASE))] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]


async def test_routes_are_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths[BASE]) == {"get", "post", "put"}
    assert set(paths[f"{BASE}/{{datasource_id}}"]) == {"get", "delete"}
    assert set(paths[f"{BASE}/{{datasource_id}}/query"]) == {"post"}
    assert "extension" in paths[f"{BASE}/{{datasource_id}}/schema"]["get"]["summary"]
    assert set(spec["components"]["schemas"]["SqlStatement"]["properties"]) == {"sql", "limit"}
    data = paths[BASE]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert spec["components"]["schemas"][data["$ref"].rsplit("/", 1)[-1]]["type"] == "array"
    # every path parameter is declared, with what the route accepts
    for path, methods in paths.items():
        for operation in methods.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
    by_id = paths[f"{BASE}/{{datasource_id}}"]["get"]["parameters"][0]["schema"]
    assert (by_id["type"], by_id["minimum"], by_id["maximum"]) == ("integer", 1, 2**63 - 1)
    schema_route = {p["name"]: p for p in paths[f"{BASE}/{{datasource_id}}/schema"]["get"]["parameters"]}
    assert set(schema_route) == {"datasource_id", "question", "max_tokens"}
    assert paths[BASE]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("Update")
    new = spec["components"]["schemas"]["DatasourceIn"]
    assert new["properties"]["db_type"]["enum"] == ["sqlite", "duckdb", "postgresql", "mysql"]
    assert [rule["then"]["required"] for rule in new["allOf"]] == [["db_path"], ["db_host"]]
    assert set(paths[f"{BASE}/{{datasource_id}}/query"]["post"]["responses"]) == {"200", "4XX", "502", "504"}


async def test_the_schema_route_takes_each_known_parameter_once(api: httpx.AsyncClient) -> None:
    route = f"{BASE}/{SAMPLE_DB_NAME}/schema"
    assert ok(await api.get(route, params={"max_tokens": 200}))["datasource"] == SAMPLE_DB_NAME
    refused(await api.get(f"{route}?max_tokens=200&max_tokens=300"), 400, "E0001", "max_tokens", "at most once")
    refused(await api.get(route, params={"page": 2}), 400, "E0001", "unknown query parameter 'page'")


async def test_integers_are_read_as_json_schema_reads_them(api: httpx.AsyncClient) -> None:
    route = f"{BASE}/{SAMPLE_DB_NAME}/query"
    assert ok(await api.post(route, json={"sql": "SELECT 1", "limit": 5.0}))["limit_applied"] == 5
    for bad in (True, "5", 5.5):
        refused(await api.post(route, json={"sql": "SELECT 1", "limit": bad}), 400, "E0001", "limit")


# --- PostgreSQL -----------------------------------------------------------------------------------------------


async def test_postgres_crud_and_query(api: httpx.AsyncClient, pg_url: dict[str, object], recorder: Recorder) -> None:
    password = str(pg_url["password"])
    fields = {
        "db_name": pg_url["database"],
        "db_type": "postgresql",
        "db_host": pg_url["host"],
        "db_port": pg_url["port"],
        "db_user": pg_url["user"],
        "db_pwd": password,
    }
    created = ok(await api.post(BASE, json=fields))
    ds_id = created["id"]
    try:
        assert created["db_pwd"] == ("******" if password else "")
        status = ok(await api.get(f"{BASE}/{ds_id}/test-connection"))
        assert status["ok"] is True and status["version"].startswith("PostgreSQL")
        rows = ok(
            await api.post(f"{BASE}/{ds_id}/query", json={"sql": "SELECT generate_series(1, 5) AS n", "limit": 2})
        )
        assert rows["columns"] == ["n"] and rows["rows"] == [[1], [2]] and rows["truncated"] is True
        by_name = ok(
            await api.post(f"{BASE}/{pg_url['database']}/query", json={"sql": "SELECT current_database() AS d"})
        )
        assert by_name["rows"] == [[pg_url["database"]]]
        refused(
            await api.post(f"{BASE}/{ds_id}/query", json={"sql": "CREATE TABLE dbgpt_api_pwned (a int)"}),
            403,
            "E0003",
            "read-only",
        )
        updated = ok(await api.put(BASE, json={**created, "comment": "pg"}))
        assert updated["comment"] == "pg" and ok(await api.get(f"{BASE}/{ds_id}")) == updated
        assert ok(await api.get(f"{BASE}/{ds_id}/test-connection"))["ok"] is True  # masked password kept
    finally:
        ok(await api.delete(f"{BASE}/{ds_id}"))
    refused(await api.get(f"{BASE}/{ds_id}"), 404, "E0003")
    if password:
        recorder.assert_never_shows(password)
