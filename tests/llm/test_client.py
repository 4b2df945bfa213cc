"""The LLM client every chat mode streams through: which model answers, where its endpoint is, what a request
sends (model, token cap, temperature only when given), and an injected LangChain model's failures as ours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import SecretStr

from dbgpt_tools.errors import Upstream
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.live import live_server
from tests.scripted import BrokenStreamModel, ScriptedChatModel

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    endpoint = FakeOpenAI()
    with live_server(endpoint.app) as url:
        yield endpoint, f"{url}/v1"


def remote(settings: Settings, base_url: str, **extra: object) -> Settings:
    return settings.model_copy(
        update={"llm_backend": "openai", "llm_base_url": base_url, "llm_model": "team-model", **extra}
    )


def test_the_model_named_is_the_one_that_answers(settings: Settings) -> None:
    assert LLM(settings).model_name == "smollm2-135m"  # the local backend: the embedded model
    assert LLM(settings.model_copy(update={"llm_backend": "openai", "llm_model": "gpt-x"})).model_name == "gpt-x"
    assert LLM(settings, ScriptedChatModel.replying("hi")).model_name == "scripted"


def test_a_remote_endpoint_is_called_with_its_key_or_none(settings: Settings) -> None:
    keyed = LLM(remote(settings, "http://llm.example/v1", llm_api_key=SecretStr("sk-team")))
    assert (keyed.endpoint().base_url, keyed.endpoint().api_key) == ("http://llm.example/v1", "sk-team")
    openai_default = LLM(settings.model_copy(update={"llm_backend": "openai"})).endpoint()
    assert (openai_default.base_url, openai_default.api_key) == ("https://api.openai.com/v1", "not-needed")


async def test_a_request_sends_the_model_the_cap_and_a_temperature_only_when_given(
    settings: Settings, fake: tuple[FakeOpenAI, str]
) -> None:
    endpoint, base_url = fake
    llm = LLM(remote(settings, base_url, max_new_tokens=77))
    try:
        messages = [SystemMessage(content="Be brief."), HumanMessage(content="Hi")]
        first = [chunk async for chunk in llm.astream(messages)]
        second = [chunk async for chunk in llm.astream(messages, temperature=0.0, max_tokens=5)]
    finally:
        llm.close()
    assert "".join(chunk.delta for chunk in first) == "Reply 1" and first[-1].finish_reason == "stop"
    assert first[-1].usage is not None and first[-1].usage.total_tokens == 9
    sent, again = endpoint.requests
    assert (sent["model"], sent["max_tokens"], "temperature" in sent) == ("team-model", 77, False)
    assert endpoint.messages(0) == [("system", "Be brief."), ("user", "Hi")]
    assert (again["max_tokens"], again["temperature"]) == (5, 0.0)
    assert "".join(chunk.delta for chunk in second) == "Reply 2"


async def test_an_injected_model_that_loses_its_endpoint_is_an_upstream_error(settings: Settings) -> None:
    llm = LLM(settings, BrokenStreamModel.replying("unused"))
    got: list[str] = []
    with pytest.raises(Upstream, match="could not be reached"):
        async for chunk in llm.astream([HumanMessage(content="Hi")]):
            got.append(chunk.delta)
    assert got == ["partial "]  # what came before the failure was handed on
