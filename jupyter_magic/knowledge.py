"""Knowledge in the notebook: a chat_knowledge answer's references as a readable list."""

from __future__ import annotations

from IPython.display import display

from dbgpt_tools.chat.models import ReferencesArtifact
from jupyter_magic.data import Note


def references_lines(artifact: ReferencesArtifact) -> list[str]:
    """One line per reference: document, page, section, score, and the chunk's first words."""
    lines = []
    for number, chunk in enumerate(artifact.chunks, start=1):
        where = "".join(
            [
                f", page {chunk.page}" if chunk.page is not None else "",
                f", {' > '.join(chunk.headers)}" if chunk.headers else "",
            ]
        )
        preview = " ".join(chunk.content.split())[:160]
        lines.append(f"{number}. *{chunk.doc_name}*{where} (score {chunk.score:.2f}): {preview}…")
    return lines


def show_references(artifact: ReferencesArtifact) -> None:
    """Display the references (Markdown in a notebook, plain text in a terminal)."""
    lines = references_lines(artifact)
    plain = "\n".join(["References:", *(line.replace("*", "") for line in lines)])
    display(Note("\n".join(["**References**", "", *lines]), plain))
