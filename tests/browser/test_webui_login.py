"""The web UI on a server with API keys: the UI sends no `Authorization` header, so a browser logs in once (our login
page exchanges a key for an HttpOnly, SameSite=Strict session cookie) and the UI then works as on a keyless server;
without the cookie the API refuses it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from tests.browser.conftest import UiServer, browser_settings, ui_server
from tests.browser.routed_model import RoutedChatModel
from tests.browser.watch import Watch

KEY = "browser-test-key"
HELLO = "Hello, logged-in user."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, webui_dir: Path, embedder: LocalEmbedder) -> Iterator[UiServer]:
    model = RoutedChatModel(messages=iter(()), routes={"hello": HELLO})
    settings = browser_settings(tmp_path_factory.mktemp("login-data"), webui_dir, api_keys=KEY)
    with ui_server(settings, model, embedder) as live:
        yield live


def test_without_a_login_the_api_refuses_and_pages_lead_to_the_login_page(page: Page) -> None:
    refused = page.request.get("/api/v1/chat/dialogue/list")
    assert refused.status == 401 and refused.json()["success"] is False
    page.goto("/construct/database/")
    expect(page).to_have_url(re.compile(r"/login\?next=/construct/database/?$"))
    expect(page.get_by_label("API key")).to_be_visible()


def test_login_page_cookie_then_the_ui_works_until_logout(page: Page, watch: Watch) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))

    watch.expected.append("/login")  # a wrong key is answered 401 (the browser logs that status)
    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("That key is not accepted.")).to_be_visible()
    assert [c for c in page.context.cookies() if c["name"] == "dbgpt_session"] == []

    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "dbgpt_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["value"] != KEY
    assert page.evaluate("document.cookie") == ""  # out of the page's scripts' reach

    box = page.get_by_placeholder(re.compile("Ask a question about your database")).first
    with page.expect_response("**/api/v1/chat/react-agent") as answer:
        box.fill("hello")
        box.press("Enter")
    assert answer.value.ok
    expect(page.get_by_text(HELLO).first).to_be_visible()
    assert page.request.get("/api/v1/chat/dialogue/list").ok  # the API accepts the browser's cookie

    watch.settle(page)
    assert page.request.post("/logout", max_redirects=0).status == 303
    assert page.request.get("/api/v1/chat/dialogue/list").status == 401  # the session is over
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
