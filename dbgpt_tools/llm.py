"""The chat-model factory and the one streaming call every chat mode makes through it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_openai import ChatOpenAI

from dbgpt_tools.concurrency import ConcurrencyGate
from dbgpt_tools.errors import Busy, DbgptError, InvalidInput, Upstream
from dbgpt_tools.local_llm import LocalLlamaServer
from dbgpt_tools.schemas import ChatChunk, Usage
from dbgpt_tools.settings import Settings


def openai_chat_model(base_url: str | None, api_key: str, model: str, timeout: float) -> ChatOpenAI:
    """A streaming `ChatOpenAI` for any OpenAI-compatible endpoint, reporting token usage."""
    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,  # type: ignore[arg-type]
        model=model,
        streaming=True,
        stream_usage=True,
        timeout=timeout,
        max_retries=1,
    )


class LLM:
    """The configured chat model (built lazily) and the gate that shares it between requests."""

    def __init__(self, settings: Settings, chat_model: BaseChatModel | None = None) -> None:
        self._settings = settings
        self.gate = ConcurrencyGate(settings.llm_max_parallel, settings.llm_max_queue)
        self._injected = chat_model
        self._model = chat_model
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

    def chat_model(self) -> BaseChatModel:
        """The LangChain chat model; for the local backend this loads the model on first call (blocking)."""
        with self._lock:
            if self._model is None:
                self._model = self._build()
            return self._model

    def _build(self) -> BaseChatModel:
        settings = self._settings
        if self._local is not None:
            endpoint = self._local.endpoint()
            return openai_chat_model(endpoint.base_url, endpoint.api_key, settings.local_model, settings.llm_timeout)
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        return openai_chat_model(settings.llm_base_url, key, settings.llm_model, settings.llm_timeout)

    async def astream(
        self, messages: list[BaseMessage], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[ChatChunk]:
        """Stream the model's answer to `messages` as text deltas, ending with finish reason and usage."""
        model = self._model or await asyncio.to_thread(self.chat_model)
        options: dict[str, Any] = {"max_tokens": max_tokens or self._settings.max_new_tokens}
        if temperature is not None:
            options["temperature"] = temperature
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
        yield ChatChunk(finish_reason="length" if finish == "length" else "stop", usage=usage or Usage())

    def close(self) -> None:
        """Stop the local model server, if one was started."""
        if self._local is not None:
            self._local.close()


def _usage(meta: Any) -> Usage:
    prompt, completion = int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _upstream_error(exc: openai.APIError) -> DbgptError:
    """Translate the LLM client's failure into our hierarchy, without leaking keys or internals."""
    if isinstance(exc, openai.APITimeoutError):
        return Upstream("the LLM did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return Upstream("the LLM endpoint could not be reached")
    if isinstance(exc, openai.APIStatusError):
        detail = _status_detail(exc)
        if exc.status_code == 429:
            return Busy(f"the LLM endpoint is rate limiting: {detail}")
        if exc.status_code == 400:
            return InvalidInput(f"the LLM refused the request: {detail}")
        return Upstream(f"the LLM endpoint answered HTTP {exc.status_code}: {detail}")
    return Upstream("the LLM request failed")


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if message is None and isinstance(body, dict):
        message = body.get("message")
    return str(message or exc.message)[:300]
