#!/usr/bin/env bash
# Install (Debian's packages) and start the PostgreSQL server the datasource tests use, on loopback only.
# Idempotent: an already running test cluster is reused. Prints the URL the tests read from
# DBGPT_TEST_PG_URL. If the server cannot start, say so loudly and go on: those tests then skip with a reason.
set -uo pipefail
PGPORT="${DBGPT_TEST_PG_PORT:-54329}"
PGDATA_DIR="${DBGPT_TEST_PG_DIR:-/tmp/dbgpt-tools-pg}"
loud() { echo "!!! ci_services: $*" >&2; }

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$found" ] && echo "$found"
}

if [ -z "$(pg_bin)" ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 \
      || loud "apt-get install postgresql failed"
  else
    loud "no apt-get: cannot install PostgreSQL"
  fi
fi
BIN="$(pg_bin)"
if [ -z "$BIN" ]; then loud "PostgreSQL is not installed; PostgreSQL tests will skip"; exit 0; fi

# postgres refuses to run as root: run the private cluster as the 'postgres' user when we are root.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# TCP logins check passwords (scram-sha-256), as a real server does; the admin steps below use the socket.
HBA="local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256"

if as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
  if [ "$(cat "$PGDATA_DIR/pg_hba.conf")" != "$HBA" ]; then  # a cluster made by an older script: check passwords
    echo "$HBA" | as_pg tee "$PGDATA_DIR/pg_hba.conf" >/dev/null && as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" reload >/dev/null
  fi
  echo "ci_services: PostgreSQL already running on 127.0.0.1:$PGPORT"
else
  rm -rf "$PGDATA_DIR"; mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA_DIR"
  as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 >/dev/null \
    || { loud "initdb failed; PostgreSQL tests will skip"; exit 0; }
  echo "$HBA" | as_pg tee "$PGDATA_DIR/pg_hba.conf" >/dev/null
  as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA_DIR" start >/dev/null \
    || { loud "PostgreSQL did not start; PostgreSQL tests will skip"; cat "$PGDATA_DIR/server.log" >&2; exit 0; }
  PSQL=(as_pg "$BIN/psql" -h "$PGDATA_DIR" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q)
  "${PSQL[@]}" -c "CREATE ROLE dbgpt LOGIN PASSWORD 'dbgpt-test-pw'" \
    && "${PSQL[@]}" -c "CREATE DATABASE dbgpt_test OWNER dbgpt" \
    || loud "could not create the test role/database"
  echo "ci_services: PostgreSQL started on 127.0.0.1:$PGPORT"
fi
echo "DBGPT_TEST_PG_URL=postgresql+psycopg://dbgpt:dbgpt-test-pw@127.0.0.1:$PGPORT/dbgpt_test"
