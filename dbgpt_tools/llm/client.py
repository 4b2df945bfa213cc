"""The chat-model factory and the one streaming call every chat mode makes through it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)

from dbgpt_tools.chat.models import ChatChunk, Usage
from dbgpt_tools.errors import DbgptError, Upstream
from dbgpt_tools.llm.gate import ConcurrencyGate
from dbgpt_tools.llm.local_model import Endpoint, LocalLlamaServer
from dbgpt_tools.llm.openai_stream import OpenAIStream, status_error
from dbgpt_tools.settings import Settings

logger = logging.getLogger(__name__)


class LLM:
    """The configured model and the gate that shares it between requests.

    Chat turns stream through a lean aiohttp client (`OpenAIStream`) from the configured endpoint (the local
    llama.cpp server is one too). An injected `chat_model` (tests: a scripted model) replaces it.
    """

    def __init__(self, settings: Settings, chat_model: BaseChatModel | None = None) -> None:
        self._settings = settings
        self.gate = ConcurrencyGate(settings.max_parallel, settings.max_queue)
        self._injected = chat_model
        self._stream: OpenAIStream | None = None
        self._local = LocalLlamaServer(settings) if chat_model is None and settings.llm_backend == "local" else None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The name reported to callers as the model that answers."""
        if self._injected is not None:
            return getattr(self._injected, "model_name", None) or type(self._injected).__name__
        if self._settings.llm_backend == "local":
            return self._settings.local_model
        return self._settings.llm_model

    @property
    def caches_prompts(self) -> bool:
        """Whether this is the embedded llama.cpp model, whose prompt cache is worth filling ahead of questions."""
        return self._local is not None

    def endpoint(self) -> Endpoint:
        """The OpenAI-compatible endpoint; for the local backend this loads the model (blocking)."""
        settings = self._settings
        if self._local is not None:
            return self._local.endpoint()
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        return Endpoint(base_url=settings.llm_base_url or "https://api.openai.com/v1", api_key=key)

    def _streamer(self) -> OpenAIStream:
        """The stream client on the configured endpoint (made on first use: the local model loads then)."""
        with self._lock:
            if self._stream is None:
                endpoint = self.endpoint()
                self._stream = OpenAIStream(
                    endpoint.base_url, endpoint.api_key, self.model_name, self._settings.llm_timeout
                )
            return self._stream

    async def astream(
        self,
        messages: list[BaseMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
    ) -> AsyncIterator[ChatChunk]:
        """Stream the model's answer to `messages` as text deltas, ending with finish reason and usage; the model
        stops before any of the `stop` sequences."""
        max_tokens = max_tokens or self._settings.max_new_tokens
        if self._injected is not None:
            async for chunk in self._astream_langchain(self._injected, messages, temperature, max_tokens, stop):
                yield chunk
            return
        streamer = self._stream if self._stream is not None else await asyncio.to_thread(self._streamer)
        openai_messages: list[dict[str, Any]] = convert_to_openai_messages(messages)
        async for chunk in streamer.astream(openai_messages, temperature=temperature, max_tokens=max_tokens, stop=stop):
            yield chunk

    async def admitted_stream(
        self,
        messages: list[BaseMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
    ) -> AsyncGenerator[ChatChunk, None]:
        """`astream` in turn with chat requests: a place in the gate's line (`Busy` when it is full), then a
        generating slot until the answer ends."""
        admission = self.gate.admit()
        try:
            await admission.acquire()
            async for chunk in self.astream(messages, temperature=temperature, max_tokens=max_tokens, stop=stop):
                yield chunk
        finally:
            admission.release()

    async def generate(
        self, messages: list[BaseMessage], *, temperature: float | None = 0, max_tokens: int | None = None
    ) -> str:
        """The model's whole answer to `messages`, generated in turn with chat requests (the gate applies)."""
        chunks = self.admitted_stream(messages, temperature=temperature, max_tokens=max_tokens)
        return "".join([chunk.delta async for chunk in chunks])

    @staticmethod
    async def _astream_langchain(
        model: BaseChatModel,
        messages: list[BaseMessage],
        temperature: float | None,
        max_tokens: int,
        stop: list[str] | None,
    ) -> AsyncIterator[ChatChunk]:
        options: dict[str, Any] = {"max_tokens": max_tokens}
        if temperature is not None:
            options["temperature"] = temperature
        if stop:
            options["stop"] = stop
        finish: str | None = None
        usage: Usage | None = None
        try:
            async for piece in model.astream(messages, **options):
                if not isinstance(piece, AIMessageChunk):
                    continue
                finish = piece.response_metadata.get("finish_reason") or finish
                if piece.usage_metadata:
                    usage = _usage(piece.usage_metadata)
                if isinstance(piece.content, str) and piece.content:
                    yield ChatChunk(delta=piece.content)
        except DbgptError:
            raise
        except openai.APIError as exc:
            raise _upstream_error(exc) from exc
        except Exception as exc:  # the injected model is upstream of us: its failure is not our 500
            logger.warning("the injected chat model failed", exc_info=True)
            raise Upstream(f"the chat model failed ({type(exc).__name__})") from exc
        yield ChatChunk(finish_reason="length" if finish == "length" else "stop", usage=usage or Usage())

    def close(self) -> None:
        """Close the stream client's connections and stop the local model server, if one was started."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._local is not None:
            self._local.close()


def _usage(meta: Any) -> Usage:
    prompt, completion = int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _upstream_error(exc: openai.APIError) -> DbgptError:
    """A LangChain/OpenAI client failure in our hierarchy, without leaking keys or internals."""
    if isinstance(exc, openai.APITimeoutError):
        return Upstream("the LLM did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return Upstream("the LLM endpoint could not be reached")
    if isinstance(exc, openai.APIStatusError):
        return status_error(exc.status_code, exc.response.content)
    return Upstream("the LLM request failed")
