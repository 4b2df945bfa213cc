"""BM25 keyword search over a space's searchable chunks (bm25s, English stop words and stems).

An index is built for one *generation* of a space (the store bumps it whenever the space's searchable chunks
change) and saved under the data dir; any worker that sees a newer generation loads that index, or builds it
from the chunks in the vector store when no worker on this machine has yet. Nothing lives only in memory.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import Stemmer

with warnings.catch_warnings():  # bm25s imports tqdm.auto, which warns in a notebook without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    import bm25s

_STEMMER = Stemmer.Stemmer("english")
_IDS_FILE = "chunk_ids.json"

ChunkTexts = Callable[[], Iterable[tuple[str, str]]]
"""The (chunk id, text) pairs an index is built from."""


def tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stop words."""
    result: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )
    return result


@dataclass(frozen=True)
class _Loaded:
    generation: int
    retriever: bm25s.BM25 | None  # None: no chunk to index
    chunk_ids: list[str]


class KeywordIndex:
    """Keyword indexes of the spaces, one directory per space and generation under `root`."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._loaded: dict[int, _Loaded] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def search(self, space_id: int, generation: int, query: str, k: int, chunks: ChunkTexts) -> list[tuple[str, float]]:
        """The best `k` chunk ids for `query` with their BM25 scores (only chunks sharing a word with it)."""
        index = self._index(space_id, generation, chunks)
        words = tokens([query])
        if index.retriever is None or not words[0] or k < 1:
            return []
        found, scores = index.retriever.retrieve(words, k=min(k, len(index.chunk_ids)), show_progress=False)
        return [
            (index.chunk_ids[int(position)], float(score))
            for position, score in zip(found[0], scores[0], strict=True)
            if score > 0
        ]

    def build(self, space_id: int, generation: int, chunks: ChunkTexts) -> None:
        """Make sure the index of this generation exists (ingestion calls it, so that searches find it ready)."""
        self._index(space_id, generation, chunks)

    def drop(self, space_id: int) -> None:
        """Forget a space's indexes (its space was deleted)."""
        with self._lock(space_id):
            self._loaded.pop(space_id, None)
            shutil.rmtree(self._root / str(space_id), ignore_errors=True)

    def _lock(self, space_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(space_id, threading.Lock())

    def _index(self, space_id: int, generation: int, chunks: ChunkTexts) -> _Loaded:
        loaded = self._loaded.get(space_id)
        if loaded is not None and loaded.generation == generation:
            return loaded
        with self._lock(space_id):
            loaded = self._loaded.get(space_id)
            if loaded is None or loaded.generation != generation:
                loaded = self._load(space_id, generation) or self._create(space_id, generation, chunks)
                self._loaded[space_id] = loaded
            return loaded

    def _load(self, space_id: int, generation: int) -> _Loaded | None:
        directory = self._root / str(space_id) / str(generation)
        ids_file = directory / _IDS_FILE
        if not ids_file.is_file():
            return None
        chunk_ids: list[str] = json.loads(ids_file.read_text())
        retriever = bm25s.BM25.load(str(directory), mmap=True) if chunk_ids else None
        return _Loaded(generation, retriever, chunk_ids)

    def _create(self, space_id: int, generation: int, chunks: ChunkTexts) -> _Loaded:
        pairs = list(chunks())
        chunk_ids = [chunk_id for chunk_id, _ in pairs]
        retriever = None
        space_dir = self._root / str(space_id)
        building = space_dir / f".build-{uuid.uuid4().hex}"
        building.mkdir(parents=True)
        words = tokens([text for _, text in pairs])
        if any(words):  # chunks of stop words and symbols only have nothing to find
            retriever = bm25s.BM25()
            retriever.index(words, show_progress=False)
            retriever.save(str(building))
        else:
            chunk_ids = []
        (building / _IDS_FILE).write_text(json.dumps(chunk_ids))
        try:
            building.rename(space_dir / str(generation))  # whole or not at all; another worker may have won
        except OSError:
            shutil.rmtree(building, ignore_errors=True)
        for old in space_dir.iterdir():
            if old.name.isdigit() and int(old.name) < generation:
                shutil.rmtree(old, ignore_errors=True)
        return _Loaded(generation, retriever, chunk_ids)
