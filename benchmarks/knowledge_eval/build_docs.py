"""Convert pages of the CPython 3.11 HTML documentation into the markdown files under ``docs/``.

The HTML comes from Debian's ``python3.11-doc`` package, unpacked without installing it::

    cd /tmp && apt-get download python3.11-doc && dpkg -x python3.11-doc_*_all.deb pydoc
    .venv/bin/python -m benchmarks.knowledge_eval.build_docs /tmp/pydoc/usr/share/doc/python3.11/html

Each page's main body becomes one markdown file: headings become ``#`` lines, each paragraph one line, code blocks
fenced, API entries a backticked signature line followed by their description. Typographic quotes and
non-breaking spaces are normalised to ASCII so that passages can be quoted exactly.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

HERE = Path(__file__).resolve().parent
DOCS_DIR = HERE / "docs"
LICENSE_FILE = HERE / "LICENSE-python-docs"
# the licence page's section on third-party software bundled with CPython is not about the documentation
_OTHER_LICENSES = ("licenses-and-acknowledgements-for-incorporated-software",)

# output file name -> (page of the HTML documentation relative to its root, ids of sections left out for size)
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "csv.md": ("library/csv.html", ()),
    "json.md": ("library/json.html", ()),
    "sqlite3.md": (
        "library/sqlite3.html",
        (
            "module-constants",
            "connection-objects",
            "blob-objects",
            "prepareprotocol-objects",
            "default-adapters-and-converters",
            "how-to-adapt-custom-python-types-to-sqlite-values",
            "how-to-convert-sqlite-values-to-custom-python-types",
            "adapter-and-converter-recipes",
        ),
    ),
    "argparse-tutorial.md": ("howto/argparse.html", ()),
    "logging-howto.md": (
        "howto/logging.html",
        (
            "configuring-logging",
            "optimization",
            "exceptions-raised-during-logging",
            "using-arbitrary-objects-as-messages",
        ),
    ),
    "pathlib.md": ("library/pathlib.html", ("correspondence-to-tools-in-the-os-module",)),
    "itertools.md": ("library/itertools.html", ("itertools-recipes",)),
    "functools.md": ("library/functools.html", ()),
    "collections.md": (
        "library/collections.html",
        (
            "chainmap-examples-and-recipes",
            "deque-recipes",
            "ordereddict-examples-and-recipes",
            "userdict-objects",
            "userlist-objects",
            "userstring-objects",
        ),
    ),
    "shutil.md": ("library/shutil.html", ()),
    "zipfile.md": ("library/zipfile.html", ()),
    "asyncio-queue.md": ("library/asyncio-queue.html", ()),
    "queue.md": ("library/queue.html", ()),
    "heapq.md": ("library/heapq.html", ()),
    "bisect.md": ("library/bisect.html", ()),
    "secrets.md": ("library/secrets.html", ()),
    "random.md": ("library/random.html", ()),
    "hashlib.md": ("library/hashlib.html", ()),
    "tempfile.md": ("library/tempfile.html", ()),
    "gzip.md": ("library/gzip.html", ()),
    "timeit.md": ("library/timeit.html", ()),
    "textwrap.md": ("library/textwrap.html", ()),
    "sorting-howto.md": ("howto/sorting.html", ()),
    "enum.md": ("library/enum.html", ()),
}

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00a0": " ",
        "\u2009": " ",
        "\u200b": "",
        "\u00b6": "",  # the pilcrow of header links
    }
)
_SPACES = re.compile(r"\s+")
_BLOCK_TAGS = {"p", "pre", "div", "section", "dl", "ul", "ol", "table", "blockquote", "aside", "h1", "h2", "h3"}
_BLOCK_TAGS |= {"h4", "h5", "h6", "hr", "figure", "span.target"}


def _clean(text: str) -> str:
    return text.translate(_TRANSLATE)


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _inline(node: Tag | NavigableString) -> str:
    """The text of an inline node, inline code in backticks, whitespace collapsed."""
    if isinstance(node, NavigableString):
        return _clean(str(node))
    if "headerlink" in _classes(node):
        return ""
    if node.name == "code":
        text = _SPACES.sub(" ", _clean(node.get_text())).strip()
        return f"`{text}`" if text else ""
    return "".join(_inline(child) for child in node.children if isinstance(child, Tag | NavigableString))


def _line(node: Tag) -> str:
    return _SPACES.sub(" ", _inline(node)).strip()


def _is_block(node: Tag) -> bool:
    return node.name in _BLOCK_TAGS


class _Renderer:
    def __init__(self) -> None:
        self.blocks: list[str] = []

    def add(self, text: str) -> None:
        if text.strip():
            self.blocks.append(text.rstrip())

    def children(self, node: Tag) -> None:
        inline: list[str] = []
        for child in node.children:
            if isinstance(child, Tag) and _is_block(child):
                self._flush(inline)
                self.block(child)
            elif isinstance(child, Tag | NavigableString):
                inline.append(_inline(child))
        self._flush(inline)

    def _flush(self, inline: list[str]) -> None:
        text = _SPACES.sub(" ", "".join(inline)).strip()
        if text:
            self.add(text)
        inline.clear()

    def block(self, node: Tag) -> None:
        name = node.name
        classes = _classes(node)
        if name in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.add("#" * int(name[1]) + " " + _line(node))
        elif name == "p":
            if "admonition-title" in classes:
                self.add(f"**{_line(node)}**")
            else:
                self.add(_line(node))
        elif name == "pre":
            code = "\n".join(line.rstrip() for line in _clean(node.get_text()).rstrip("\n").splitlines())
            self.add(f"```\n{code}\n```")
        elif name in {"ul", "ol"}:
            self._list(node, ordered=name == "ol")
        elif name == "dl":
            self._definitions(node)
        elif name == "table":
            self._table(node)
        elif name == "hr" or "sphinxsidebar" in classes:
            return
        else:  # section, div, blockquote, aside, figure: containers
            self.children(node)

    def _list(self, node: Tag, *, ordered: bool) -> None:
        for number, item in enumerate(node.find_all("li", recursive=False), 1):
            sub = _Renderer()
            sub.children(item)
            marker = f"{number}. " if ordered else "- "
            text = "\n".join(sub.blocks)
            indented = text.replace("\n", "\n   " if ordered else "\n  ")
            self.add(marker + indented)

    def _definitions(self, node: Tag) -> None:
        api = "py" in _classes(node)
        for child in node.find_all(["dt", "dd"], recursive=False):
            if child.name == "dt":
                term = _SPACES.sub(" ", _clean(child.get_text())).strip() if api else _line(child)
                self.add(f"`{term}`" if api else f"**{term}**")
            else:
                self.children(child)

    def _table(self, node: Tag) -> None:
        rows: list[list[str]] = []
        for row in node.find_all("tr"):
            rows.append([_line(cell).replace("|", "\\|") for cell in row.find_all(["th", "td"], recursive=False)])
        if not rows:
            return
        width = max(len(row) for row in rows)
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * width)
        self.add("\n".join(lines))


def convert(html: str, exclude: tuple[str, ...] = ()) -> str:
    """Markdown for the main body of one documentation page, less the sections whose ids are in ``exclude``."""
    soup = BeautifulSoup(html, "lxml")
    body = soup.find("div", attrs={"role": "main"})
    if not isinstance(body, Tag):
        raise ValueError("no main body in the page")
    for section_id in exclude:
        section = body.find("section", id=section_id)
        if not isinstance(section, Tag):
            raise ValueError(f"no section with id {section_id!r}")
        section.decompose()
    renderer = _Renderer()
    renderer.children(body)
    return "\n\n".join(renderer.blocks) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("html_root", type=Path, help="the html/ folder of the python3.11-doc package")
    parser.add_argument("--out", type=Path, default=DOCS_DIR)
    parser.add_argument("--license-out", type=Path, default=LICENSE_FILE)
    args = parser.parse_args(argv)
    root: Path = args.html_root
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    version = _release(root)
    total = 0
    for name, (page, exclude) in PAGES.items():
        text = convert((root / page).read_text(encoding="utf-8"), exclude)
        (out / name).write_text(text, encoding="utf-8")
        total += len(text.encode())
        left_out = f" less sections {', '.join(exclude)}" if exclude else ""
        print(f"{name:22} {len(text.encode()):7,d} bytes  <- {page}{left_out}")
    print(f"{len(PAGES)} documents, {total:,d} bytes, from the Python {version} documentation")
    license_text = (
        f"Licence of the Python {version} documentation, converted from copyright.html and license.html of Debian's\n"
        "python3.11-doc package (the section on third-party software incorporated in CPython is left out).\n\n"
        + convert((root / "copyright.html").read_text(encoding="utf-8"))
        + "\n"
        + convert((root / "license.html").read_text(encoding="utf-8"), _OTHER_LICENSES)
    )
    args.license_out.write_text(license_text, encoding="utf-8")
    print(f"licence text -> {args.license_out}")
    return 0


def _release(root: Path) -> str:
    """The documentation's release, as its Sphinx build recorded it."""
    options = (root / "_static" / "documentation_options.js").read_text(encoding="utf-8")
    found = re.search(r"VERSION: *'([^']+)'", options)
    if found is None:
        raise ValueError("no VERSION in _static/documentation_options.js")
    return found.group(1)


if __name__ == "__main__":
    sys.exit(main())
