"""The web UI at `/`: its pages and files beside the API, the dynamic pages' fallbacks, `/api` and `/mcp` keeping
their JSON answers; without the UI, `/` says how to install it and the rest works as before."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.envelope import data
from tests.scripted import ScriptedChatModel
from tests.server.webui_files import UI_FILES, browser, write_ui

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["installed", "absent"])
def with_ui(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "installed")


@pytest.fixture
def runtime(settings: Settings, tmp_path: Path, with_ui: bool) -> Iterator[Runtime]:
    """A runtime without API keys, with the stand-in UI in its web UI dir (or with none)."""
    webui = tmp_path / "webui"
    if with_ui:
        write_ui(webui)
    rt = Runtime(
        settings.model_copy(update={"api_keys": [], "webui_dir": webui}), chat_model=ScriptedChatModel.replying()
    )
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(runtime) as client:
        yield client


async def test_unknown_api_paths_stay_json_404s_and_known_ones_405_on_another_method(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/no/such/thing", "/api/v2/serve/nothing", "/api/unknown", "/api", "/mcp/extra"):
        body = data(await client.get(path), 404)
        assert body["err_code"] == "404", path
    assert data(await client.delete("/api/v2/chat/completions"), 405)["success"] is False
    assert data(await client.get("/api/v2/serve/datasources")) == []
    assert (await client.get("/health")).json()["status"] == "ok"
    assert (await client.get("/docs")).status_code == 200 and (await client.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize("with_ui", [True])
async def test_pages_files_and_dynamic_routes_are_served(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200 and home.text == UI_FILES["index.html"]
    assert home.headers["content-type"].startswith("text/html")
    redirect = await client.get("/chat")
    assert redirect.status_code == 307 and redirect.headers["location"] == "http://127.0.0.1:5670/chat/"
    assert (await client.get("/chat/")).text == UI_FILES["chat/index.html"]
    assert (await client.get("/construct/database/?x=1")).text == UI_FILES["construct/database/index.html"]
    script = await client.get("/_next/static/chunks/app.js")
    assert script.status_code == 200 and script.text == UI_FILES["_next/static/chunks/app.js"]
    for path, page in [
        ("/share/abc123/", "share/[token]/index.html"),
        ("/construct/scheduled-tasks/42/", "construct/scheduled-tasks/[taskId]/index.html"),
        ("/models_evaluation/e-1/", "models_evaluation/[code]/index.html"),
        ("/models_evaluation/datasets/", "models_evaluation/datasets/index.html"),  # a real page wins
    ]:
        response = await client.get(path)
        assert response.status_code == 200 and response.text == UI_FILES[page], path
    slashless = await client.get("/share/abc123")
    assert slashless.status_code == 307 and slashless.headers["location"].endswith("/share/abc123/")
    missing = await client.get("/no/such/page/")
    assert missing.status_code == 404 and missing.text == UI_FILES["404.html"]
    assert (await client.get("/share/a/b/")).status_code == 404  # deeper than the dynamic route
    assert (await client.post("/chat/")).status_code == 405


@pytest.mark.parametrize("with_ui", [False])
async def test_without_the_ui_the_root_says_how_to_install_it(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and "dbgpt-tools webui install" in page.text and "/docs" in page.text
    body = data(await client.get("/", headers={"Accept": "application/json"}), 404)
    assert "dbgpt-tools webui install" in body["err_msg"]
    assert data(await client.get("/chat/"), 404)["err_code"] == "404"
