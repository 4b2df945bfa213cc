#!/usr/bin/env bash
# Install (Debian's packages) and start the database servers the datasource tests use, on loopback only:
# PostgreSQL on 127.0.0.1:54329 and MariaDB (the tests' `mysql` server) on 127.0.0.1:33069.
# Idempotent: a server already running is reused. Prints the URLs the tests read from DBGPT_TEST_PG_URL and
# DBGPT_TEST_MYSQL_URL. If a server cannot start, say so loudly and go on: its tests then skip with a reason.
set -uo pipefail
PGPORT="${DBGPT_TEST_PG_PORT:-54329}"
PGDATA_DIR="${DBGPT_TEST_PG_DIR:-/tmp/dbgpt-tools-pg}"
MYPORT="${DBGPT_TEST_MYSQL_PORT:-33069}"
MYDATA_DIR="${DBGPT_TEST_MYSQL_DIR:-/tmp/dbgpt-tools-mysql}"
loud() { echo "!!! ci_services: $*" >&2; }

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$found" ] && echo "$found"
}

install_missing() {
  local packages=()
  [ -z "$(pg_bin)" ] && packages+=(postgresql)
  [ -x /usr/sbin/mariadbd ] || packages+=(mariadb-server)
  [ ${#packages[@]} -eq 0 ] && return
  if ! command -v apt-get >/dev/null; then loud "no apt-get: cannot install ${packages[*]}"; return; fi
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1 \
    || loud "apt-get install ${packages[*]} failed"
}

# The servers refuse to run as root: run them as their packages' users when we are root.
as_user() { local user="$1"; shift; if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

start_postgres() {
  local bin; bin="$(pg_bin)"
  if [ -z "$bin" ]; then loud "PostgreSQL is not installed; PostgreSQL tests will skip"; return; fi
  # TCP logins check passwords (scram-sha-256), as a real server does; the admin steps use the socket.
  local hba="local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256"
  if as_user postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    if [ "$(cat "$PGDATA_DIR/pg_hba.conf")" != "$hba" ]; then  # a cluster made by an older script
      echo "$hba" | as_user postgres tee "$PGDATA_DIR/pg_hba.conf" >/dev/null
      as_user postgres "$bin/pg_ctl" -D "$PGDATA_DIR" reload >/dev/null
    fi
    echo "ci_services: PostgreSQL already running on 127.0.0.1:$PGPORT"
    return
  fi
  rm -rf "$PGDATA_DIR"; mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA_DIR"
  as_user postgres "$bin/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 >/dev/null \
    || { loud "initdb failed; PostgreSQL tests will skip"; return; }
  echo "$hba" | as_user postgres tee "$PGDATA_DIR/pg_hba.conf" >/dev/null
  as_user postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA_DIR" start >/dev/null \
    || { loud "PostgreSQL did not start; its tests will skip"; cat "$PGDATA_DIR/server.log" >&2; return; }
  local psql=(as_user postgres "$bin/psql" -h "$PGDATA_DIR" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q)
  "${psql[@]}" -c "CREATE ROLE dbgpt LOGIN PASSWORD 'dbgpt-test-pw'" \
    && "${psql[@]}" -c "CREATE DATABASE dbgpt_test OWNER dbgpt" \
    || loud "could not create the PostgreSQL test role/database"
  echo "ci_services: PostgreSQL started on 127.0.0.1:$PGPORT"
}

start_mariadb() {
  if [ ! -x /usr/sbin/mariadbd ]; then loud "MariaDB is not installed; MySQL tests will skip"; return; fi
  local sock="$MYDATA_DIR/mysqld.sock"
  # The install gives root and the installing OS user socket logins; as root we connect as root.
  local admin; admin="$( [ "$(id -u)" -eq 0 ] && echo root || id -un )"
  if mariadb-admin --no-defaults -S "$sock" -u "$admin" ping >/dev/null 2>&1; then
    echo "ci_services: MariaDB already running on 127.0.0.1:$MYPORT"
    return
  fi
  rm -rf "$MYDATA_DIR"; mkdir -p "$MYDATA_DIR"
  [ "$(id -u)" -eq 0 ] && chown mysql: "$MYDATA_DIR"
  as_user mysql mariadb-install-db --no-defaults --datadir="$MYDATA_DIR/data" \
    --auth-root-authentication-method=socket >"$MYDATA_DIR/install.log" 2>&1 \
    || { loud "mariadb-install-db failed; MySQL tests will skip"; cat "$MYDATA_DIR/install.log" >&2; return; }
  ( as_user mysql /usr/sbin/mariadbd --no-defaults --datadir="$MYDATA_DIR/data" --port="$MYPORT" \
    --bind-address=127.0.0.1 --socket="$sock" --pid-file="$MYDATA_DIR/mysqld.pid" \
    --log-error="$MYDATA_DIR/error.log" --skip-name-resolve >/dev/null 2>&1 & )
  for _ in $(seq 1 60); do
    mariadb-admin --no-defaults -S "$sock" -u "$admin" ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  local sql=""
  for host in 127.0.0.1 localhost; do
    sql+="CREATE USER 'dbgpt'@'$host' IDENTIFIED BY 'dbgpt-test-pw'; GRANT ALL ON dbgpt_test.* TO 'dbgpt'@'$host'; "
  done
  mariadb --no-defaults -S "$sock" -u "$admin" -e "CREATE DATABASE dbgpt_test; $sql" \
    || { loud "MariaDB did not start; MySQL tests will skip"; cat "$MYDATA_DIR/error.log" >&2; return; }
  echo "ci_services: MariaDB started on 127.0.0.1:$MYPORT"
}

install_missing
start_postgres
start_mariadb
echo "DBGPT_TEST_PG_URL=postgresql+psycopg://dbgpt:dbgpt-test-pw@127.0.0.1:$PGPORT/dbgpt_test"
echo "DBGPT_TEST_MYSQL_URL=mysql+pymysql://dbgpt:dbgpt-test-pw@127.0.0.1:$MYPORT/dbgpt_test"
