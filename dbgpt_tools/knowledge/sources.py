"""Document files a face reads from the machine (MCP, LangChain, notebook): only inside the allowed document roots
(`DBGPT_DOCUMENT_ROOTS`), never one of our own files, only regular files within the size limit. REST callers
upload instead."""

from __future__ import annotations

from pathlib import Path

from dbgpt_tools.errors import Forbidden, InvalidInput
from dbgpt_tools.knowledge.documents import SourceFile
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.locations import refuse_own_file


def read_document_file(settings: Settings, path: str) -> SourceFile:
    """The bytes of a document file at `path` (home and symlinks followed), refused outside the roots."""
    roots = settings.allowed_document_roots
    if not roots:
        raise Forbidden("no document roots are configured: set DBGPT_DOCUMENT_ROOTS to read files", field="path")
    if not path.strip() or "\x00" in path:
        raise InvalidInput("path must name a file", field="path")
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise Forbidden(f"path {path!r} is outside the document roots ({allowed})", field="path")
    refuse_own_file(settings, resolved, path, "path")
    if not resolved.is_file():
        raise InvalidInput(f"path {path!r} is not a file", field="path")
    limit = settings.knowledge_max_file_mb * 1024 * 1024
    if resolved.stat().st_size > limit:
        raise InvalidInput(f"{path!r} is larger than {settings.knowledge_max_file_mb} MB", field="path")
    with resolved.open("rb") as handle:
        data = handle.read(limit + 1)  # the file may have grown since its size was read
    if len(data) > limit:
        raise InvalidInput(f"{path!r} is larger than {settings.knowledge_max_file_mb} MB", field="path")
    return SourceFile(resolved.name, data)
