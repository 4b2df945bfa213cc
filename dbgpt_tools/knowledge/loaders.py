"""Reading a document's bytes as text sections (a PDF page, a worksheet, or the whole of a text file), each with
its offset in the document's full text: the sections' texts joined by a blank line (`full_text`).

A file that cannot be read, or that holds no text, is refused with `InvalidInput` naming the format; so is one
that would unpack to more than `max_bytes` (zip members, or the text read) or has more than `max_pages` pages.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NamedTuple

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, Tag

from dbgpt_tools.errors import DbgptError, InvalidInput
from dbgpt_tools.knowledge.office import Part, read_docx, read_pdf, read_xlsx, table_lines

FORMATS = ("txt", "md", "html", "pdf", "docx", "csv", "xlsx", "json")
SEPARATOR = "\n\n"
DEFAULT_MAX_BYTES = 100_000_000
DEFAULT_MAX_PAGES = 2_000
_ALIASES = {"htm": "html", "markdown": "md", "text": "txt", "document": ""}  # DB-GPT's doc_type TEXT / DOCUMENT
_CSV_SAMPLE = 64 * 1024
_DROPPED_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
_PARAGRAPH_TAGS = {"p", "blockquote", "ul", "ol", "dl", "table", "figure", "hr", "form", "address", "details"}
_LINE_TAGS = {"div", "section", "article", "main", "header", "footer", "nav", "aside", "li", "dt", "dd", "caption"}
_BLANK = "\x1e"  # marks a paragraph's edge in a page's text (white space to `re`): a blank line once tidied
_KEY = re.compile(r"[^\s.\[\]:]+")


class _Mark(NamedTuple):
    """Text a walk of a page writes when it leaves a tag."""

    text: str


@dataclass(frozen=True, slots=True)
class Section:
    """A part of a document's text: `start` is its offset in `full_text(sections)`; `page` is a PDF page (from 1)
    or a worksheet's position, `sheet` the worksheet's name."""

    text: str
    start: int
    page: int | None = None
    sheet: str | None = None


def full_text(sections: Sequence[Section]) -> str:
    """The document's text: its sections joined by a blank line, so `full[s.start:s.start + len(s.text)] == s.text`."""
    return SEPARATOR.join(section.text for section in sections)


def document_type(file_name: str, declared: str | None = None) -> str:
    """The document's format: `declared` when it names one (`pdf`, `.PDF`, `htm`; DB-GPT's `TEXT` is `txt`, its
    `DOCUMENT` defers to the name), else the file name's extension. An unsupported format is refused."""
    given = (declared or "").strip().lower().lstrip(".")
    name = _ALIASES.get(given, given)
    if not name:
        suffix = PurePosixPath(file_name.replace("\\", "/")).suffix.lower().lstrip(".")
        name = _ALIASES.get(suffix, suffix) or ""
        if not name:
            raise InvalidInput(f"cannot tell the type of {file_name!r}: give a file extension ({', '.join(FORMATS)})")
    if name not in FORMATS:
        raise InvalidInput(f"unsupported document type {name!r}: supported are {', '.join(FORMATS)}")
    return name


def load_sections(
    data: bytes, doc_type: str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pages: int = DEFAULT_MAX_PAGES
) -> list[Section]:
    """A document's text sections (empty ones left out), read as `doc_type` (one of `FORMATS`).

    `max_bytes` bounds the uncompressed size of a docx/xlsx package and the characters of text read; `max_pages`
    the pages of a PDF.
    """
    fmt = document_type("", doc_type)
    readers: dict[str, Callable[[], Iterable[Part]]] = {
        "txt": lambda: [Part(decode_text(data, fmt))],
        "md": lambda: [Part(decode_text(data, fmt))],
        "html": lambda: [Part(html_text(data))],
        "csv": lambda: [Part(csv_text(data))],
        "json": lambda: [Part(json_text(data))],
        "pdf": lambda: read_pdf(data, max_pages),
        "docx": lambda: read_docx(data, max_bytes),
        "xlsx": lambda: read_xlsx(data, max_bytes),
    }
    with _readable(fmt):
        sections = _sections(readers[fmt](), fmt, max_bytes)
    if not sections:
        scanned = " (a scanned PDF without a text layer?)" if fmt == "pdf" else ""
        raise InvalidInput(f"{fmt}: no text found in the document{scanned}")
    return sections


def decode_text(data: bytes, fmt: str) -> str:
    """A text file's characters: UTF-8 (a BOM is dropped), UTF-16 when it starts with its BOM, else Windows-1252
    (legacy Western files; every Latin-1 text decodes as it). NUL bytes or a byte Windows-1252 leaves undefined mean
    the file is not text: refused."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInput(f"{fmt}: the file starts like UTF-16 text but is not valid UTF-16") from None
    if b"\x00" in data:
        raise InvalidInput(f"{fmt}: the file is binary, not text (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise InvalidInput(f"{fmt}: the file is not text in UTF-8, UTF-16 or Windows-1252") from None


def html_text(data: bytes) -> str:
    """A web page's readable text: scripts, styles and the head left out, a line per block, headings as markdown
    `#` lines, list items as `- ` lines and table rows as `cell | cell` lines. A charset the page declares is used
    when its bytes are not UTF-8."""
    soup = BeautifulSoup(_html_markup(data), "lxml")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    out: list[str] = []
    stack: list[PageElement | _Mark] = [soup]
    while stack:  # a walk, not a rewrite of the tree: bs4 inserts in time proportional to the depth
        node = stack.pop()
        if isinstance(node, _Mark):
            out.append(node.text)
        elif isinstance(node, Tag):
            out.append(_tag_text(node, stack))
        elif type(node) is NavigableString:  # not a comment, a doctype, ...
            out.append(re.sub(r"\s+", " ", node))  # a line break in the source is a space
    return re.sub(r"\s+", _break, "".join(out)).strip()


def _tag_text(tag: Tag, stack: list[PageElement | _Mark]) -> str:
    """A tag's text when it is read whole (a heading, a table row, preformatted text), else the mark it opens with,
    its children and its closing mark pushed on the stack."""
    name = tag.name
    if re.fullmatch(r"h[1-6]", name):
        title = tag.get_text(" ", strip=True)
        return f"{_BLANK}{'#' * int(name[1])} {title}{_BLANK}" if title else "\n"
    if name == "tr":
        cells = (cell.get_text(" ", strip=True) for cell in tag.find_all(["td", "th"], recursive=False))
        return f"\n{' | '.join(cell for cell in cells if cell)}\n"
    if name in ("pre", "textarea"):
        return f"{_BLANK}{tag.get_text()}{_BLANK}"
    if name == "br":
        return "\n"
    mark = _BLANK if name in _PARAGRAPH_TAGS else "\n" if name in _LINE_TAGS else ""
    stack.append(_Mark(mark))
    stack.extend(reversed(tag.contents))
    return f"{mark}- " if name == "li" else mark


def csv_text(data: bytes) -> str:
    """A CSV file's rows as `column: value; ...` lines (see `table_lines`), its delimiter sniffed."""
    text = decode_text(data, "csv")
    sample = text[:_CSV_SAMPLE].rsplit("\n", 1)[0] if len(text) > _CSV_SAMPLE else text
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        return "\n".join(table_lines(csv.reader(io.StringIO(text, newline=""), dialect)))
    except csv.Error as error:
        raise InvalidInput(f"csv: the file cannot be read as CSV ({error})") from None


def json_text(data: bytes) -> str:
    """A JSON document as one `path: value` line per value (`servers[0].host: db1`).

    Flattened rather than pretty-printed because a chunk is retrieved out of context: each line carries the keys
    that give its value a meaning (a size split of indented JSON leaves values whose keys are in another chunk),
    and no characters go to braces and indentation.
    """
    try:
        value = json.loads(decode_text(data, "json"))
    except ValueError as error:
        raise InvalidInput(f"json: the file is not valid JSON ({error})") from None
    lines = []
    stack: list[tuple[str, object]] = [("", value)]
    while stack:  # not recursive: a deeply nested document is as deep as the parser allowed
        path, item = stack.pop()
        if isinstance(item, dict) and item:
            stack.extend((_json_path(path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list) and item:
            stack.extend((f"{path}[{i}]", child) for i, child in reversed(list(enumerate(item))))
        else:
            shown = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            lines.append(f"{path}: {shown}" if path else shown)
    return "\n".join(lines)


def _json_path(path: str, key: str) -> str:
    if _KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _html_markup(data: bytes) -> str:
    """The page's characters: as a text file, but a page that is not UTF-8 is read in the charset it declares."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        declared = EncodingDetector.find_declared_encoding(data, is_html=True)
        if declared and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                return data.decode(declared)
            except (LookupError, UnicodeDecodeError):
                pass
    return decode_text(data, "html")


def _break(space: re.Match[str]) -> str:
    """A run of white space as a blank line (a paragraph's edge is in it), a line break, or a space."""
    return "\n\n" if _BLANK in space[0] else "\n" if "\n" in space[0] else " "


def _sections(parts: Iterable[Part], fmt: str, max_bytes: int) -> list[Section]:
    sections: list[Section] = []
    start = 0
    for part in parts:
        text = part.text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
        if not text:
            continue
        if start + len(text) > max_bytes:
            raise InvalidInput(f"{fmt}: the document's text is longer than {max_bytes} characters")
        sections.append(Section(text, start, part.page, part.sheet))
        start += len(text) + len(SEPARATOR)
    return sections


@contextmanager
def _readable(fmt: str) -> Iterator[None]:
    """A parser's failure on a malformed file as `InvalidInput` naming the format."""
    try:
        yield
    except (DbgptError, MemoryError):
        raise
    except Exception as error:  # pypdf, python-docx, openpyxl and lxml raise many kinds on a malformed file
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise InvalidInput(f"{fmt}: the file cannot be read ({reason})") from error
