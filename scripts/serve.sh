#!/usr/bin/env bash
# Set up (first run: a virtualenv with the embedded model, ~1.2 GB) and start the server on the embedded
# defaults: REST + MCP on http://127.0.0.1:5670, SQLite metadata and Qwen2.5-Coder-1.5B via llama.cpp, and
# DB-GPT's web UI at / (fetched once from the dbgpt-app wheel; without it the server still starts).
# Extra arguments go to `dbgpt-tools serve` (e.g. --port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local]'
.venv/bin/dbgpt-tools webui install \
  || echo "warning: DB-GPT's web UI could not be installed (see above); serving the API without it" >&2
exec .venv/bin/dbgpt-tools serve "$@"
