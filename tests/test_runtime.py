"""The runtime: every service wired from the settings; the sample database registered once, however many
processes start; warming up is an optimisation that never fails the server."""

from __future__ import annotations

import logging

import pytest

from dbgpt_tools.llm.local_model import ModelUnavailable
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_COMMENT, LOGISTICS_DB_NAME
from tests.scripted import BrokenStreamModel, ScriptedChatModel


def test_the_sample_database_is_registered_once_and_a_user_registration_wins(settings: Settings) -> None:
    with_sample = settings.model_copy(update={"sample_db": True})
    first = Runtime(with_sample, chat_model=ScriptedChatModel.replying())
    second = Runtime(with_sample, chat_model=ScriptedChatModel.replying())  # another worker, or a restart
    try:
        assert [source.db_name for source in second.datasources.list()] == [SAMPLE_DB_NAME, LOGISTICS_DB_NAME]
        registered = second.datasources.list()[0]
        assert registered.read_only and registered.db_path.endswith(f"{SAMPLE_DB_NAME}.sqlite")
        second.datasources.update({**registered.model_dump(), "comment": "mine"})
    finally:
        first.close()
        second.close()
    again = Runtime(with_sample, chat_model=ScriptedChatModel.replying())
    try:
        comments = [source.comment for source in again.datasources.list()]
        assert comments == ["mine", LOGISTICS_DB_COMMENT]  # left as the user made it
    finally:
        again.close()


@pytest.mark.anyio
async def test_a_failing_warm_up_is_logged_not_raised(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=BrokenStreamModel.replying())

    def unavailable() -> None:
        raise ModelUnavailable("model package 'x' is not installed")

    monkeypatch.setattr(runtime.llm, "endpoint", unavailable)
    try:
        with caplog.at_level(logging.WARNING):
            await runtime.warm_up()
    finally:
        runtime.close()
    assert "warm-up failed; the first question will load the model" in caplog.text


@pytest.mark.anyio
async def test_without_the_sample_database_there_is_nothing_to_warm_up(settings: Settings) -> None:
    model = ScriptedChatModel.replying("x")
    runtime = Runtime(settings, chat_model=model)
    try:
        await runtime.warm_up()
    finally:
        runtime.close()
    assert model.calls == []
