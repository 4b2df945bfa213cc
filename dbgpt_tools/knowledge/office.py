"""Reading PDF, Word and Excel files as text parts, within bounds: a page cap for PDF, and for the zip-based formats
the members' uncompressed size checked before anything is unpacked (a zip bomb is refused unread)."""

from __future__ import annotations

import datetime
import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import docx
import openpyxl  # type: ignore[import-untyped]
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PasswordType, PdfReader

from dbgpt_tools.errors import InvalidInput

MAX_ZIP_MEMBERS = 10_000
XLSX_MAX_COLUMNS = 256  # Excel's limit before 2007: wider rows are not text anyone retrieves from
XLSX_MAX_ROWS = 1_048_576  # rows visited in a whole workbook: one Excel sheet's limit
_HEADING = re.compile(r"^Heading ([1-9])$")
_ZIP_PARTS = {"docx": ("word/document.xml", "a Word document"), "xlsx": ("xl/workbook.xml", "an Excel workbook")}


class Part(NamedTuple):
    """Text read from one place of a document: a PDF page, a sheet, or the whole of it."""

    text: str
    page: int | None = None
    sheet: str | None = None


def read_pdf(data: bytes, max_pages: int) -> Iterator[Part]:
    """One part per page (numbered from 1), read with pypdf; a PDF with more than `max_pages` pages is refused."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise InvalidInput("pdf: the file is encrypted with a password")
    pages = len(reader.pages)
    if pages > max_pages:
        raise InvalidInput(f"pdf: the file has {pages} pages, more than the {max_pages} allowed")
    for number, page in enumerate(reader.pages, start=1):
        yield Part(page.extract_text(), page=number)


def read_docx(data: bytes, max_bytes: int) -> Iterator[Part]:
    """The body of a Word document in order: paragraphs (headings as markdown `#` lines), tables a row a line."""
    check_zip(data, "docx", max_bytes)
    document = docx.Document(io.BytesIO(data))
    blocks = (
        _paragraph(block) if isinstance(block, Paragraph) else _table(block) for block in document.iter_inner_content()
    )
    yield Part("\n\n".join(block for block in blocks if block))


def read_xlsx(data: bytes, max_bytes: int) -> Iterator[Part]:
    """One part per worksheet (its 1-based position as the page), rows as `column: value; ...` lines named by the
    sheet's first row; formulas give their cached values. Columns past `XLSX_MAX_COLUMNS` are left out; openpyxl
    makes up an empty row for each row number a sheet skips, so the rows visited are capped (`XLSX_MAX_ROWS`)."""
    check_zip(data, "xlsx", max_bytes)
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        budget = itertools.count()
        for number, sheet in enumerate(workbook.worksheets, start=1):
            sheet.reset_dimensions()  # a declared size is not trusted: it would pad every row to it
            rows = sheet.iter_rows(max_col=XLSX_MAX_COLUMNS, values_only=True)
            yield Part("\n".join(table_lines(_counted(rows, budget))), page=number, sheet=str(sheet.title))
    finally:
        workbook.close()


def check_zip(data: bytes, fmt: str, max_bytes: int) -> None:
    """Refuse a file that is not the zip package `fmt` names, or whose members unpack to more than `max_bytes`
    (sizes from the zip's directory: Python's zipfile stops a member at its declared size)."""
    member, kind = _ZIP_PARTS[fmt]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise InvalidInput(f"{fmt}: the file is not {kind} (not a valid zip package: {error})") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise InvalidInput(f"{fmt}: the file has {len(members)} zip members, more than the {MAX_ZIP_MEMBERS} allowed")
    if member not in {info.filename for info in members}:
        raise InvalidInput(f"{fmt}: the file is not {kind} (its zip package has no {member})")
    unpacked = sum(info.file_size for info in members)
    if unpacked > max_bytes:
        raise InvalidInput(f"{fmt}: the file unpacks to {unpacked} bytes, more than the {max_bytes} allowed")


def table_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Rows as `column: value; column: value` lines, the first non-empty row naming the columns (empty cells left
    out); a table with a header row only gives that row."""
    header: list[str] | None = None
    data_rows = 0
    for row in rows:
        if row.count(None) == len(row):  # fast for the padding rows openpyxl makes up
            continue
        cells = [cell_text(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        names = itertools.chain(header, itertools.repeat(""))  # cells beyond the header's are numbered
        named = enumerate(zip(names, cells, strict=False), start=1)
        pairs = (f"{name or f'column {i}'}: {value}" for i, (name, value) in named if value)
        data_rows += 1
        yield "; ".join(pairs)
    if header is not None and not data_rows:
        yield ", ".join(name for name in header if name)


def cell_text(value: object) -> str:
    """A cell's value as one line of text (dates in ISO form, a midnight date-time as a date)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return " ".join(str(value).split())


def _counted(rows: Iterable[Sequence[object]], budget: Iterator[int]) -> Iterator[Sequence[object]]:
    for row in rows:
        if next(budget) >= XLSX_MAX_ROWS:
            raise InvalidInput(f"xlsx: the workbook has more than {XLSX_MAX_ROWS} rows")
        yield row


def _paragraph(paragraph: Paragraph) -> str:
    text = paragraph.text.strip()
    name = (paragraph.style.name if paragraph.style is not None else None) or ""
    level = 1 if name == "Title" else int(match.group(1)) if (match := _HEADING.match(name)) else 0
    if text and level:
        return f"{'#' * min(level, 6)} {' '.join(text.split())}"
    if text and name.startswith("List"):
        return f"- {text}"
    return text


def _table(table: Table) -> str:
    lines = []
    for row in table.rows:
        cells = [" ".join(cell.text.split()) for cell in row.cells]
        merged = [text for i, text in enumerate(cells) if text and (i == 0 or text != cells[i - 1])]
        if merged:
            lines.append(" | ".join(merged))
    return "\n".join(lines)
