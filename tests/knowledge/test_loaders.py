"""Documents read as text sections: every format's text comes out (PDF pages numbered, headings as markdown `#`
lines, web pages without their scripts), malformed or empty files are refused naming the format, and the work is
bounded (zip bombs refused unread, page and row caps)."""

from __future__ import annotations

import datetime
import io
import json
import time
import zipfile

import docx
import openpyxl  # type: ignore[import-untyped]
import pytest

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.knowledge.loaders import FORMATS, Section, document_type, full_text, load_sections


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A valid PDF, one page per item, each line of text drawn in Helvetica (a page without lines has no text)."""

    def escaped(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        drawn = "".join(f"({escaped(line)}) Tj 0 -16 Td " for line in lines)
        stream = f"BT /F1 12 Tf 72 720 Td {drawn}ET".encode() if lines else b""
        resources = "/Resources << /Font << /F1 3 0 R >> >>"
        bodies.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {resources} /Contents {5 + 2 * i} 0 R >>".encode()
        )
        bodies.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Operations guide", 0)
    document.add_heading("Install", 1)
    document.add_paragraph("Run the installer as an administrator.")
    document.add_heading("From source", 2)
    document.add_paragraph("Clone the repository.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, column), text in {(0, 0): "setting", (0, 1): "default", (1, 0): "port", (1, 1): "5670"}.items():
        table.cell(row, column).text = text
    document.add_paragraph("Restart after changing a setting.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    people = workbook.active
    people.title = "People"
    people.append(["name", "born", "score"])
    people.append(["Bob", datetime.datetime(1990, 5, 17), 3.5])
    people.append([None, None, None])
    people.append(["Ann", None, 4])
    workbook.create_sheet("Empty")
    cities = workbook.create_sheet("Cities")
    cities.append(["city", "country"])
    cities.append(["Lyon", "France"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def only_text(data: bytes, doc_type: str) -> str:
    sections = load_sections(data, doc_type)
    assert len(sections) == 1
    return sections[0].text


@pytest.mark.parametrize(
    ("file_name", "declared", "expected"),
    [
        ("guide.PDF", None, "pdf"),
        ("dir/page.htm", None, "html"),
        ("C:\\docs\\notes.md", None, "md"),
        ("notes", "TEXT", "txt"),
        ("report.docx", "DOCUMENT", "docx"),
        ("export.bin", ".csv", "csv"),
        ("data.json", "", "json"),
        ("sheet.xlsx", None, "xlsx"),
    ],
)
def test_the_type_comes_from_the_declared_type_or_the_extension(file_name, declared, expected) -> None:
    assert document_type(file_name, declared) == expected


@pytest.mark.parametrize(("file_name", "declared"), [("setup.exe", None), ("slides.pptx", None), ("x.txt", "URL")])
def test_an_unsupported_type_is_refused(file_name, declared) -> None:
    with pytest.raises(InvalidInput, match="unsupported document type") as refused:
        document_type(file_name, declared)
    assert all(name in refused.value.message for name in FORMATS)


def test_a_name_without_extension_needs_a_declared_type() -> None:
    with pytest.raises(InvalidInput, match="cannot tell the type of 'README'"):
        document_type("README", None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("naïve café ✓".encode(), "naïve café ✓"),
        ("\ufeffwith a BOM".encode(), "with a BOM"),
        ("legacy café \u2013 “quoted”".encode("cp1252"), "legacy café \u2013 “quoted”"),
        ("UTF-16 text ✓".encode("utf-16"), "UTF-16 text ✓"),
        (b"windows\r\nline ends\r\n", "windows\nline ends"),
    ],
)
def test_text_files_are_decoded(data: bytes, expected: str) -> None:
    assert only_text(data, "txt") == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\x81\x8d\x8f\x90\x9d", "not text in UTF-8, UTF-16 or Windows-1252"), (b"PK\x03\x04\x00\x00", "binary")],
)
def test_bytes_that_are_not_text_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as refused:
        load_sections(data, "txt")
    assert refused.value.message.startswith("txt: ")


def test_markdown_is_kept_as_written() -> None:
    text = "# Title\n\nSome *emphasis*.\n\n```sql\nSELECT 1;\n```"
    assert only_text(text.encode(), "md") == text


def test_a_web_page_reads_as_text_with_markdown_headings() -> None:
    page = b"""<!doctype html><html><head><title>Ignored title</title><style>.secret-style { color: red }</style>
    <script>var secretScript = "leak";</script></head><body>
    <h1>Guide</h1><p>Hello <b>world</b>,
       spread over   lines.</p><!-- a secret comment --><noscript>secret noscript</noscript>
    <h2>Install</h2><ul><li>first</li><li>second <a href="#">link</a></li></ul>
    <table><tr><th>setting</th><th>default</th></tr><tr><td>port</td><td>5670</td></tr></table>
    <div>line one<br>line two</div><script>console.log("secret again")</script></body></html>"""
    text = only_text(page, "html")
    assert text == (
        "# Guide\n\nHello world, spread over lines.\n\n## Install\n\n- first\n- second link\n\n"
        "setting | default\nport | 5670\n\nline one\nline two"
    )
    assert "secret" not in text.lower() and "Ignored" not in text


def test_a_deeply_nested_page_is_read_in_linear_time() -> None:
    page = b"<div>" * 20_000 + b"<h3>deep</h3>text" + b"</div>" * 20_000
    started = time.perf_counter()
    assert only_text(page, "html") == "### deep\n\ntext"
    assert time.perf_counter() - started < 5


def test_a_web_page_in_a_declared_charset_is_decoded_with_it() -> None:
    page = '<html><head><meta charset="gbk"></head><body><p>知识库</p></body></html>'.encode("gbk")
    assert only_text(page, "html") == "知识库"


def test_pdf_pages_are_sections_numbered_from_one() -> None:
    data = pdf_bytes([["Hello page one", "a second line (with parentheses)"], [], ["Page three"]])
    sections = load_sections(data, "pdf")
    assert [(section.page, section.text) for section in sections] == [
        (1, "Hello page one\na second line (with parentheses)"),
        (3, "Page three"),
    ]
    text = full_text(sections)
    assert all(text[s.start : s.start + len(s.text)] == s.text for s in sections)
    assert text == "Hello page one\na second line (with parentheses)\n\nPage three"


def test_a_pdf_without_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"pdf: no text found .*scanned"):
        load_sections(pdf_bytes([[], []]), "pdf")


def test_a_pdf_beyond_the_page_cap_is_refused() -> None:
    with pytest.raises(InvalidInput, match="pdf: the file has 5 pages, more than the 4 allowed"):
        load_sections(pdf_bytes([["text"]] * 5), "pdf", max_pages=4)


def test_a_word_document_keeps_headings_lists_and_tables() -> None:
    assert only_text(docx_bytes(), "docx") == (
        "# Operations guide\n\n# Install\n\nRun the installer as an administrator.\n\n## From source\n\n"
        "- Clone the repository.\n\nsetting | default\nport | 5670\n\nRestart after changing a setting."
    )


def test_worksheets_are_sections_of_named_rows() -> None:
    sections = load_sections(xlsx_bytes(), "xlsx")
    assert sections == [
        Section("name: Bob; born: 1990-05-17; score: 3.5\nname: Ann; score: 4", 0, page=1, sheet="People"),
        Section("city: Lyon; country: France", 61, page=3, sheet="Cities"),
    ]


def test_a_sheet_skipping_a_million_row_numbers_is_read_quickly() -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["key", "value"])
    workbook.active.cell(row=1_000_000, column=200, value="far away")
    buffer = io.BytesIO()
    workbook.save(buffer)
    started = time.perf_counter()
    assert only_text(buffer.getvalue(), "xlsx") == "column 200: far away"
    assert time.perf_counter() - started < 5


def test_csv_rows_are_named_by_the_header_with_a_sniffed_delimiter() -> None:
    data = b'name;city;note\nBob;Lyon;"says ""hi""\nthen leaves"\nAnn;;\n\n'
    assert only_text(data, "csv") == 'name: Bob; city: Lyon; note: says "hi" then leaves\nname: Ann'


def test_a_csv_with_a_header_only_gives_the_header() -> None:
    assert only_text(b"id,name,email\n", "csv") == "id, name, email"


def test_json_becomes_one_path_and_value_per_line() -> None:
    servers = [{"host": "db1", "port": 5432, "tls": True}]
    document: dict[str, object] = {"servers": servers, "owner": None, "odd key": {"a.b": []}}
    assert only_text(json.dumps(document).encode(), "json") == (
        'servers[0].host: db1\nservers[0].port: 5432\nservers[0].tls: true\nowner: null\n["odd key"]["a.b"]: []'
    )


def test_deeply_nested_json_is_read_without_recursion() -> None:
    assert only_text(b"[" * 500 + b'"deep"' + b"]" * 500, "json") == "[0]" * 500 + ": deep"


@pytest.mark.parametrize(
    ("data", "doc_type", "reason"),
    [
        (b"%PDF-1.4\nnot really a pdf", "pdf", "pdf: the file cannot be read"),
        (pdf_bytes([["cut short"]])[:80], "pdf", "pdf: "),
        (b"plain bytes", "docx", "docx: the file is not a Word document"),
        (xlsx_bytes(), "docx", r"docx: .*no word/document.xml"),
        (docx_bytes(), "xlsx", r"xlsx: .*no xl/workbook.xml"),
        (docx_bytes()[:500], "docx", "docx: the file is not a Word document"),
        (zip_bytes({"word/document.xml": b"<not-closed"}), "docx", "docx: the file cannot be read"),
        (b'{"a": 1,}', "json", "json: the file is not valid JSON"),
        (b"   \n\t\n", "txt", "txt: no text found"),
        (b"<html><script>only a script</script></html>", "html", "html: no text found"),
    ],
)
def test_malformed_or_empty_files_are_refused_naming_the_format(data: bytes, doc_type: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        load_sections(data, doc_type)


@pytest.mark.parametrize(("doc_type", "member"), [("docx", "word/document.xml"), ("xlsx", "xl/workbook.xml")])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(doc_type: str, member: str, monkeypatch) -> None:
    bomb = zip_bytes({"[Content_Types].xml": b"<Types/>", member: b"\0" * 20_000_000})
    assert len(bomb) < 100_000
    opened: list[str] = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *args, **kwargs: opened.append("opened"))
    with pytest.raises(InvalidInput, match=f"{doc_type}: the file unpacks to 20000008 bytes, more than the 1000000"):
        load_sections(bomb, doc_type, max_bytes=1_000_000)
    assert opened == []


def test_text_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="md: the document's text is longer than 100 characters"):
        load_sections(b"x" * 101, "md", max_bytes=100)


def test_sections_offsets_point_into_the_full_text() -> None:
    sections = load_sections(xlsx_bytes(), "xlsx")
    text = full_text(sections)
    assert [text[s.start : s.start + len(s.text)] for s in sections] == [s.text for s in sections]
    assert sections[1].start == len(sections[0].text) + 2
