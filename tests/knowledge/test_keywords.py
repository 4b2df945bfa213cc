"""The BM25 keyword index: stems and stop words, kept on disk per space and generation so that another worker
loads it instead of rebuilding, rebuilt when the generation moves on, older generations removed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dbgpt_tools.knowledge.keywords import KeywordIndex, tokens

CHUNKS = [("c1", "The herons were fishing in the ponds."), ("c2", "Databases store rows."), ("c3", "The and of it")]


def never() -> Iterable[tuple[str, str]]:
    raise AssertionError("the index was rebuilt instead of loaded")


def test_words_are_stemmed_without_stop_words() -> None:
    assert tokens(["The herons were fishing in the ponds"]) == [["heron", "were", "fish", "pond"]]


def test_an_index_is_loaded_by_another_worker_and_rebuilt_for_a_new_generation(tmp_path: Path) -> None:
    first = KeywordIndex(tmp_path)
    assert [hit for hit, _ in first.search(7, 1, "heron fish", 5, lambda: CHUNKS)] == ["c1"]
    other_worker = KeywordIndex(tmp_path)
    assert [hit for hit, _ in other_worker.search(7, 1, "database row", 5, never)] == ["c2"]
    assert other_worker.search(7, 1, "the", 5, never) == []  # stop words alone find nothing
    assert [hit for hit, _ in other_worker.search(7, 2, "database", 5, lambda: CHUNKS[1:2])] == ["c2"]
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["2"]  # generation 1 is gone
    other_worker.drop(7)
    assert not (tmp_path / "7").exists()


def test_a_space_of_stop_words_or_no_chunks_has_nothing_to_find(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path)
    assert index.search(1, 1, "anything", 5, lambda: [("c", "the and of"), ("d", "!!")]) == []
    assert index.search(2, 1, "anything", 5, list) == []
