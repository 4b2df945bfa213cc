"""Splitting a document's sections into chunks under DB-GPT's strategy names (`CHUNK_BY_SIZE`, ...).

Every chunk is a piece of the document's full text as it stands (`full_text[chunk.start:chunk.end] ==
chunk.content`): splitters choose where to cut, the content is taken from the source. Chunks never cross a
section (a PDF page, a worksheet); no chunk is longer than `chunk_size`, except under `CHUNK_BY_PAGE`, whose
pages are cut at `MAX_CHUNK_SIZE` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from typing import NamedTuple

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.knowledge.loaders import Section

MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 8192
MAX_CHUNKS = 200_000
_HEADERS = [("#" * level, f"h{level}") for level in range(1, 7)]
_ESCAPE = re.compile(r"\\([ntr])")
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r"}
_BLANK_LINES = re.compile(r"\n\s*\n")
_NON_SPACE = re.compile(r"\S")


class ChunkStrategy(StrEnum):
    """DB-GPT's chunk strategies, spelled as it spells them; `Automatic` picks one by the document's type."""

    Automatic = "Automatic"
    CHUNK_BY_SIZE = "CHUNK_BY_SIZE"
    CHUNK_BY_PAGE = "CHUNK_BY_PAGE"
    CHUNK_BY_PARAGRAPH = "CHUNK_BY_PARAGRAPH"
    CHUNK_BY_SEPARATOR = "CHUNK_BY_SEPARATOR"
    CHUNK_BY_MARKDOWN_HEADER = "CHUNK_BY_MARKDOWN_HEADER"


class ChunkParameters(BaseModel):
    """How a document is cut into chunks: DB-GPT's `ChunkParameters` (its `text_splitter` and `splitter_type`,
    which name Python objects, are ignored). Sizes are in characters."""

    model_config = ConfigDict(frozen=True)

    chunk_strategy: ChunkStrategy = Field(
        default=ChunkStrategy.Automatic,
        description="`Automatic` (markdown headers for md, html and docx; size for the others) or a DB-GPT strategy.",
    )
    chunk_size: int = Field(default=512, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE, description="Longest chunk.")
    chunk_overlap: int = Field(
        default=50,
        ge=0,
        validate_default=True,
        description="Characters repeated from one chunk in the next one (smaller than chunk_size).",
    )
    separator: str = Field(
        default="\n", min_length=1, max_length=64, description="Where CHUNK_BY_SEPARATOR cuts (`\\n` is a newline)."
    )
    enable_merge: bool = Field(
        default=False, description="CHUNK_BY_SEPARATOR: join consecutive pieces while they fit in chunk_size."
    )

    @field_validator("chunk_strategy", "enable_merge", mode="before")
    @classmethod
    def _unset_is_default(cls, value: object, info: ValidationInfo) -> object:
        """DB-GPT sends null (or an empty strategy) for "not chosen"."""
        if value is None or value == "":
            return ChunkStrategy.Automatic if info.field_name == "chunk_strategy" else False
        return value

    @field_validator("separator")
    @classmethod
    def _unescaped(cls, value: str) -> str:
        """`\\n`, `\\t` and `\\r` typed in a form (DB-GPT's shows the default as `\\n`) are the characters."""
        return _ESCAPE.sub(lambda match: _ESCAPED[match[1]], value)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise ValueError(f"chunk_overlap must be smaller than chunk_size ({value} >= {size})")
        return value


class Chunk(BaseModel):
    """A piece of a document: `start`/`end` are its offsets in the document's full text, `headers` the markdown
    header path above it (CHUNK_BY_MARKDOWN_HEADER only)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position in the document, from 0.")
    content: str
    start: int
    end: int
    page: int | None = None
    sheet: str | None = None
    headers: list[str] = Field(default_factory=list)


class _Piece(NamedTuple):
    """A chunk's text and its offset in its section."""

    start: int
    text: str
    headers: tuple[str, ...] = ()


def automatic_strategy(doc_type: str) -> ChunkStrategy:
    """What `Automatic` means for a document type: markdown headers where the loader writes them (md, html, docx),
    size for the rest (a PDF's size chunks still keep their page)."""
    return ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER if doc_type in ("md", "html", "docx") else ChunkStrategy.CHUNK_BY_SIZE


def split_sections(
    sections: Sequence[Section],
    doc_type: str,
    parameters: ChunkParameters | None = None,
    *,
    max_chunks: int = MAX_CHUNKS,
) -> list[Chunk]:
    """The chunks of a document's sections, numbered from 0; a document that would make more than `max_chunks`
    chunks is refused before it is split (when its size tells) or as soon as it passes the count."""
    params = parameters or ChunkParameters()
    strategy = params.chunk_strategy
    if strategy is ChunkStrategy.Automatic:
        strategy = automatic_strategy(doc_type)
    longest = MAX_CHUNK_SIZE if strategy is ChunkStrategy.CHUNK_BY_PAGE else params.chunk_size
    if sum(len("".join(section.text.split())) for section in sections) > longest * max_chunks:
        raise _too_many(max_chunks)
    chunks: list[Chunk] = []
    for section in sections:
        for piece in _STRATEGIES[strategy](section.text, params):
            if len(chunks) == max_chunks:
                raise _too_many(max_chunks)
            start = section.start + piece.start
            chunks.append(
                Chunk(
                    index=len(chunks),
                    content=piece.text,
                    start=start,
                    end=start + len(piece.text),
                    page=section.page,
                    sheet=section.sheet,
                    headers=list(piece.headers),
                )
            )
    return chunks


def _too_many(max_chunks: int) -> InvalidInput:
    return InvalidInput(f"the document would make more than {max_chunks} chunks: choose a larger chunk_size")


def _by_size(text: str, params: ChunkParameters) -> Iterator[_Piece]:
    return _sized(text, params.chunk_size, params.chunk_overlap)


def _by_page(text: str, params: ChunkParameters) -> Iterator[_Piece]:
    return _sized(text, MAX_CHUNK_SIZE, params.chunk_overlap)


def _by_paragraph(text: str, params: ChunkParameters) -> Iterator[_Piece]:
    """Blank-line-separated paragraphs; a longer one than chunk_size is cut by size."""
    for start, paragraph in _pieces(text, _BLANK_LINES):
        yield from _sized(paragraph, params.chunk_size, params.chunk_overlap, start)


def _by_separator(text: str, params: ChunkParameters) -> Iterator[_Piece]:
    """Pieces between separators (joined while they fit in chunk_size, with enable_merge); a longer piece than
    chunk_size is cut by size."""
    pieces = _pieces(text, re.compile(re.escape(params.separator)))
    if params.enable_merge:
        pieces = _merged(text, pieces, params.chunk_size)
    for start, piece in pieces:
        yield from _sized(piece, params.chunk_size, params.chunk_overlap, start)


def _by_header(text: str, params: ChunkParameters) -> Iterator[_Piece]:
    """LangChain's markdown header split (headers kept in the text), each part's span found in the source; a part
    longer than chunk_size is cut by size and keeps its header path."""
    documents = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=False).split_text(text)
    lines = _content_lines(text)
    cursor = 0
    for document in documents:
        wanted = [key for key in map(_line_key, document.page_content.split("\n")) if key]
        if not wanted:
            continue
        first = next((i for i in range(cursor, len(lines)) if lines[i][2] == wanted[0]), None)
        if first is None or first + len(wanted) > len(lines):
            continue  # never seen: every line LangChain keeps is a line of the source, in order
        cursor = first + len(wanted)
        start, end = lines[first][0], lines[cursor - 1][1]
        headers = tuple(title for _, name in _HEADERS if (title := document.metadata.get(name)))  # "#" alone: none
        yield from _sized(text[start:end], params.chunk_size, params.chunk_overlap, start, headers)


_STRATEGIES: dict[ChunkStrategy, Callable[[str, ChunkParameters], Iterator[_Piece]]] = {
    ChunkStrategy.CHUNK_BY_SIZE: _by_size,
    ChunkStrategy.CHUNK_BY_PAGE: _by_page,
    ChunkStrategy.CHUNK_BY_PARAGRAPH: _by_paragraph,
    ChunkStrategy.CHUNK_BY_SEPARATOR: _by_separator,
    ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER: _by_header,
}


def _sized(text: str, size: int, overlap: int, offset: int = 0, headers: tuple[str, ...] = ()) -> Iterator[_Piece]:
    """`text` (at `offset` in its section) as one piece, or cut by LangChain's recursive splitter when longer than
    `size`, each cut found in `text` (see `_next_start`)."""
    if len(text) <= size:
        yield _Piece(offset, text, headers)
        return
    start = end = 0
    for piece in RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap).split_text(text):
        found = _next_start(text, piece, start, end, overlap)
        if found is not None:
            start, end = found, found + len(piece)
            yield _Piece(offset + start, piece, headers)


def _next_start(text: str, piece: str, start: int, end: int, overlap: int) -> int | None:
    """Where the splitter's next piece is, the previous one being `text[start:end]`: at most `overlap` before that
    end, ending past it, and starting at the latest where the text resumes (the pieces cover the text). In a text
    that repeats itself this may be an earlier copy of the piece: the same characters.

    None: the piece is within the previous one (the splitter repeats an overlap followed by white space only).
    """
    resumes = match.start() if (match := _NON_SPACE.search(text, end)) else len(text)
    found = text.find(piece, max(end - overlap, end - len(piece) + 1, 0), resumes + len(piece))
    if found < 0 and text.find(piece, start, end) < 0:
        found = text.find(piece, max(end - overlap, 0))
    return found if found >= 0 else None


def _pieces(text: str, separator: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """The non-blank pieces of `text` between matches of `separator`, stripped, with their offsets."""
    position = 0
    for match in separator.finditer(text):
        yield from _stripped(text, position, match.start())
        position = match.end()
    yield from _stripped(text, position, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    piece = text[start:end]
    content = piece.strip()
    if content:
        yield start + len(piece) - len(piece.lstrip()), content


def _merged(text: str, pieces: Iterator[tuple[int, str]], size: int) -> Iterator[tuple[int, str]]:
    """Consecutive pieces as one (the source between them included) while the span fits in `size`."""
    start = end = -1
    for piece_start, piece in pieces:
        piece_end = piece_start + len(piece)
        if start >= 0 and piece_end - start <= size:
            end = piece_end
            continue
        if start >= 0:
            yield start, text[start:end]
        start, end = piece_start, piece_end
    if start >= 0:
        yield start, text[start:end]


def _line_key(line: str) -> str:
    """A line as LangChain's header splitter may have rewritten it: without white space and unprintable characters."""
    return "".join(char for char in line if char.isprintable() and not char.isspace())


def _content_lines(text: str) -> list[tuple[int, int, str]]:
    """The section's lines that hold text: where each starts and ends (white space off) and its `_line_key`."""
    lines = []
    position = 0
    for line in text.split("\n"):
        key = _line_key(line)
        if key:
            start = position + len(line) - len(line.lstrip())
            lines.append((start, position + len(line.rstrip()), key))
        position += len(line) + 1
    return lines
