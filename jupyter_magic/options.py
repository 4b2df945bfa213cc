"""The `%%dbgpt` options: declared once for IPython's argument parser, turned into a core request."""

from __future__ import annotations

from argparse import ArgumentTypeError, Namespace
from collections.abc import Callable
from typing import TypeVar

from IPython.core.magic_arguments import argument, magic_arguments
from pydantic import ValidationError

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.errors import InvalidInput, invalid_input

F = TypeVar("F", bound=Callable[..., object])


def variable_name(value: str) -> str:
    """The value, checked to be a Python variable name (for `--out VAR`)."""
    if not value.isidentifier():
        raise ArgumentTypeError(f"{value!r} is not a Python variable name")
    return value


CHAT_OPTIONS = (
    argument(
        "--mode",
        choices=[mode.value for mode in ChatMode],
        help="Chat mode that answers (default: chat_normal; chat_data with --db).",
    ),
    argument("--param", help="The mode's target: a datasource, knowledge space, app or flow name."),
    argument(
        "--db",
        metavar="NAME",
        help="Datasource to ask (shorthand for --mode chat_data --param NAME), or to run the cell on with --sql.",
    ),
    argument(
        "--space",
        metavar="NAME",
        help="Knowledge space to ask (shorthand for --mode chat_knowledge --param NAME); the references follow.",
    ),
    argument("--app", metavar="CODE", help="App to ask (shorthand for --mode chat_app --param CODE)."),
    argument("--flow", metavar="UID", help="Flow to run on the cell (shorthand for --mode chat_flow --param UID)."),
    argument("--sql", action="store_true", help="The cell is SQL: run it on --db directly; {var} binds a variable."),
    argument(
        "--teach",
        action="store_true",
        help="Teach --db a question-SQL pair: the cell's first line is the question, the rest its SQL.",
    ),
    argument("--limit", type=int, metavar="N", help="Row cap for --sql (default: the server's sql_row_limit)."),
    argument("--no-chart", action="store_true", help="Do not draw a chart of chat_data rows."),
    argument(
        "--conv",
        metavar="NAME",
        help="Conversation name: cells with the same NAME continue one conversation (NAME is its conv_uid).",
    ),
    argument(
        "--out",
        metavar="VAR",
        type=variable_name,
        help="Also store the answer text in VAR (the rows as a DataFrame with --db, chat_data or --sql).",
    ),
    argument("--temperature", type=float, help="Sampling temperature, 0..2."),
    argument("--max-tokens", type=int, help="Cap on generated tokens."),
)
_NOT_FOR_SQL = ("mode", "param", "space", "app", "flow", "conv", "temperature", "max_tokens")


def chat_options(magic: F) -> F:
    """Declare the chat options on a magic (for `parse_argstring` and the magic's `?` help)."""
    for option in reversed(CHAT_OPTIONS):
        magic = option(magic)
    declared: F = magic_arguments()(magic)
    return declared


def sql_datasource(options: Namespace) -> str | None:
    """The datasource a `--sql` or `--teach` cell is for (None for a chat cell); contradictory options raise
    `InvalidInput`."""
    if options.teach:
        if not options.db or options.sql:
            raise InvalidInput("--teach needs --db NAME (and no --sql): the datasource to teach")
        return str(options.db)
    if not options.sql:
        if options.limit is not None:
            raise InvalidInput("--limit is for --sql cells")
        return None
    if not options.db:
        raise InvalidInput("--sql needs --db NAME: the datasource to run the SQL on")
    given = [f"--{name.replace('_', '-')}" for name in _NOT_FOR_SQL if getattr(options, name) is not None]
    if given:
        raise InvalidInput(f"--sql runs the cell as SQL: {', '.join(given)} do not apply")
    return str(options.db)


def chat_request(options: Namespace, question: str) -> ChatRequest:
    """The core request for a cell; bad values raise `InvalidInput` naming the option's field."""
    mode, param = options.mode, options.param
    shorthands = (("--db", options.db, ChatMode.chat_data), ("--space", options.space, ChatMode.chat_knowledge),
                  ("--app", options.app, ChatMode.chat_app), ("--flow", options.flow, ChatMode.chat_flow))  # fmt: skip
    for flag, target, target_mode in shorthands:
        if target is None:
            continue
        if param is not None or mode not in (None, target_mode.value):
            raise InvalidInput(f"{flag} NAME means --mode {target_mode.value} --param NAME: drop --mode and --param")
        mode, param = target_mode.value, target
    try:
        return ChatRequest(
            messages=question.strip(),
            chat_mode=ChatMode(mode or ChatMode.chat_normal.value),
            chat_param=param,
            conv_uid=options.conv,
            temperature=options.temperature,
            max_new_tokens=options.max_tokens,
        )
    except ValidationError as error:
        raise invalid_input(error) from None
