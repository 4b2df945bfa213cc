"""The `%%dbgpt` cell magic: the cell's text is the question, the answer streams into the output.

    %load_ext jupyter_magic

    %%dbgpt --conv demo --out answer
    What is a window function?

    %%dbgpt --db sample_sales --out monthly
    Revenue per month in 2024?

    %%dbgpt --sql --db sample_sales --limit 50 --out rows
    SELECT name, city FROM customers WHERE city = {city} AND segment IN {segments}

Options: `--mode` (chat mode, default chat_normal), `--param` (the mode's target), `--conv NAME` (cells with
the same NAME continue one conversation; NAME is the conversation's conv_uid, so other faces can continue
it too; without it each cell starts a new conversation), `--out VAR` (also store the answer text in VAR),
`--temperature`, `--max-tokens`. The last answer's text is always in `_dbgpt`. Refusals show as a short
`UsageError`, without a traceback.

Knowledge: `--space NAME` is `--mode chat_knowledge --param NAME`. The answer streams, then its references: the
document, page and section of each chunk it was grounded in, with its score.

Data: `--db NAME` is `--mode chat_data --param NAME`. The answer's text streams, then the SQL that ran, the rows
as a pandas DataFrame and, unless `--no-chart` or the rows suit only a table, a matplotlib chart (line: first
column over time; pie; scatter). The DataFrame is kept in `_dbgpt_df`, and `--out VAR` stores it instead of the
text (None when no query ran).

SQL: `--sql --db NAME` runs the cell's single statement directly (the datasource's safety rules apply;
`--limit N` caps the rows, with a note when rows were cut off), shows the DataFrame and keeps it in
`_dbgpt_df` and `--out VAR`. `{name}` placeholders are bound as SQL parameters, never pasted into the text:
`{city}` becomes `:city` with the variable's value (str, int, float, Decimal, bool, None, date/time), a list
or tuple becomes `(:ids_0, :ids_1, ...)` for IN; write `{{`/`}}` for literal braces and leave placeholders
unquoted (see `jupyter_magic.binding`).

Apps and flows: `--app CODE` asks a saved app, `--flow UID` runs a flow on the cell (`hello`, `simple_chat`,
`simple_rag` are built in); their answers stream like any other.

Teach: `%%dbgpt --db NAME --teach` stores a verified question-SQL pair for the datasource (the cell's first line
is the question, the rest the SQL, fenced or not); chat_data shows the pairs most like each new question to the
model. The SQL must be one read-only statement that runs.

Ingest: `%dbgpt_ingest SPACE PATH [PATH ...]` adds files (globs allowed; inside DBGPT_DOCUMENT_ROOTS, as on
every face) to a knowledge space, showing a progress bar for each until it is searchable.

Evaluation: `%dbgpt_eval recall SPACE DATASET` scores a space's retrieval, `%dbgpt_eval app CODE DATASET` an app's
answers. DATASET is a notebook variable holding the rows (a list of dicts, or a DataFrame whose columns are the
row fields: query, contexts, doc_name, doc_id, chunk_ids, expected_answer), else the name of a stored dataset.
A progress bar counts the rows; then a DataFrame (the query, then one score column per metric), a bar chart of
each metric's mean (unless `--no-chart`) and a note with the run's id and the model that judged LLM-judged
metrics. Options: `--metrics M1,M2` (DB-GPT's metric names; default the scene's), `--top-k N` and `--mode
hybrid|vector|keyword` (recall only), `--out VAR`. The scores are kept in `_dbgpt_eval_df` (see
`jupyter_magic.evaluation`).

The magic uses the shared runtime (`dbgpt_tools.aio.shared_runtime`): configured by the DBGPT_* variables
or `.env`, or replaced with `dbgpt_tools.aio.use_runtime(Runtime(Settings(...)))`.
"""

from __future__ import annotations

import shlex
from argparse import Namespace
from collections.abc import Generator
from contextlib import closing

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import parse_argstring

from dbgpt_tools.aio import iterate_sync, run_sync, shared_runtime
from dbgpt_tools.chat.models import Artifact, ChatMode, ChatRequest, QueryArtifact, ReferencesArtifact
from dbgpt_tools.chat.service import ChatTurn
from dbgpt_tools.errors import DbgptError
from jupyter_magic.data import run_cell_sql, show_artifact, show_result, show_taught, teach
from jupyter_magic.evaluation import eval_options, evaluate
from jupyter_magic.ingest import ingest
from jupyter_magic.knowledge import show_references
from jupyter_magic.options import chat_options, chat_request, sql_datasource
from jupyter_magic.render import answer_view

LAST_ANSWER = "_dbgpt"
LAST_FRAME = "_dbgpt_df"
LAST_DOCUMENTS = "_dbgpt_docs"
LAST_SCORES = "_dbgpt_eval_df"


def start_answer(request: ChatRequest) -> Generator[str | Artifact, None, None]:
    """Start a turn on the shared runtime (refusals raise here); return its text pieces and artifacts as they come."""
    turn = run_sync(shared_runtime().chat.start(request))
    return _pieces(turn)


def _pieces(turn: ChatTurn) -> Generator[str | Artifact, None, None]:
    with closing(iterate_sync(aiter(turn))) as chunks:  # driven on the background loop
        for chunk in chunks:
            if chunk.delta:
                yield chunk.delta
            if chunk.artifact is not None:
                yield chunk.artifact


def show_answer(shell: InteractiveShell, request: ChatRequest) -> tuple[str, list[Artifact]]:
    """Stream the answer's text into the shell's output; return the text and the artifacts that came with it."""
    pieces = start_answer(request)
    view = answer_view(shell)
    parts: list[str] = []
    artifacts: list[Artifact] = []
    with closing(pieces):  # an interrupted cell stops the answer at once
        for piece in pieces:
            if isinstance(piece, str):
                parts.append(piece)
                view.append(piece)
            else:
                artifacts.append(piece)
    view.end()
    return "".join(parts), artifacts


@magics_class
class DbgptMagics(Magics):
    """DB-GPT's notebook face."""

    @chat_options
    @cell_magic
    def dbgpt(self, line: str, cell: str) -> None:
        """Ask DB-GPT the cell's text; with --db, the SQL that ran, its rows (a DataFrame) and a chart follow.

        With --sql --db NAME the cell is one SQL statement: {name} binds a notebook variable as a parameter
        (a list or tuple binds an IN list), {{ and }} are literal braces. The last answer's text is in `_dbgpt`,
        the last rows in `_dbgpt_df`.
        """
        shell = self.shell
        assert shell is not None  # a registered magic has its shell
        options = parse_argstring(self.dbgpt, line)  # type: ignore[misc]  # IPython's decorators are untyped
        try:
            datasource = sql_datasource(options)
            if datasource is not None and options.teach:
                show_taught(teach(datasource, cell))
            elif datasource is not None:
                self._run_sql(shell, options, datasource, cell)
            else:
                self._ask(shell, options, cell)
        except DbgptError as error:
            raise UsageError(error.message) from None

    @line_magic
    def dbgpt_ingest(self, line: str) -> None:
        """%dbgpt_ingest SPACE PATH [PATH ...]: add files (globs allowed, inside DBGPT_DOCUMENT_ROOTS) to a
        knowledge space, with a progress bar each; the documents are kept in `_dbgpt_docs`."""
        shell = self.shell
        assert shell is not None
        words = shlex.split(line)
        if len(words) < 2:
            raise UsageError("usage: %dbgpt_ingest SPACE PATH [PATH ...]")
        try:
            shell.user_ns[LAST_DOCUMENTS] = ingest(words[0], words[1:])
        except DbgptError as error:
            raise UsageError(error.message) from None

    @eval_options
    @line_magic
    def dbgpt_eval(self, line: str) -> None:
        """%dbgpt_eval recall SPACE DATASET | app CODE DATASET: score a space's retrieval or an app's answers on
        the rows a variable holds (or a stored dataset), with a progress bar; the scores per row (a DataFrame, kept
        in `_dbgpt_eval_df`), a chart of each metric's mean and the run's id follow."""
        shell = self.shell
        assert shell is not None
        options = parse_argstring(self.dbgpt_eval, line)  # type: ignore[misc]  # IPython's decorators are untyped
        try:
            frame = evaluate(options, shell.user_ns)
        except DbgptError as error:
            raise UsageError(error.message) from None
        shell.user_ns[LAST_SCORES] = frame
        if options.out:
            shell.user_ns[options.out] = frame

    @staticmethod
    def _ask(shell: InteractiveShell, options: Namespace, cell: str) -> None:
        request = chat_request(options, cell)
        text, artifacts = show_answer(shell, request)
        answer = text.rstrip()
        shell.user_ns[LAST_ANSWER] = answer
        for references in (artifact for artifact in artifacts if isinstance(artifact, ReferencesArtifact)):
            show_references(references)
        if request.chat_mode != ChatMode.chat_data:
            if options.out:
                shell.user_ns[options.out] = answer
            return
        frame = None
        for artifact in artifacts:
            if isinstance(artifact, QueryArtifact):
                frame = show_artifact(artifact, chart=not options.no_chart)
        shell.user_ns[LAST_FRAME] = frame
        if options.out:
            shell.user_ns[options.out] = frame

    @staticmethod
    def _run_sql(shell: InteractiveShell, options: Namespace, datasource: str, cell: str) -> None:
        frame = show_result(run_cell_sql(datasource, cell, shell.user_ns, options.limit))
        shell.user_ns[LAST_FRAME] = frame
        if options.out:
            shell.user_ns[options.out] = frame
