"""Browser fixtures: Debian's chromium, driven through Playwright, against a live server serving DB-GPT's web UI.

Nothing is downloaded at run time: the browser is the system one and the UI is the copy `scripts/test.sh` installed
(`dbgpt-tools webui install`) into DBGPT_TEST_WEBUI_DIR. When either is missing the tests fail and say how to get
it; they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import create_app
from tests.browser.routed_model import RoutedChatModel
from tests.browser.watch import Watch
from tests.conftest import MODEL_DIR
from tests.live import live_server

WEBUI_DIR = Path(os.environ.get("DBGPT_TEST_WEBUI_DIR", Path.home() / ".cache" / "dbgpt-tools" / "webui"))
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
TIMEOUT_MS = 30_000
"""How long a step may wait for the page (a safety net on 2 busy cores: every wait is on an element or event)."""

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class UiServer:
    """A live server with the web UI: its base URL and runtime (for the tests' own checks)."""

    url: str
    runtime: Runtime


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (one per test module)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test.sh (it installs Debian's chromium package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def webui_dir() -> Path:
    """The installed web UI."""
    if not (WEBUI_DIR / "index.html").is_file():
        pytest.fail(
            f"DB-GPT's web UI is not installed in {WEBUI_DIR}: run scripts/test.sh (or "
            f"`dbgpt-tools webui install --dir {WEBUI_DIR}`)"
        )
    return WEBUI_DIR


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def browser_settings(data_dir: Path, webui: Path, **overrides: Any) -> Settings:
    """The test settings (as tests/conftest.py's `settings`) with the sample databases, the installed UI, and no
    API key unless `overrides` give some."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "model_dir": MODEL_DIR,
        "local_model": "smollm2-135m",
        "api_keys": [],
        "local_ctx": 4096,
        "sample_db": True,
        "sample_space": False,
        "sql_read_ahead": False,
        "webui_dir": webui,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@contextmanager
def ui_server(settings: Settings, model: RoutedChatModel, embedder: LocalEmbedder) -> Iterator[UiServer]:
    """`create_app` on a runtime of its own (started and closed as `serve` does) under uvicorn on a free port."""
    runtime = Runtime(settings, chat_model=model, embedder=embedder)
    with live_server(create_app(runtime, owns_runtime=True)) as url:
        yield UiServer(url, runtime)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Browser, server: UiServer, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (no cookies, no localStorage) on the module's `server`, English, offline; when the
    test ends, no console error, uncaught exception or error notification may have appeared."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    watch.attach(context)
    opened = context.new_page()
    watch.watch_page(opened)
    yield opened
    if not opened.is_closed():
        watch.settle(opened)
    context.close()
    problems = watch.problems()
    assert not problems, "the page showed errors:\n" + "\n".join(problems)
