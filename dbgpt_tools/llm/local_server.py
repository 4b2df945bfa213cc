"""The embedded llama.cpp server: started lazily, bound to loopback, guarded by a per-process key."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass

from dbgpt_tools.llm.model_files import ensure_model_file
from dbgpt_tools.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """Where an OpenAI-compatible server answers, and the key it wants."""

    base_url: str
    api_key: str


class LocalLlamaServer:
    """llama.cpp's OpenAI-compatible server run in-process by `xllamacpp`, started on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._server: object | None = None
        self._endpoint: Endpoint | None = None

    def endpoint(self) -> Endpoint:
        """Start the server if needed (blocking: assembles and loads the model) and return its endpoint."""
        with self._lock:
            if self._endpoint is None:
                self._endpoint = self._start()
            return self._endpoint

    def _start(self) -> Endpoint:
        import xllamacpp  # the `local` extra; imported only when the local backend is used

        settings = self._settings
        path = ensure_model_file(settings.local_model, settings.resolved_model_dir)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {settings.local_model}
        params.n_ctx = settings.local_ctx
        params.n_parallel = settings.llm_max_parallel
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # any free port
        params.api_keys = [secrets.token_urlsafe(24)]
        params.ui = False
        params.verbosity = -1
        if settings.local_threads:
            params.cpuparams.n_threads = settings.local_threads
            params.cpuparams_batch.n_threads = settings.local_threads
        log.info("starting local model %s from %s", settings.local_model, path)
        server = xllamacpp.Server(params)
        self._server = server
        address = server.listening_address
        log.info("local model %s listening on %s", settings.local_model, address)
        return Endpoint(base_url=f"{address}/v1", api_key=params.api_keys[0])

    def close(self) -> None:
        """Stop the server (it is started again on next use)."""
        with self._lock:
            self._server = None  # xllamacpp stops the server when the object is released
            self._endpoint = None
