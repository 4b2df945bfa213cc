"""Settings: environment parsing, and README's configuration table lists every setting (and nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbgpt_tools.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"^\| `(DBGPT_[A-Z0-9_]+)` \|", README.read_text(), flags=re.M))
    expected = {f"DBGPT_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected, f"missing: {expected - documented}; stale: {documented - expected}"


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DBGPT_API_KEYS", " dbgpt, other ,")
    monkeypatch.setenv("DBGPT_LLM_BACKEND", "openai")
    monkeypatch.setenv("DBGPT_PORT", "8080")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.port == 8080 and settings.llm_backend == "openai"
    assert [key.get_secret_value() for key in settings.api_keys] == ["dbgpt", "other"]
    assert settings.resolved_metadata_url == f"sqlite:///{tmp_path / 'metadata.db'}"


def test_keys_are_checked_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBGPT_API_KEYS", "s3cret")
    settings = Settings()
    assert settings.accepts_key("s3cret") and not settings.accepts_key("s3cre") and not settings.accepts_key(None)
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.model_dump_json()


def test_no_keys_accepts_anything() -> None:
    assert Settings().accepts_key(None)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBGPT_LLM_BACKEND", "ollama")
    with pytest.raises(ValueError, match="llm_backend"):
        Settings()


def test_paths_default_to_the_data_dir_and_roots_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (tmp_path / "link").symlink_to(extra)
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DBGPT_DB_ROOTS", f" {tmp_path / 'link'} ,, /srv/dbs ")
    settings = Settings()
    assert settings.allowed_db_roots == [tmp_path / "data", extra, Path("/srv/dbs")]  # data dir first, links resolved
    assert settings.resolved_model_dir == tmp_path / "data" / "models"
    assert Settings(model_dir=tmp_path / "m").resolved_model_dir == tmp_path / "m"
    assert Settings(metadata_url="postgresql+psycopg://h/db").resolved_metadata_url == "postgresql+psycopg://h/db"
