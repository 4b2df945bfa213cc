"""The knowledge retrieval evaluation set: documents from the Python 3.11 documentation and questions about them.

``load_documents()`` gives the documents by file name, ``load_questions()`` the questions, each naming the document
and the exact passage that answers it (see README.md in this folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS_DIR = HERE / "docs"
QUESTIONS_FILE = HERE / "questions.jsonl"
FIELDS = ("id", "question", "doc", "passage", "answer")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    doc: str
    """File name of the document under ``docs/`` that answers the question."""
    passage: str
    """An exact substring of that document, one or two sentences, that answers the question."""
    answer: str
    """A short expected answer; it occurs in ``passage`` (case-insensitively)."""


def load_documents(docs_dir: Path = DOCS_DIR) -> dict[str, str]:
    """The documents' texts by file name (``csv.md`` ...), in name order."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(docs_dir.glob("*.md"))}


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """The questions, in file order. Raises ValueError on a line that is not an object with exactly the fields."""
    questions: list[Question] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or set(row) != set(FIELDS):
                raise ValueError(f"{path.name} line {number}: expected an object with the fields {', '.join(FIELDS)}")
            values = [row[field] for field in FIELDS]
            if not all(isinstance(value, str) and value for value in values):
                raise ValueError(f"{path.name} line {number}: every field must be a non-empty string")
            questions.append(Question(*values))
    return questions
