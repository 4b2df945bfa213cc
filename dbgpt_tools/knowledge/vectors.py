"""Chunk vectors in Chroma: one collection per space, in the data dir (`PersistentClient`) or on a Chroma server
(`HttpClient`, setting `chroma_url`). Vectors are computed by our embedder and passed in; a collection records the
embedding model it was filled with, and refuses queries from another one."""

from __future__ import annotations

import functools
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import numpy as np

from dbgpt_tools.errors import Conflict, InvalidInput, Upstream

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)
Metadata = Mapping[str, str | int | float | bool]
_PAGE = 1000


@dataclass(frozen=True)
class VectorHit:
    """A chunk found by its vector: id, text, metadata and cosine similarity to the query."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    similarity: float


def collection_name(space_id: int) -> str:
    return f"space_{space_id}"


def chroma_client(path: Path, url: str | None) -> ClientAPI:
    """A Chroma client: the server at `url`, or a persistent store at `path` (no telemetry either way)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if url is None:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"chroma_url must be http(s)://host:port, got {url!r}", field="chroma_url")
    return chromadb.HttpClient(
        host=parts.hostname, port=parts.port or 8000, ssl=parts.scheme == "https", settings=settings
    )


@contextmanager
def _chroma_errors() -> Iterator[None]:
    """Chroma's failures (a server gone, an index another process is writing) as a 502 naming the vector store."""
    from chromadb.errors import ChromaError

    try:
        yield
    except ChromaError as error:
        log.warning("vector store failure: %s", error)
        raise Upstream(f"the vector store failed ({type(error).__name__}); try again") from error
    except (ConnectionError, OSError) as error:
        raise Upstream("the Chroma server could not be reached") from error


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """A method whose Chroma failures come out as `_chroma_errors` says."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with _chroma_errors():
            return method(*args, **kwargs)

    return cast(F, guarded)


class VectorStore:
    """The spaces' chunk vectors; the Chroma client is opened on first use (it takes about a second)."""

    def __init__(self, path: Path, url: str | None, model_name: str) -> None:
        self._path = path
        self._url = url
        self._model_name = model_name
        self._client: ClientAPI | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """Which Chroma this is: its server's URL, or this host's directory."""
        if self._url:
            return f"chroma-server:{self._url}"
        return f"chroma-local:{socket.gethostname()}:{self._path.resolve()}"

    def check_location(self, space: str, location: str) -> None:
        """Refuse a space whose vectors are in another Chroma than this worker's (a misconfigured deployment)."""
        if location and location != self.location:
            raise Conflict(
                f"the vectors of space {space!r} are in {location}, this server uses {self.location}: servers "
                "sharing a metadata store must share one Chroma server (DBGPT_CHROMA_URL)"
            )

    def _chroma(self) -> ClientAPI:
        with self._lock:
            if self._client is None:
                try:
                    self._client = chroma_client(self._path, self._url)
                except (ValueError, ConnectionError) as error:  # HttpClient checks the server at once
                    raise Upstream("the Chroma server could not be reached") from error
            return self._client

    def _collection(self, space_id: int) -> Collection:
        collection = self._chroma().get_or_create_collection(
            collection_name(space_id),
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": self._model_name},
        )
        model = (collection.metadata or {}).get("embedding_model")
        if model != self._model_name:
            raise Conflict(
                f"this space was embedded with {model!r}, the server now embeds with {self._model_name!r}: "
                "sync its documents again"
            )
        return collection

    @_guarded
    def add(
        self,
        space_id: int,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        """Store chunks with their vectors (an id that exists is replaced)."""
        self._collection(space_id).upsert(
            ids=list(ids),
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=list(texts),
            metadatas=list(metadatas),
        )

    @_guarded
    def query(
        self, space_id: int, vector: Sequence[float], n: int, where: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The `n` chunks nearest to `vector` (within `where`), nearest first."""
        collection = self._collection(space_id)
        if n < 1 or collection.count() == 0:
            return []
        found = collection.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids, texts = found["ids"][0], (found["documents"] or [[]])[0]
        metadatas, distances = (found["metadatas"] or [[]])[0], (found["distances"] or [[]])[0]
        return [
            VectorHit(chunk_id, text or "", dict(metadata or {}), 1.0 - float(distance))
            for chunk_id, text, metadata, distance in zip(ids, texts, metadatas, distances, strict=True)
        ]

    @_guarded
    def fetch(self, space_id: int, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any], list[float]]]:
        """Text, metadata and vector of some chunks, by id."""
        if not ids:
            return {}
        got = self._collection(space_id).get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        texts, metadatas = got["documents"] or [], got["metadatas"] or []
        embeddings = got["embeddings"] if got["embeddings"] is not None else []
        return {
            chunk_id: (text or "", dict(metadata or {}), [float(x) for x in vector])
            for chunk_id, text, metadata, vector in zip(got["ids"], texts, metadatas, embeddings, strict=True)
        }

    def chunks(self, space_id: int, where: dict[str, Any] | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every chunk (id, text, metadata) within `where`, a page at a time."""
        with _chroma_errors():
            collection = self._collection(space_id)
        offset = 0
        while True:
            with _chroma_errors():
                page = collection.get(where=where, limit=_PAGE, offset=offset, include=["documents", "metadatas"])
            texts, metadatas = page["documents"] or [], page["metadatas"] or []
            for chunk_id, text, metadata in zip(page["ids"], texts, metadatas, strict=True):
                yield chunk_id, text or "", dict(metadata or {})
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    @_guarded
    def count(self, space_id: int, where: dict[str, Any] | None = None) -> int:
        """How many chunks (within `where`) a space holds."""
        collection = self._collection(space_id)
        if where is None:
            return collection.count()
        return len(collection.get(where=where, include=[])["ids"])

    @_guarded
    def delete(self, space_id: int, where: dict[str, Any]) -> None:
        """Remove the chunks within `where`."""
        self._collection(space_id).delete(where=where)

    @_guarded
    def drop(self, space_id: int) -> None:
        """Remove a space's collection, if it has one."""
        from chromadb.errors import NotFoundError

        try:
            self._chroma().delete_collection(collection_name(space_id))
        except NotFoundError:
            return
