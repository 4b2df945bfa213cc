"""The `%%dbgpt` cell magic in a real IPython shell: streamed display updates, stored answers, conversations."""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher, DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from dbgpt_tools.aio import use_runtime
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from jupyter_magic.render import PLACEHOLDER
from tests.scripted import ScriptedChatModel, StallingModel

STORED = ("_dbgpt", "answer")


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """The test IPython shell with the extension loaded, display publications recorded, Markdown active."""
    globalipapp.start_ipython()  # once per process; later calls are no-ops
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "jupyter_magic")
    publisher, types = ip.display_pub, ip.display_formatter.active_types
    ip.display_pub = CapturingDisplayPublisher(shell=ip)
    ip.display_formatter.active_types = [*types, "text/markdown"]
    yield ip
    ip.display_pub, ip.display_formatter.active_types = publisher, types
    for name in STORED:
        ip.user_ns.pop(name, None)


@contextmanager
def sharing(runtime: Runtime) -> Iterator[Runtime]:
    """Make `runtime` the one the magic uses, for the duration."""
    use_runtime(runtime)
    try:
        yield runtime
    finally:
        use_runtime(None)


@pytest.fixture
def shared(runtime: Runtime) -> Iterator[Runtime]:
    """The scripted runtime as the one the magic uses."""
    with sharing(runtime):
        yield runtime


@contextmanager
def shared_model(settings: Settings, model: ScriptedChatModel) -> Iterator[Runtime]:
    """A runtime on `model`, used by the magic, closed afterwards."""
    runtime = Runtime(settings, chat_model=model)
    try:
        with sharing(runtime):
            yield runtime
    finally:
        runtime.close()


def outputs(ip: InteractiveShell) -> list[dict[str, Any]]:
    """What the cell published so far (the fixture's recording publisher, or none for the terminal's)."""
    publisher = ip.display_pub
    return list(publisher.outputs) if isinstance(publisher, CapturingDisplayPublisher) else []


def run(ip: InteractiveShell, cell: str) -> Any:
    return ip.run_cell(cell, store_history=False)


def test_answer_streams_into_one_display_updated_in_place(shell: InteractiveShell, shared: Runtime) -> None:
    result = run(shell, "%%dbgpt\nSay hello.")
    assert result.success and result.result is None  # nothing echoed as Out[]: the display is the output
    published = outputs(shell)
    first, updates = published[0], published[1:]
    display_id = first["transient"]["display_id"]
    assert not first["update"] and first["data"]["text/markdown"] == PLACEHOLDER
    assert len(updates) >= 3 and all(u["update"] and u["transient"]["display_id"] == display_id for u in updates)
    texts = [u["data"]["text/markdown"] for u in updates]
    assert all(len(a) < len(b) and b.startswith(a) for a, b in itertools.pairwise(texts))  # grew piece by piece
    assert texts[-1] == "Hello there friend" == updates[-1]["data"]["text/plain"]
    assert shell.user_ns["_dbgpt"] == "Hello there friend"


def test_flow_runs_a_flow_on_the_cell_streaming_its_answer(shell: InteractiveShell, shared: Runtime) -> None:
    run(shell, "%%dbgpt --flow hello\nworld")
    assert shell.user_ns["_dbgpt"] == "Hello, world!"  # the built-in flow without a model
    run(shell, "%%dbgpt --flow simple_chat --out answer\nSay hello.")
    texts = [u["data"]["text/markdown"] for u in outputs(shell) if u["update"]]
    assert shell.user_ns["answer"] == "Hello there friend" and "Hello there" in texts  # streamed piece by piece
    assert run(shell, "%%dbgpt --flow nope\nHi").success is False


def test_out_stores_the_answer_in_a_variable(shell: InteractiveShell, shared: Runtime) -> None:
    run(shell, "%%dbgpt --out answer\nSay hello.")
    assert shell.user_ns["answer"] == shell.user_ns["_dbgpt"] == "Hello there friend"


def test_same_conv_name_continues_the_conversation(
    shell: InteractiveShell, shared: Runtime, scripted: ScriptedChatModel
) -> None:
    run(shell, "%%dbgpt --conv trip\nMy cat is called Tom.")
    run(shell, "%%dbgpt --conv trip\nWhat is my cat called?")
    run(shell, "%%dbgpt\nWhat is my cat called?")
    assert scripted.texts(1)[1:] == ["My cat is called Tom.", "Hello there friend", "What is my cat called?"]
    assert scripted.texts(2)[1:] == ["What is my cat called?"]  # no --conv: a new conversation
    assert shared.conversations.history("trip", 10)[0].content == "My cat is called Tom."


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--temperature 3", "temperature: Input should be less than or equal to 2"),
        ("--max-tokens 0", "max_new_tokens: Input should be greater than or equal to 1"),
        ("--mode chat_flow", "chat_param must name the flow (its uid) for chat_flow"),
        ("--mode nonsense", "invalid choice: 'nonsense'"),
        ("--out 2x", "'2x' is not a Python variable name"),
    ],
)
def test_refusals_show_a_short_message_and_store_nothing(
    shell: InteractiveShell,
    shared: Runtime,
    scripted: ScriptedChatModel,
    capsys: pytest.CaptureFixture[str],
    options: str,
    message: str,
) -> None:
    result = run(shell, f"%%dbgpt {options}\nSay hello.")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    assert "UsageError: " in captured.err and message in captured.err
    assert "Traceback" not in captured.out + captured.err
    assert "_dbgpt" not in shell.user_ns and not scripted.calls and not outputs(shell)


def test_empty_cell_is_refused(shell: InteractiveShell, shared: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(shell, "%%dbgpt --conv x\n   \n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "messages must not be empty" in capsys.readouterr().err


def test_terminal_prints_the_answer_once_as_it_comes(
    shell: InteractiveShell, shared: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.display_pub = DisplayPublisher(shell=shell)  # the terminal's publisher: it cannot update in place
    run(shell, "%%dbgpt\nSay hello.")
    assert capsys.readouterr().out == "Hello there friend\n"


class SilentModel(ScriptedChatModel):
    """Answers with no text at all (one empty chunk)."""

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content=""))


def test_an_empty_answer_says_so(shell: InteractiveShell, settings: Settings) -> None:
    with shared_model(settings, SilentModel(messages=iter([]))):
        assert run(shell, "%%dbgpt\nSay nothing.").success
    assert outputs(shell)[-1]["data"]["text/markdown"] == "*(empty answer)*" and shell.user_ns["_dbgpt"] == ""


def test_trailing_whitespace_is_neither_shown_nor_stored(shell: InteractiveShell, settings: Settings) -> None:
    with shared_model(settings, ScriptedChatModel.replying("All done.\n\n")):
        assert run(shell, "%%dbgpt\nSay done.").success
    published = outputs(shell)
    assert published[-1]["data"]["text/markdown"] == shell.user_ns["_dbgpt"] == "All done."
    assert all(not update["data"]["text/markdown"].endswith((" ", "\n")) for update in published)


@pytest.fixture
def sigint_interrupts() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread, as in a kernel. A test process may have inherited SIGINT
    ignored (a command started in the background by a non-interactive shell, as CI scripts do)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_interrupts")
def test_interrupting_a_cell_stops_the_answer_and_keeps_the_part(shell: InteractiveShell, settings: Settings) -> None:
    model = StallingModel(messages=iter([]))

    def interrupt_when_streaming() -> None:  # what Jupyter's "Interrupt kernel" does
        if model.started.wait(60):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt_when_streaming, daemon=True).start()
    with shared_model(settings, model) as runtime:
        result = run(shell, "%%dbgpt --conv stop\nTell me a long story.")
        assert isinstance(result.error_in_exec, KeyboardInterrupt)
        assert [m.content for m in runtime.conversations.history("stop", 10)] == ["Tell me a long story.", "Partial"]
        assert runtime.llm.gate.admitted == 0  # the model's slot is free again
    assert "_dbgpt" not in shell.user_ns


@pytest.mark.local_model
def test_real_local_model_streams_into_the_cell(shell: InteractiveShell, local_runtime: Runtime) -> None:
    with sharing(local_runtime):
        run(shell, "%%dbgpt --max-tokens 12 --out answer\nName one colour.")
    answer = shell.user_ns["answer"]
    assert answer.strip() and outputs(shell)[-1]["data"]["text/markdown"] == answer
    assert len(outputs(shell)) > 2
