"""The house rules, checked on the source: the core imports no face, no face imports another, no face but REST
renders or reads DB-GPT's markup, and modules stay small (a longer one says why in its docstring)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACE_LIBRARIES = ("starlette", "sse_starlette", "uvicorn", "IPython", "mcp.server", "langchain_core.tools")
MAX_LINES = 400
LONG_MODULES = {"dbgpt_tools/sql/sample_db.py": "most of it is data"}


def modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module `path` imports (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def uses(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported(path) if name.startswith(prefixes))


CORE = [path for path in modules("dbgpt_tools") if "langchain" not in path.relative_to(ROOT / "dbgpt_tools").parts]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_face(path: Path) -> None:
    assert uses(path, ("server", "jupyter_magic", "dbgpt_tools.langchain", *FACE_LIBRARIES)) == []


@pytest.mark.parametrize(
    ("face", "others"),
    [
        ("server", ("jupyter_magic", "dbgpt_tools.langchain")),
        ("jupyter_magic", ("server", "dbgpt_tools.langchain")),
        ("dbgpt_tools/langchain", ("server", "jupyter_magic")),
    ],
)
def test_no_face_imports_another(face: str, others: tuple[str, ...]) -> None:
    assert {str(path.relative_to(ROOT)): uses(path, others) for path in modules(face) if uses(path, others)} == {}


def test_only_the_rest_face_renders_markup() -> None:
    readers = {
        str(path.relative_to(ROOT))
        for path in modules("server", "jupyter_magic", "dbgpt_tools/langchain", "dbgpt_tools/operations")
        if uses(path, ("dbgpt_tools.chat.markup",))
    }
    assert readers == {"server/api/v2/chat.py", "server/api/v1/dialogue.py", "server/api/v1/react.py"}  # REST only
    for path in modules("server", "jupyter_magic", "dbgpt_tools/langchain", "dbgpt_tools/operations"):
        rest = str(path.relative_to(ROOT)).startswith("server/api/")
        assert "chart-view" not in path.read_text() or rest, path


@pytest.mark.parametrize(
    "path", modules("dbgpt_tools", "server", "jupyter_magic"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_modules_stay_small_or_say_why(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    lines = len(path.read_text().splitlines())
    if name in LONG_MODULES:
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines > MAX_LINES and LONG_MODULES[name] in docstring
    else:
        assert lines <= MAX_LINES
