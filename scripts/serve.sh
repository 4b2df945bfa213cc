#!/usr/bin/env bash
# Set up (first run: a virtualenv with the embedded model, ~1.2 GB) and start the server on the embedded
# defaults: REST + MCP on http://127.0.0.1:5670, SQLite metadata and Qwen2.5-Coder-1.5B via llama.cpp.
# Extra arguments go to `dbgpt-tools serve` (e.g. --port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local]'
exec .venv/bin/dbgpt-tools serve "$@"
