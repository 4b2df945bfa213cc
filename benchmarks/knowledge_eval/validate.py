"""Check the evaluation set: ``.venv/bin/python -m benchmarks.knowledge_eval.validate``.

Every question's document exists, its passage occurs exactly once in that document and in no other, its answer
occurs in its passage (case-insensitively), ids are unique, and there are at least ``MIN_QUESTIONS`` questions.
Prints a summary and exits 0, or prints each problem and exits 1.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from benchmarks.knowledge_eval.dataset import DOCS_DIR, QUESTIONS_FILE, Question, load_documents, load_questions

MIN_QUESTIONS = 60


def problems(documents: dict[str, str], questions: list[Question]) -> list[str]:
    """What is wrong with the set, one message per problem (empty when it is valid)."""
    found: list[str] = []
    if len(questions) < MIN_QUESTIONS:
        found.append(f"{len(questions)} questions, at least {MIN_QUESTIONS} needed")
    for question_id, count in Counter(question.id for question in questions).items():
        if count > 1:
            found.append(f"id {question_id} used {count} times")
    for question in questions:
        where = f"{question.id} ({question.doc})"
        text = documents.get(question.doc)
        if text is None:
            found.append(f"{where}: no document {question.doc}")
            continue
        count = text.count(question.passage)
        if count != 1:
            found.append(f"{where}: the passage occurs {count} times in its document, not once")
        elsewhere = sorted(
            name for name, other in documents.items() if name != question.doc and question.passage in other
        )
        if elsewhere:
            found.append(f"{where}: the passage also occurs in {', '.join(elsewhere)}")
        if question.answer.lower() not in question.passage.lower():
            found.append(f"{where}: the answer {question.answer!r} is not in the passage")
    return found


def main(docs_dir: Path = DOCS_DIR, questions_file: Path = QUESTIONS_FILE) -> int:
    documents = load_documents(docs_dir)
    try:
        questions = load_questions(questions_file)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        print(f"invalid questions file: {error}", file=sys.stderr)
        return 1
    found = problems(documents, questions)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s)", file=sys.stderr)
        return 1
    size = sum(len(text.encode()) for text in documents.values())
    used = len({question.doc for question in questions})
    print(f"ok: {len(questions)} questions over {used} of {len(documents)} documents ({size:,d} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
