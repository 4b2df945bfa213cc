"""`%dbgpt_ingest SPACE PATH [PATH ...]`: add files (globs allowed) to a knowledge space, with a progress bar per
file while it is chunked and embedded. Files are read as every face reads them: inside DBGPT_DOCUMENT_ROOTS."""

from __future__ import annotations

import glob
import time

from IPython.display import display

from dbgpt_tools.aio import run_sync, shared_runtime
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.knowledge.models import Document, DocumentStatus
from dbgpt_tools.knowledge.service import POLL_S
from dbgpt_tools.operations.knowledge import AddDocumentArgs, add_document
from jupyter_magic.data import Note

BAR = 24


def bar(done: int, total: int) -> str:
    """A text progress bar of `done` out of `total` steps."""
    filled = BAR * done // total if total else 0
    return "█" * filled + "░" * (BAR - filled)


def progress_line(document: Document) -> str:
    """One line: the document, a bar of its embedded chunks, and its status."""
    done, total = document.progress.done, document.progress.total
    outcome = f" ({document.result})" if document.status is DocumentStatus.FAILED else ""
    return f"{document.doc_name} {bar(done, total)} {done}/{total} chunks {document.status.value}{outcome}"


def paths_of(patterns: list[str]) -> list[str]:
    """The files the patterns name (a pattern matching nothing is refused)."""
    found: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InvalidInput(f"no file matches {pattern!r}")
        found += matches
    return found


def ingest(space: str, patterns: list[str]) -> list[Document]:
    """Add each file to the space and show its progress until it is searchable (or failed)."""
    knowledge = shared_runtime().knowledge
    documents = []
    for path in paths_of(patterns):
        document = run_sync(add_document(knowledge, AddDocumentArgs(space=space, path=path, wait=False)))
        handle = display(Note(f"`{progress_line(document)}`", progress_line(document)), display_id=True)
        while document.status not in (DocumentStatus.FINISHED, DocumentStatus.FAILED):
            time.sleep(POLL_S)
            document = knowledge.documents.get(document.id)
            handle.update(Note(f"`{progress_line(document)}`", progress_line(document)))
        documents.append(document)
    return documents
