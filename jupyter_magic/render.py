"""Show an answer while it is generated: updated in place in a notebook, printed piece by piece in a terminal."""

from __future__ import annotations

import sys
from typing import Protocol

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import Markdown, display

PLACEHOLDER = "…"


class AnswerView(Protocol):
    """Where an answer appears as it grows."""

    def append(self, delta: str) -> None:
        """Show the next piece of the answer."""

    def end(self) -> None:
        """The answer is complete."""


class AnswerText(Markdown):
    """Markdown whose plain-text form is the text itself (for consoles and text exports)."""

    def __repr__(self) -> str:
        return self.data or ""


class MarkdownView:
    """One Markdown output, shown at once with a placeholder and updated with the whole text (trailing whitespace
    left out, as in the stored answer) whenever a piece changes what is shown."""

    def __init__(self) -> None:
        self._text = ""
        self._shown = ""
        self._handle = display(AnswerText(PLACEHOLDER), display_id=True)

    def append(self, delta: str) -> None:
        self._text += delta
        shown = self._text.rstrip()
        if shown != self._shown:
            self._shown = shown
            self._handle.update(AnswerText(shown))

    def end(self) -> None:
        if not self._shown:
            self._handle.update(AnswerText("*(empty answer)*"))


class PrintedView:
    """Plain text printed as it arrives, for front ends that cannot update an output in place."""

    def append(self, delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    def end(self) -> None:
        sys.stdout.write("\n")


def answer_view(shell: InteractiveShell) -> AnswerView:
    """The view suited to the shell's front end (the terminal's base publisher prints every update anew)."""
    if type(shell.display_pub) is DisplayPublisher:
        return PrintedView()
    return MarkdownView()
