"""The `%%dbgpt` cell magic: the cell's text is the question, the answer streams into the output.

    %load_ext jupyter_magic

    %%dbgpt --conv demo --out answer
    What is a window function?

Options: `--mode` (chat mode, default chat_normal), `--param` (the mode's target), `--conv NAME` (cells with
the same NAME continue one conversation; NAME is the conversation's conv_uid, so other faces can continue
it too; without it each cell starts a new conversation), `--out VAR` (also store the answer text in VAR),
`--temperature`, `--max-tokens`. The last answer is always in `_dbgpt`. Refusals show as a short
`UsageError`, without a traceback.

The magic uses the shared runtime (`dbgpt_tools.aio.shared_runtime`): configured by the DBGPT_* variables
or `.env`, or replaced with `dbgpt_tools.aio.use_runtime(Runtime(Settings(...)))`.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import parse_argstring

from dbgpt_tools.aio import iterate_sync, run_sync, shared_runtime
from dbgpt_tools.chat import ChatTurn
from dbgpt_tools.errors import DbgptError
from dbgpt_tools.schemas import ChatRequest
from jupyter_magic.options import chat_options, chat_request
from jupyter_magic.render import answer_view

LAST_ANSWER = "_dbgpt"


def start_answer(request: ChatRequest) -> Generator[str, None, None]:
    """Start a turn on the shared runtime (refusals raise here) and return its text as it is generated."""
    turn = run_sync(shared_runtime().chat.start(request))
    return _pieces(turn)


def _pieces(turn: ChatTurn) -> Generator[str, None, None]:
    with closing(iterate_sync(aiter(turn))) as chunks:  # driven on the background loop
        for chunk in chunks:
            if chunk.delta:
                yield chunk.delta


def show_answer(shell: InteractiveShell, request: ChatRequest) -> str:
    """Stream the answer into the shell's output and return its whole text."""
    pieces = start_answer(request)
    view = answer_view(shell)
    parts: list[str] = []
    with closing(pieces):  # an interrupted cell stops the answer at once
        for piece in pieces:
            parts.append(piece)
            view.append(piece)
    view.end()
    return "".join(parts)


@magics_class
class DbgptMagics(Magics):
    """DB-GPT's notebook face."""

    @chat_options
    @cell_magic
    def dbgpt(self, line: str, cell: str) -> None:
        """Ask DB-GPT the cell's text; the answer streams into the output and is stored in `_dbgpt`."""
        shell = self.shell
        assert shell is not None  # a registered magic has its shell
        options = parse_argstring(self.dbgpt, line)  # type: ignore[misc]  # IPython's decorators are untyped
        try:
            answer = show_answer(shell, chat_request(options, cell))
        except DbgptError as error:
            raise UsageError(error.message) from None
        shell.user_ns[LAST_ANSWER] = answer
        if options.out:
            shell.user_ns[options.out] = answer

