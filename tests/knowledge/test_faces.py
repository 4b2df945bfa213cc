"""Knowledge on the MCP, LangChain and notebook faces: the same catalogue operations, files read only inside the
document roots, progress while a document is ingested, cited results as each face's native type."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from mcp import Client

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.langchain import KnowledgeRetriever, get_tools
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.mcp import build_mcp_server
from tests.jupyter_magic.test_magics import outputs, run, sharing
from tests.jupyter_magic.test_magics import shell as shell  # the fixture
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
GUIDE = (
    "# Install\n\nRun pip install dbgpt-tools to install the package.\n\n"
    "## Ports\n\nThe server listens on port 5670 unless DBGPT_PORT says otherwise.\n\n"
    "# Security\n\nAPI keys travel as Bearer tokens in the Authorization header."
)


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "guide.md").write_text(GUIDE)
    return folder


@pytest.fixture
def rooted(settings: Settings, roots: Path, embedder: LocalEmbedder) -> Runtime:
    runtime = Runtime(
        settings.model_copy(update={"document_roots": [roots]}),
        chat_model=ScriptedChatModel.replying("Port 5670 [1]."),
        embedder=embedder,
    )
    runtime.knowledge.spaces.create({"name": "docs"})
    return runtime


async def test_mcp_adds_a_file_with_progress_then_searches_and_asks(rooted: Runtime, roots: Path) -> None:
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    try:
        async with Client(build_mcp_server(rooted)) as client:
            added = await client.call_tool(
                "add_document", {"space": "docs", "path": str(roots / "guide.md")}, progress_callback=on_progress
            )
            assert not added.is_error and added.structured_content["status"] == "FINISHED"
            assert reports[-1][:2] == (3, 3) and "FINISHED" in str(reports[-1][2])
            found = await client.call_tool("search_knowledge", {"space": "docs", "query": "which port?", "top_k": 1})
            [chunk] = found.structured_content["chunks"]
            assert "5670" in chunk["content"] and chunk["headers"] == ["Install", "Ports"]
            answer = await client.call_tool("ask_knowledge", {"space": "docs", "question": "Which port?"})
            assert answer.structured_content["answer"] == "Port 5670 [1]."
            assert answer.structured_content["references"][0]["doc_name"] == "guide.md"
            outside = await client.call_tool("add_document", {"space": "docs", "path": "/etc/hostname"})
            assert outside.is_error and "outside the document roots" in str(outside.content[0])
            own = await client.call_tool(
                "add_document", {"space": "docs", "path": str(rooted.settings.data_dir / "metadata.db")}
            )
            assert own.is_error
            unknown = await client.call_tool("search_knowledge", {"space": "nope", "query": "x"})
            assert unknown.is_error and "no knowledge space" in str(unknown.content[0])
    finally:
        rooted.close()


async def test_langchain_search_is_a_retriever_tool_and_the_retriever_returns_documents(rooted: Runtime) -> None:
    try:
        document = rooted.knowledge.add_document("docs", "guide.md", content=GUIDE)
        assert (await rooted.knowledge.wait(document.id)).status == "FINISHED"
        tools = {tool.name: tool for tool in get_tools(rooted)}
        call = {"name": "search_knowledge", "args": {"space": "docs", "query": "Bearer tokens"}, "id": "1",
                "type": "tool_call"}  # fmt: skip
        message = await tools["search_knowledge"].ainvoke(call)
        assert isinstance(message, ToolMessage) and str(message.content).startswith("[1] guide.md, Security")
        assert all(isinstance(doc, Document) for doc in message.artifact)
        assert message.artifact[0].metadata["source"] == "guide.md" and "Bearer" in message.artifact[0].page_content
        retriever = KnowledgeRetriever(space="docs", top_k=2, runtime=rooted)
        docs = await retriever.ainvoke("which port?")
        assert len(docs) == 2 and "5670" in docs[0].page_content and docs[0].metadata["headers"] == ["Install", "Ports"]
        refused = await tools["add_document"].ainvoke(
            {"name": "add_document", "args": {"space": "docs", "path": "/etc/passwd"}, "id": "2", "type": "tool_call"}
        )
        assert refused.status == "error" and "outside the document roots" in refused.content
    finally:
        rooted.close()


def test_document_paths_need_configured_roots(settings: Settings, embedder: LocalEmbedder, roots: Path) -> None:
    from dbgpt_tools.errors import Forbidden
    from dbgpt_tools.knowledge.sources import read_document_file

    with pytest.raises(Forbidden, match="DBGPT_DOCUMENT_ROOTS"):
        read_document_file(settings, str(roots / "guide.md"))
    rooted = settings.model_copy(update={"document_roots": [roots]})
    assert read_document_file(rooted, str(roots / "guide.md")).data == GUIDE.encode()
    (roots / "escape.md").symlink_to(rooted.data_dir / "metadata.db")
    with pytest.raises(Forbidden):
        read_document_file(rooted, str(roots / "escape.md"))


def test_notebook_ingests_with_a_progress_bar_and_shows_references(
    shell: InteractiveShell, rooted: Runtime, roots: Path
) -> None:
    with sharing(rooted):
        try:
            result = run(shell, f"%dbgpt_ingest docs {roots}/*.md")
            assert result.success, result.error_in_exec
            [document] = shell.user_ns["_dbgpt_docs"]
            assert document.status == "FINISHED"
            bars = [str(output["data"].get("text/plain", "")) for output in outputs(shell)]
            assert bars[-1].startswith("guide.md ████████████████████████ 3/3 chunks FINISHED")
            answer = run(shell, "%%dbgpt --space docs\nWhich port does the server use?")
            assert answer.success, answer.error_in_exec
            shown = "\n".join(str(output["data"].get("text/markdown", "")) for output in outputs(shell))
            assert "**References**" in shown and "1. *guide.md*, Install > Ports" in shown
            assert shell.user_ns["_dbgpt"] == "Port 5670 [1]."
            refused = run(shell, "%dbgpt_ingest docs /etc/hostname")
            assert not refused.success
        finally:
            rooted.close()
