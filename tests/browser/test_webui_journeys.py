"""DB-GPT's own web UI, unchanged, in headless chromium against our server: the journeys (a)-(g) of the web UI spec
(shared docs, webui.md). Each test asserts what the page renders (answers, tables, statuses) and, through the
`page` fixture, that no console error, uncaught exception or error notification appeared on the way.

One server for the module (no API key: a loopback server, as a local user runs it), on a scripted model that answers
by keyword, so every journey gets a known answer."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Response, expect

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from tests.browser.conftest import UiServer, browser_settings, ui_server
from tests.browser.routed_model import RoutedChatModel
from tests.browser.watch import Watch

HELLO = "Hello from the scripted model, streamed word by word."
HELD = "Partway written: the rest of this answer waits for the test."
HELD_FIRST_WORD = "Partway"
CATEGORIES_SQL = "SELECT name, description FROM categories ORDER BY name"
CATEGORIES = f"Here are the categories.\n\n```sql\n{CATEGORIES_SQL}\n```"
PER_CATEGORY_SQL = (
    "SELECT c.name AS category, COUNT(*) AS products FROM products p JOIN categories c USING (category_id) "
    "GROUP BY c.name ORDER BY c.name"
)
PER_CATEGORY = f"Counted.\n\n```sql\n{PER_CATEGORY_SQL}\n```"  # names and counts: a pie chart
MOON_FACT = "The moon base on Ganymede is painted teal and has twelve airlocks."
MOON_ANSWER = "The moon base is painted teal, says the space [1]."
HOME_BOX = re.compile("Ask a question about your database")
CLASSIC_BOX = re.compile("Ask me anything")


@pytest.fixture(scope="module")
def model() -> RoutedChatModel:
    return RoutedChatModel(
        messages=iter(()),
        routes={
            "slowly": HELD,
            "per category": PER_CATEGORY,
            "categories": CATEGORIES,
            "moon base": MOON_ANSWER,
            "hello": HELLO,
        },
    )


@pytest.fixture(scope="module")
def db_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory datasource files may be added from (DBGPT_DB_ROOTS)."""
    return tmp_path_factory.mktemp("db-root")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    webui_dir: Path,
    model: RoutedChatModel,
    embedder: LocalEmbedder,
    db_root: Path,
) -> Iterator[UiServer]:
    settings = browser_settings(tmp_path_factory.mktemp("webui-data"), webui_dir, db_roots=[db_root])
    with ui_server(settings, model, embedder) as live:
        yield live


def sample_rows(server: UiServer, sql: str) -> list[tuple[str, ...]]:
    """The rows `sql` returns from the sample database, read directly, as the table shows them (text)."""
    with sqlite3.connect(server.runtime.settings.data_dir / "sample_sales.sqlite") as connection:
        return [tuple(str(value) for value in row) for row in connection.execute(sql)]


@pytest.fixture(scope="module")
def categories(server: UiServer) -> list[tuple[str, ...]]:
    return sample_rows(server, CATEGORIES_SQL)


def ask(page: Page, box: Locator, path: str, question: str, *, to_the_end: bool) -> None:
    """Type `question` into `box` and send it; the answer must come as an event stream from `path`, read to its end
    (the turn is then saved) unless `to_the_end` is False."""
    with page.expect_response(f"**{path}") as answer:
        box.fill(question)
        box.press("Enter")
    response = answer.value
    assert response.ok and response.headers["content-type"].startswith("text/event-stream")
    if to_the_end:
        response.finished()


def ask_home(page: Page, question: str, *, to_the_end: bool = True) -> None:
    """Ask on the home page: the answer streams from `/api/v1/chat/react-agent`."""
    ask(page, page.get_by_placeholder(HOME_BOX).first, "/api/v1/chat/react-agent", question, to_the_end=to_the_end)


def ask_classic(page: Page, question: str, *, to_the_end: bool = True) -> None:
    """Ask on the classic chat page: the answer streams from `/api/v1/chat/completions`."""
    ask(page, page.get_by_placeholder(CLASSIC_BOX), "/api/v1/chat/completions", question, to_the_end=to_the_end)


def open_scene(page: Page, scene: str) -> list[dict[str, str]]:
    """Open the classic chat page in `scene` as a click on that app does (a new dialogue in the scene, remembered as
    the current one, then its page); the resources (`mode/params/list`) it offers."""
    created = page.request.post(
        f"/api/v1/chat/dialogue/new?chat_mode={scene}&model_name=undefined", data={"chat_mode": scene}
    )
    assert created.ok, created.text()
    conv_uid = created.json()["data"]["conv_uid"]
    current = json.dumps({"chat_scene": scene, "app_code": scene})
    page.add_init_script(f"localStorage.setItem('cur_dialog_info', {json.dumps(current)})")
    with page.expect_response("**/api/v1/chat/mode/params/list*") as params:
        page.goto(f"/chat/?scene={scene}&id={conv_uid}")
    listed: list[dict[str, str]] = params.value.json()["data"]
    return listed


def choose(page: Page, resource: str) -> None:
    """Pick a database or knowledge space in the classic chat page's resource picker (the one after the model's)."""
    picker = page.locator(".ant-select").filter(has=page.locator(".ant-select-selection-item")).nth(1)
    picker.click()
    page.locator(".ant-select-dropdown .ant-select-item-option", has_text=resource).first.click()
    expect(picker).to_contain_text(resource)


def expect_table(scope: Page | Locator, rows: list[tuple[str, ...]]) -> None:
    """The first chart-view table in `scope` shows `rows` (the first page of them), cell by cell."""
    table = scope.locator(".ant-table").first
    body_rows = table.locator("tbody tr.ant-table-row")
    shown = min(len(rows), 10)  # antd tables page by 10
    expect(body_rows).to_have_count(shown)
    for index in range(shown):
        expect(body_rows.nth(index).locator("td")).to_have_text(list(rows[index]))


# (a) the home page --------------------------------------------------------------------------------------------------


def test_a_home_page_loads_with_its_lists(page: Page, server: UiServer) -> None:
    calls = ("/api/v1/model/types", "/api/v1/chat/dialogue/list", "/api/v2/serve/datasources")
    answered: dict[str, int] = {}

    def record(response: Response) -> None:
        for call in calls:
            if call in response.url:
                answered.setdefault(call, response.status)

    page.on("response", record)
    page.goto("/")
    expect(page.get_by_placeholder(HOME_BOX).first).to_be_visible()
    expect(page.get_by_text("DB-GPT AI Data Assistant").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert {call: answered.get(call) for call in calls} == dict.fromkeys(calls, 200)
    page.locator("button:has(span[aria-label=database])").first.click()  # the datasource picker lists ours
    expect(page.get_by_text("sample_sales", exact=True).first).to_be_visible()


# (b) chat_normal, streamed, on both pages ---------------------------------------------------------------------------


def test_b_home_page_streams_an_answer(page: Page, model: RoutedChatModel) -> None:
    release = model.held.setdefault("home, slowly", threading.Event())
    try:
        page.goto("/")
        ask_home(page, "hello home, slowly", to_the_end=False)
        expect(page.get_by_text(HELD_FIRST_WORD).first).to_be_visible()  # written so far, while the model holds
        expect(page.get_by_text(HELD)).to_have_count(0)
    finally:
        release.set()
    expect(page.get_by_text(HELD).first).to_be_visible()
    expect(page.get_by_text("DB-GPT is thinking")).to_have_count(0)


def test_b_classic_chat_page_streams_an_answer(page: Page, model: RoutedChatModel) -> None:
    release = model.held.setdefault("classic, slowly", threading.Event())
    try:
        page.goto("/chat/")
        ask_classic(page, "hello classic, slowly", to_the_end=False)
        expect(page).to_have_url(re.compile(r"/chat/\?scene=chat_normal&id=[\w-]+"))
        expect(page.get_by_text(HELD_FIRST_WORD, exact=True).first).to_be_visible()
    finally:
        release.set()
    answer = page.get_by_text(HELD, exact=True)  # cumulative content replaces the bubble: the whole text, once
    expect(answer.first).to_be_visible()


# (c) conversation lists: open and delete an old conversation --------------------------------------------------------


def test_c_home_conversation_is_listed_reopened_and_deleted(page: Page) -> None:
    question = "hello, remember this conversation"
    page.goto("/")
    ask_home(page, question)
    expect(page.get_by_text(HELLO).first).to_be_visible()
    page.goto("/")  # a new task: the old one is in the sidebar
    task = page.locator("a[href^='/?id=']", has_text=question)
    expect(task).to_be_visible()
    conv_uid = str(task.get_attribute("href")).rsplit("id=", 1)[1]
    with page.expect_response("**/api/v1/chat/dialogue/messages/history*") as history:
        task.click()
    assert history.value.ok
    expect(page).to_have_url(re.compile(rf"/\?id={conv_uid}$"))
    expect(page.get_by_text(HELLO).first).to_be_visible()  # the old answer, from the history
    page.goto("/conversations/")  # "All tasks" lists it too, and opens it
    page.get_by_text(question).first.click()
    expect(page).to_have_url(re.compile(rf"/\?id={conv_uid}$"))
    expect(page.get_by_text(HELLO).first).to_be_visible()
    task.hover()
    with page.expect_response("**/api/v1/chat/dialogue/delete*") as deleted:
        task.locator("[aria-label=delete]").click()
    assert deleted.value.ok
    expect(task).to_have_count(0)
    listed = page.request.get("/api/v1/chat/dialogue/list").json()["data"]
    assert conv_uid not in [dialogue["conv_uid"] for dialogue in listed]  # gone on the server too


def test_c_classic_conversation_is_listed_reopened_and_deleted(page: Page) -> None:
    question = "hello from the classic list"
    page.goto("/chat/")
    ask_classic(page, question)
    expect(page.get_by_text(HELLO, exact=True).first).to_be_visible()
    conv_uid = page.url.rsplit("id=", 1)[1]
    page.goto("/chat/")
    item = page.get_by_text(question).first
    expect(item).to_be_visible()
    with page.expect_response("**/api/v1/chat/dialogue/messages/history*"):
        item.click()
    expect(page).to_have_url(re.compile(rf"/chat/?\?scene=chat_normal&id={conv_uid}$"))
    expect(page.get_by_text(HELLO, exact=True).first).to_be_visible()
    item = page.get_by_text(question).first
    item.hover()
    item.locator("xpath=ancestor::*[.//span[@aria-label='delete']][1]").locator("[aria-label=delete]").click()
    with page.expect_response("**/api/v1/chat/dialogue/delete*") as deleted:
        page.locator(".ant-modal-confirm .ant-btn-primary").click()
    assert deleted.value.ok
    expect(page.get_by_text(question)).to_have_count(0)


# (d) chat with the sample database from both pages ------------------------------------------------------------------


def test_d_home_page_chats_with_the_sample_database(page: Page, categories: list[tuple[str, ...]]) -> None:
    page.goto("/")
    page.locator("button:has(span[aria-label=database])").first.click()
    page.get_by_text("sample_sales", exact=True).first.click()
    ask_home(page, "list the categories")
    expect_table(page, categories)


def test_d_classic_page_chats_with_the_sample_database(
    page: Page, server: UiServer, categories: list[tuple[str, ...]]
) -> None:
    params = open_scene(page, "chat_with_db_qa")
    assert {(p["param"], p["type"]) for p in params} >= {("sample_sales", "sqlite"), ("sample_logistics", "sqlite")}
    choose(page, "sample_sales")
    ask_classic(page, "list the categories")
    expect_table(page, categories)
    ask_classic(page, "How many products per category?")  # the same conversation goes on, with a chart this time
    chart = page.locator(".ant-tabs").filter(has=page.get_by_role("tab", name="Chart"))
    expect(chart.get_by_role("tab")).to_have_text(["Chart", "SQL", "Data"])
    expect(chart.locator("canvas").first).to_be_visible()
    chart.get_by_role("tab", name="Data").click()
    expect_table(chart, sample_rows(server, PER_CATEGORY_SQL))


# (e) the datasource page --------------------------------------------------------------------------------------------


def sqlite_drawer(page: Page) -> Locator:
    """The page's drawer of sqlite datasources (opened from the type's card)."""
    page.get_by_text("Sqlite", exact=True).first.click()
    drawer = page.locator(".ant-drawer-content")
    expect(drawer).to_be_visible()
    return drawer


def datasource_card(drawer: Locator, title: str) -> Locator:
    return drawer.locator(".ant-card").filter(has=drawer.page.locator(".ant-card-head-title", has_text=title))


def submit_datasource(page: Page, path: str | None, description: str) -> None:
    """Fill the datasource form (its fields come from datasource-types: sqlite's is `path`) and submit it."""
    form = page.locator(".ant-modal").filter(has=page.locator("#path"))
    if path is not None:
        form.locator("#path").fill(path)
    form.locator("#description").fill(description)
    form.get_by_role("button", name="Submit").click()


def test_e_datasources_are_listed_added_tested_edited_and_deleted(
    page: Page, server: UiServer, db_root: Path, watch: Watch
) -> None:
    path = db_root / "notes.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    page.goto("/construct/database/")
    drawer = sqlite_drawer(page)
    expect(datasource_card(drawer, "sample_sales")).to_be_visible()  # listed (the sample databases)

    drawer.get_by_role("button", name="Create").click()
    with (
        page.expect_response("**/api/v2/serve/datasources/test-connection") as tested,
        page.expect_response(lambda r: r.url.endswith("/api/v2/serve/datasources") and r.request.method == "POST"),
    ):
        submit_datasource(page, str(path), "notes for the browser test")
    assert tested.value.ok
    added = datasource_card(drawer, "notes")
    expect(added).to_contain_text("notes for the browser test")
    assert str(path) in [source.db_path for source in server.runtime.datasources.list()]

    added.locator("[aria-label=edit]").click()
    expect(page.locator("#path")).to_have_value(str(path))  # the form shows what was saved
    with page.expect_response(lambda r: r.url.endswith("/api/v2/serve/datasources") and r.request.method == "PUT"):
        submit_datasource(page, None, "notes, edited")
    expect(added).to_contain_text("notes, edited")
    with page.expect_response("**/api/v2/serve/datasources/*/refresh") as refreshed:
        added.locator("[aria-label=redo]").click()
    assert refreshed.value.ok

    added.locator("[aria-label=delete]").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.locator(".ant-modal-confirm").get_by_role("button", name="OK").click()
    assert deleted.value.ok
    expect(added).to_have_count(0)
    assert str(path) not in [source.db_path for source in server.runtime.datasources.list()]

    # A failed test is an HTTP error: the UI shows it and creates nothing.
    missing = db_root / "missing.sqlite"
    before = len(server.runtime.datasources.list())
    watch.expected.append("/api/v2/serve/datasources/test-connection")
    drawer.get_by_role("button", name="Create").click()
    with page.expect_response("**/api/v2/serve/datasources/test-connection") as failed:
        submit_datasource(page, str(missing), "never created")
    assert failed.value.status == 400
    expect(page.locator(".ant-notification-notice-error")).to_contain_text(str(missing))
    watch.settle(page)
    assert [toast for toast in watch.take_toasts() if str(missing) not in toast] == []
    expect(page.locator(".ant-modal").filter(has=page.locator("#path"))).to_be_visible()  # the form stays open
    assert len(server.runtime.datasources.list()) == before and not missing.exists()


# (f) the knowledge page ---------------------------------------------------------------------------------------------


def wait_ingested(server: UiServer, doc_id: int) -> str:
    """The status a document's ingestion ends in (waited for on the server, in a thread of its own: the test's
    thread runs Playwright's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return str(pool.submit(asyncio.run, server.runtime.knowledge.wait(doc_id)).result(timeout=120).status)


def test_f_knowledge_space_documents_sync_and_chat(
    page: Page, server: UiServer, model: RoutedChatModel, tmp_path: Path
) -> None:
    page.goto("/construct/knowledge/")
    page.get_by_role("button", name="Create Knowledge").click()
    dialog = page.locator(".ant-modal").first
    dialog.locator("#create_knowledge_spaceName").fill("moonbase")
    dialog.locator("#create_knowledge_description").fill("facts about the moon base")
    dialog.get_by_text("Text", exact=True).click()
    dialog.locator("#create_knowledge_raw_text").fill(MOON_FACT)
    with page.expect_response("**/api/v1/knowledge/space/add") as space_added:
        dialog.get_by_role("button", name="Next").filter(visible=True).click()
    assert space_added.value.json()["success"] is True

    dialog.get_by_text("Fill your raw text").click()  # step 2: a text document
    dialog.locator("#basic_docName").fill("moon facts")
    dialog.locator("#basic_textSource").fill("notes")
    dialog.locator("#basic_text").fill(MOON_FACT)
    with page.expect_response("**/api/v1/knowledge/moonbase/document/add"):
        dialog.get_by_role("button", name="Next").filter(visible=True).click()
    with page.expect_response("**/api/v1/knowledge/moonbase/document/sync_batch") as synced:
        dialog.get_by_role("button", name="Process").click()
    assert synced.value.json()["data"]["tasks"]
    # The UI polls the document list until every document is FINISHED or FAILED, then says all went well.
    expect(page.get_by_text("All files sync successfully")).to_be_visible(timeout=120_000)

    page.get_by_text("moonbase", exact=True).first.click()  # the space's page lists its documents
    expect(page).to_have_url(re.compile(r"/construct/knowledge/detail/?\?spaceName=moonbase"))
    rows = page.locator("div.grid-cols-12")  # the document table's rows
    expect(rows.filter(has_text="moon facts")).to_contain_text("FINISHED")

    upload = tmp_path / "airlocks.md"
    upload.write_text("# Airlocks\n\nEach airlock of the moon base opens with a brass lever.\n")
    page.get_by_role("button", name="Add Datasource").click()
    adding = page.locator(".ant-modal").filter(has_text="Add Document")
    adding.locator("input[type=file]").set_input_files(upload)
    with (
        page.expect_response("**/api/v1/knowledge/moonbase/document/upload") as uploaded,
        page.expect_response("**/api/v1/knowledge/moonbase/document/sync_batch"),
    ):
        adding.get_by_role("button", name="Upload & Sync").click()
    assert wait_ingested(server, int(uploaded.value.json()["data"])) == "FINISHED"
    page.get_by_role("button", name="Refresh status").click()
    expect(rows.filter(has_text="airlocks.md")).to_contain_text("FINISHED")
    expect(rows.filter(has_text="moon facts")).to_contain_text("FINISHED")

    # Ask the space from the classic chat page (as a click on the knowledge app does: a chat_knowledge dialogue)...
    open_scene(page, "chat_knowledge")
    choose(page, "moonbase")
    ask_classic(page, "What colour is the moon base?")
    expect(page.get_by_text(MOON_ANSWER).first).to_be_visible()
    assert any(MOON_FACT in text for text in model.texts(-1))  # the model answered from the retrieved excerpt
    # ... and from the home page, the space picked in its toolbar.
    page.goto("/")
    page.locator("button:has(span[aria-label=book])").first.click()
    page.get_by_text("moonbase", exact=True).first.click()
    ask_home(page, "And what colour is the moon base now?")
    expect(page.get_by_text(MOON_ANSWER).first).to_be_visible()
    assert any(MOON_FACT in text for text in model.texts(-1))


# (g) the apps and flow pages ----------------------------------------------------------------------------------------


def test_g_apps_and_flow_pages_load(page: Page) -> None:
    with page.expect_response("**/api/v1/app/list*") as apps:
        page.goto("/construct/app/")
    assert apps.value.ok
    expect(page.get_by_text("Sales analyst").first).to_be_visible()  # an example app of the sample database
    with page.expect_response("**/api/v2/serve/awel/flows*") as flows:
        page.goto("/construct/flow/")
    assert flows.value.ok
