"""The embedded model's weight files: found in installed packages without importing them, assembled once from
their parts, verified by sha256 (a wrong or missing part is a clear 503 that says how to reinstall), and not
hashed again while the assembled file is unchanged."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbgpt_tools.llm import local_model
from dbgpt_tools.llm.local_model import ModelSpec, ModelUnavailable, ensure_model_file

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"middle part" * 500, b"the end"]


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Three importable packages `fake_part1..3` shipping one part each, and a model spec made of them."""
    root = tmp_path / "site"
    for number, data in enumerate(PARTS, start=1):
        package = root / f"fake_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('never imported')\n")
        (package / "data" / "part.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(root))
    whole = b"".join(PARTS)
    spec = ModelSpec(
        name="qwen2.5-coder-1.5b",
        file_name="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        parts=tuple((f"fake_part{n}", "data/part.bin") for n in range(1, 4)),
        install_hint="pip install fake-parts",
    )
    monkeypatch.setitem(local_model.MODELS, "qwen2.5-coder-1.5b", spec)
    yield root
    for number in range(1, 4):
        sys.modules.pop(f"fake_part{number}", None)


def counting_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = local_model._sha256

    def counted(paths: list[Path], sink: Path | None = None) -> str:
        calls.append(len(paths))
        return real(paths, sink)

    monkeypatch.setattr(local_model, "_sha256", counted)
    return calls


def test_parts_are_assembled_once_and_trusted_while_unchanged(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = counting_hashes(monkeypatch)
    models = tmp_path / "models"
    path = ensure_model_file("qwen2.5-coder-1.5b", models)
    assert path == models / "fake.gguf" and path.read_bytes() == b"".join(PARTS)
    assert ensure_model_file("qwen2.5-coder-1.5b", models) == path and hashes == [3]  # not hashed again
    path.write_bytes(path.read_bytes() + b"!")  # damaged on disk (size, mtime): assembled again from the parts
    assert ensure_model_file("qwen2.5-coder-1.5b", models) == path and path.read_bytes() == b"".join(PARTS)
    assert hashes == [3, 3]
    assert sorted(p.name for p in models.iterdir()) == [".assemble.lock", "fake.gguf", "fake.gguf.verified.json"]


def test_a_part_of_the_wrong_size_is_refused_before_any_hashing(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = counting_hashes(monkeypatch)
    (packages / "fake_part2" / "data" / "part.bin").write_bytes(b"short")
    with pytest.raises(ModelUnavailable, match="bytes in its packages, expected"):
        ensure_model_file("qwen2.5-coder-1.5b", tmp_path / "models")
    assert hashes == []


def test_a_corrupt_part_is_refused_and_leaves_no_file(packages: Path, tmp_path: Path) -> None:
    (packages / "fake_part2" / "data" / "part.bin").write_bytes(b"tampered" + PARTS[1][8:])  # same size
    models = tmp_path / "models"
    with pytest.raises(ModelUnavailable, match="failed verification") as refused:
        ensure_model_file("qwen2.5-coder-1.5b", models)
    assert refused.value.status == 503 and "reinstall: pip install fake-parts" in refused.value.message
    assert sorted(p.name for p in models.iterdir()) == [".assemble.lock"]  # no partial, no marker


def test_a_missing_package_or_part_says_how_to_install_it(packages: Path, tmp_path: Path) -> None:
    (packages / "fake_part3" / "data" / "part.bin").unlink()
    with pytest.raises(ModelUnavailable, match=r"lacks data/part\.bin; reinstall it: pip install fake-parts"):
        ensure_model_file("qwen2.5-coder-1.5b", tmp_path / "models")
    (packages / "fake_part3" / "__init__.py").unlink()
    (packages / "fake_part3" / "data").rmdir()
    (packages / "fake_part3").rmdir()
    with pytest.raises(ModelUnavailable, match="'fake_part3' is not installed; run: pip install fake-parts"):
        ensure_model_file("qwen2.5-coder-1.5b", tmp_path / "models")


def test_a_one_file_model_is_used_in_place(packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = PARTS[0]
    spec = ModelSpec(
        "smollm2-135m",
        "one.gguf",
        len(data),
        hashlib.sha256(data).hexdigest(),
        (("fake_part1", "data/part.bin"),),
        "pip install one",
    )
    monkeypatch.setitem(local_model.MODELS, "smollm2-135m", spec)
    path = ensure_model_file("smollm2-135m", tmp_path / "models")
    assert path == packages / "fake_part1" / "data" / "part.bin"  # no copy of a single file
    assert (tmp_path / "models" / "one.gguf.verified.json").is_file()


def test_workers_starting_together_assemble_the_file_once(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = counting_hashes(monkeypatch)
    models = tmp_path / "models"
    barrier = threading.Barrier(3)
    found: list[Path] = []

    def start() -> None:
        barrier.wait()
        found.append(ensure_model_file("qwen2.5-coder-1.5b", models))

    workers = [threading.Thread(target=start) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert found == [models / "fake.gguf"] * 3 and hashes == [3]
