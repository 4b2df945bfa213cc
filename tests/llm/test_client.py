"""The LLM client every chat mode streams through: which model answers, where its endpoint is, what a request
sends (model, token cap, temperature only when given), and an injected LangChain model's failures as ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import SecretStr

from dbgpt_tools.chat.models import Usage
from dbgpt_tools.errors import Busy, DbgptError, Upstream
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


async def test_stop_sequences_are_sent_only_when_given(settings: Settings, fake: tuple[FakeOpenAI, str]) -> None:
    endpoint, base_url = fake
    model = ScriptedChatModel.replying("one", "two")
    for llm in (LLM(remote(settings, base_url)), LLM(settings, model)):
        try:
            for stop in (["\n", "END"], None):
                [chunk async for chunk in llm.astream([HumanMessage(content="Hi")], stop=stop)]
        finally:
            llm.close()
    assert [request.get("stop") for request in endpoint.requests] == [["\n", "END"], None]
    assert [options.get("stop") for options in model.options] == [["\n", "END"], None]


async def test_an_admitted_stream_holds_a_place_in_the_gate_until_it_ends(settings: Settings) -> None:
    llm = LLM(settings.model_copy(update={"llm_max_parallel": 1, "llm_max_queue": 0}), ScriptedChatModel.replying("a"))
    stream = llm.admitted_stream([HumanMessage(content="Hi")])
    first = await anext(stream)
    assert (first.delta, llm.gate.admitted) == ("a", 1)
    with pytest.raises(Busy):
        await anext(llm.admitted_stream([HumanMessage(content="Hi")]))
    assert [chunk.finish_reason async for chunk in stream] == ["stop"] and llm.gate.admitted == 0


async def test_an_injected_model_that_loses_its_endpoint_is_an_upstream_error(settings: Settings) -> None:
    llm = LLM(settings, BrokenStreamModel.replying("unused"))
    got: list[str] = []
    with pytest.raises(Upstream, match="could not be reached"):
        async for chunk in llm.astream([HumanMessage(content="Hi")]):
            got.append(chunk.delta)
    assert got == ["partial "]  # what came before the failure was handed on


class FailingModel(ScriptedChatModel):
    """Fails the way the OpenAI client of a LangChain chat model does, before any text."""

    error: Any = None

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        raise self.error
        yield  # an async generator


class CutShortModel(ScriptedChatModel):
    """Answers one piece and stops at its token cap, reporting what it used."""

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        chunk = AIMessageChunk(
            content="Once upon",
            response_metadata={"finish_reason": "length"},
            usage_metadata={"input_tokens": 11, "output_tokens": 2, "total_tokens": 13},
        )
        yield ChatGenerationChunk(message=chunk)


REQUEST = httpx2.Request("POST", "http://llm.invalid/v1/chat/completions")


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (openai.APITimeoutError(request=REQUEST), Upstream, "did not answer in time"),
        (
            openai.RateLimitError("slow down", response=httpx2.Response(429, request=REQUEST, json={}), body=None),
            Busy,
            "rate limiting",
        ),
        (
            openai.AuthenticationError("no", response=httpx2.Response(401, request=REQUEST, json={}), body=None),
            Upstream,
            "refused our credentials",
        ),
        (openai.APIError("odd", request=REQUEST, body=None), Upstream, "the LLM request failed"),
        (RuntimeError("a bug in the pipeline's model"), Upstream, r"the chat model failed \(RuntimeError\)"),
    ],
)
async def test_an_injected_models_failures_are_ours(
    settings: Settings, error: Exception, kind: type[DbgptError], words: str
) -> None:
    llm = LLM(settings, FailingModel(messages=iter([]), error=error))
    with pytest.raises(kind, match=words):
        async for _ in llm.astream([HumanMessage(content="Hi")]):
            pass


async def test_an_answer_cut_at_its_cap_says_length_with_its_usage(settings: Settings) -> None:
    llm = LLM(settings, CutShortModel(messages=iter([])))
    chunks = [chunk async for chunk in llm.astream([HumanMessage(content="A story?")], max_tokens=2)]
    assert [chunk.delta for chunk in chunks] == ["Once upon", ""] and chunks[-1].finish_reason == "length"
    assert chunks[-1].usage == Usage(prompt_tokens=11, completion_tokens=2, total_tokens=13)
