"""The `%%dbgpt` options: declared once for IPython's argument parser, turned into a core request."""

from __future__ import annotations

from argparse import ArgumentTypeError, Namespace
from collections.abc import Callable
from typing import TypeVar

from IPython.core.magic_arguments import argument, magic_arguments
from pydantic import ValidationError

from dbgpt_tools.catalogue import invalid_input
from dbgpt_tools.schemas import ChatMode, ChatRequest

F = TypeVar("F", bound=Callable[..., object])


def _variable_name(value: str) -> str:
    if not value.isidentifier():
        raise ArgumentTypeError(f"{value!r} is not a Python variable name")
    return value


CHAT_OPTIONS = (
    argument("--mode", default=ChatMode.chat_normal.value, choices=[mode.value for mode in ChatMode],
             help="Chat mode that answers (default: chat_normal)."),
    argument("--param", help="The mode's target: a datasource, knowledge space, app or flow name."),
    argument("--conv", metavar="NAME",
             help="Conversation name: cells with the same NAME continue one conversation (NAME is its conv_uid)."),
    argument("--out", metavar="VAR", type=_variable_name, help="Also store the answer text in this variable."),
    argument("--temperature", type=float, help="Sampling temperature, 0..2."),
    argument("--max-tokens", type=int, help="Cap on generated tokens."),
)


def chat_options(magic: F) -> F:
    """Declare the chat options on a magic (for `parse_argstring` and the magic's `?` help)."""
    for option in reversed(CHAT_OPTIONS):
        magic = option(magic)
    return magic_arguments()(magic)


def chat_request(options: Namespace, question: str) -> ChatRequest:
    """The core request for a cell; bad values raise `InvalidInput` naming the option's field."""
    try:
        return ChatRequest(
            messages=question.strip(),
            chat_mode=ChatMode(options.mode),
            chat_param=options.param,
            conv_uid=options.conv,
            temperature=options.temperature,
            max_new_tokens=options.max_tokens,
        )
    except ValidationError as error:
        raise invalid_input(error) from None
