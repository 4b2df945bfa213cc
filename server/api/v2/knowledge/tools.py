"""`/api/v2/serve/knowledge/{space_id}/...`: what DB-GPT's web UI asks of a space besides its documents: its
totals (`stats`), a folder of the file tree its documents' names make (`tools/ls-json`) and a document's numbered
lines (`tools/cat`)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, RootModel
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import NotFound
from dbgpt_tools.knowledge.documents import DocumentFile
from server.api.v2.knowledge.common import BASE, INDEX_METHODS, SPACE_NAME_OR_ID, knowledge_service
from server.openapi import Endpoint, Handler
from server.requests import parse_body
from server.responses import envelope

MAX_LISTED_FILES = 10_000
"""Documents a space's file listing reads at most (DB-GPT's reads 10,000 too)."""
MAX_READ_LINES, MAX_READ_CHARS = 500, 20_000


class SpaceStats(BaseModel):
    """A space's totals (DB-GPT's `KnowledgeSpaceStatsResponse`; git syncs and graphs do not exist here: null)."""

    name: str
    domain_type: str
    vector_type: str
    index_methods: list[str]
    desc: str
    document_count: int
    chunk_count: int = Field(description="Searchable chunks of all its documents.")
    sync_status: None = None
    sync_total_files: None = None
    sync_finished: None = None
    sync_running: None = None
    sync_failed: None = None
    sync_todo: None = None
    repo_url: None = None
    branch: None = None
    graph_vertex_count: None = None
    graph_edge_count: None = None
    graph_community_count: None = None
    graph_build_status: None = None


class ListingRequest(BaseModel):
    """A folder of a space's file tree (DB-GPT's `KbSearchRequest`; its other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(default="", max_length=1024, description="The folder ('' or '/': the top).")
    offset: int = Field(default=0, ge=0, le=MAX_LISTED_FILES)
    limit: int = Field(default=200, ge=1, le=1000)


class FileEntry(BaseModel):
    """A document (a file) or a folder of a space's file tree (DB-GPT's `KbFileEntry`)."""

    name: str
    path: str
    is_dir: bool
    file_type: str | None = None
    language: str | None = None
    doc_id: int | None = None
    child_count: int | None = Field(default=None, description="Documents under a folder.")


class Listing(BaseModel):
    """One folder of a space's file tree: its documents are files named by their names, a `/` in a name making
    folders (DB-GPT's `KbLsJsonResponse`)."""

    path: str
    entries: list[FileEntry]
    total_files: int
    total_dirs: int


class ReadRequest(BaseModel):
    """Lines of a document of a space, by its path in the file tree (DB-GPT's `KbSearchRequest` for `cat`)."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=1024, description="The document's path (its name).")
    start_line: int = Field(default=1, ge=1, le=100_000_000)
    end_line: int = Field(default=0, ge=0, le=100_000_000, description="The last line (0: to the end).")


class NumberedText(RootModel[str]):
    """The lines asked for, numbered, under a line naming the document, its format and length (at most 500 lines
    and 20,000 characters)."""


async def space_stats(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = await asyncio.to_thread(knowledge.spaces.resolve, request.path_params["space_id"])
    documents, chunks = await asyncio.to_thread(knowledge.documents.totals, space.id)
    stats = SpaceStats(
        name=space.name,
        domain_type="Normal",
        vector_type=space.vector_type,
        index_methods=INDEX_METHODS,
        desc=space.desc,
        document_count=documents,
        chunk_count=chunks,
    )
    return await envelope(stats)


async def list_files(request: Request) -> Response:
    body = await parse_body(request, ListingRequest)
    knowledge = knowledge_service(request)
    files = await asyncio.to_thread(knowledge.documents.files, request.path_params["space_id"], MAX_LISTED_FILES)
    return await envelope(listing(files, body))


def listing(files: list[DocumentFile], request: ListingRequest) -> Listing:
    """The folder `request.path` of the tree the documents' names make: folders first, then files, by name."""
    folder = request.path.strip("/")
    prefix = folder + "/" if folder else ""
    folders: dict[str, int] = {}
    entries: list[FileEntry] = []
    for file in files:
        if not file.name.startswith(prefix) or file.name == prefix:
            continue
        head, nested, _ = file.name[len(prefix) :].partition("/")
        if nested:
            folders[head] = folders.get(head, 0) + 1
        else:
            entries.append(
                FileEntry(name=head, path=file.name, is_dir=False, file_type=file.file_type, doc_id=file.doc_id)
            )
    dirs = [
        FileEntry(name=name, path=prefix + name, is_dir=True, child_count=count)
        for name, count in sorted(folders.items())
    ]
    ordered = dirs + sorted(entries, key=lambda entry: entry.name)
    page = ordered[request.offset : request.offset + request.limit]
    return Listing(path=folder or "/", entries=page, total_files=len(entries), total_dirs=len(dirs))


async def read_file(request: Request) -> Response:
    body = await parse_body(request, ReadRequest)
    knowledge = knowledge_service(request)
    named = await asyncio.to_thread(knowledge.documents.named, request.path_params["space_id"], body.path)
    if not named:
        raise NotFound(
            f"no document {body.path!r} in knowledge space {request.path_params['space_id']!r}", field="path"
        )
    text = await asyncio.to_thread(knowledge.document_text, named[0].id)
    return await envelope(numbered(body.path, named[0].doc_type, text, body.start_line, body.end_line))


def numbered(path: str, kind: str, text: str, start_line: int, end_line: int) -> str:
    """Lines `start_line`..`end_line` of `text`, numbered as DB-GPT's `kb_cat` shows them (capped)."""
    if not text:
        return f"File {path!r} is empty"
    lines = text.split("\n")
    first, wanted = start_line - 1, min(end_line or len(lines), len(lines))
    last = min(wanted, first + MAX_READ_LINES)
    shown = [f"{path} ({kind}, {len(lines)} lines)"]
    shown += [f"  {number:>4} | {line}" for number, line in enumerate(lines[first:last], start=start_line)]
    if last < wanted:
        shown.append(f"  ... (truncated, use start_line={last + 1} to continue)")
    result = "\n".join(shown)
    if len(result) > MAX_READ_CHARS:
        result = (
            result[:MAX_READ_CHARS] + f"\n\n... [Output truncated at {MAX_READ_CHARS} chars: use start_line/end_line]"
        )
    return result


TOOL_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "GET",
            BASE + "/{space_id}/stats",
            "A space's totals: documents and searchable chunks (DB-GPT's space stats)",
            params=(SPACE_NAME_OR_ID,),
            response=SpaceStats,
            enveloped=True,
        ),
        space_stats,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/{space_id}/tools/ls-json",
            "A folder of a space's file tree (its documents, named by their names)",
            params=(SPACE_NAME_OR_ID,),
            body=ListingRequest,
            response=Listing,
            enveloped=True,
        ),
        list_files,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/{space_id}/tools/cat",
            "Numbered lines of a document, by its path in the space's file tree",
            params=(SPACE_NAME_OR_ID,),
            body=ReadRequest,
            response=NumberedText,
            enveloped=True,
        ),
        read_file,
    ),
]
