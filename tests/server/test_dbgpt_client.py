"""Conformance with the official `dbgpt-client` package, run in its own virtualenv against a live server."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from dbgpt_tools.apps.examples import SALES_ANALYST
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import create_app
from tests.live import live_server
from tests.scripted import ScriptedChatModel

ROOT = Path(__file__).resolve().parents[2]
CLIENT_VENV = ROOT / ".venv-dbgpt-client"  # made by scripts/test.sh (or here, once)
CLIENT_PACKAGES = ["dbgpt-client==0.8.2", "beautifulsoup4==4.15.0"]
CHECK = Path(__file__).parent / "conformance" / "dbgpt_client_check.py"


def client_python() -> Path:
    python = CLIENT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CLIENT_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *CLIENT_PACKAGES],
            check=True,
        )
    return python


def test_official_client_chats_and_manages_datasources_and_knowledge(settings: Settings) -> None:
    model = ScriptedChatModel.replying(
        "Hello there friend",
        "Hi again friend",
        "I will count.\n```sql\nSELECT COUNT(*) AS n FROM regions\n```",
        "27 days [1].",
        "```sql\nSELECT COUNT(*) AS n FROM regions\n```",
    )
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model)
    runtime.apps.create(SALES_ANALYST)
    database = settings.data_dir / "conformance.sqlite"
    sqlite3.connect(database).execute("CREATE TABLE t (a INTEGER)").connection.commit()
    try:
        with live_server(create_app(runtime)) as url:
            run = subprocess.run(
                [str(client_python()), str(CHECK), f"{url}/api/v2", "test-key", str(database)],
                capture_output=True,
                text=True,
                timeout=300,
            )
    finally:
        runtime.close()
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert run.stdout.count("ok   ") == 37
