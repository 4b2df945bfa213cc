"""sql_safety: one statement, in the datasource's dialect, reads only unless writable; no file or system access."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import time
from typing import Any

import pytest

from dbgpt_tools.errors import Forbidden, InvalidInput
from dbgpt_tools.sql.fences import clean_sql
from dbgpt_tools.sql.safety import (
    READ_ONLY_RULE,
    SIDE_EFFECT_FUNCTIONS,
    SUPPORTED_DIALECTS,
    SYSTEM_FUNCTIONS,
    CheckedSql,
    check_sql,
)
from dbgpt_tools.sql.sample_db import DDL
from tests.sql.dangerous_sql import DANGEROUS, SAFE, SAFE_EXPECTED, DangerousSql

# Every refusal says why: a named statement or function, the one-statement rule, a parse error, emptiness.
REASON = re.compile(
    r"(?P<what>\S.*) is not allowed on a read-only datasource \(" + re.escape(READ_ONLY_RULE) + r"\)"
    r"|exactly one SQL statement is allowed; found \d+"
    r"|SQL does not parse as \w+: \S"
    r"|MySQL executable comments"
)


def _cases(corpus: list[DangerousSql]) -> list[Any]:
    return [pytest.param(case.sql, db_type, id=f"{case.id}-{db_type}") for case in corpus for db_type in case.db_types]


def test_corpus_is_large_and_well_formed() -> None:
    assert len(DANGEROUS) >= 50
    assert sum("sqlite" in case.db_types for case in DANGEROUS) >= 40
    assert len(SAFE) >= 15
    ids = [case.id for case in DANGEROUS + SAFE]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"
    for case in DANGEROUS + SAFE:
        assert case.db_types and set(case.db_types) <= set(SUPPORTED_DIALECTS), case.id
    assert set(SAFE_EXPECTED) <= {case.id for case in SAFE}


@pytest.mark.parametrize(("sql", "db_type"), _cases(DANGEROUS))
def test_dangerous_sql_is_refused_on_read_only(sql: str, db_type: str) -> None:
    with pytest.raises((Forbidden, InvalidInput)) as refused:
        check_sql(sql, db_type)
    assert refused.value.field == "sql"
    match = REASON.search(refused.value.message)
    assert match, refused.value.message
    assert "\x1b" not in refused.value.message and "\n" not in refused.value.message  # short, no ANSI highlight


@pytest.mark.parametrize(("sql", "db_type"), _cases(SAFE))
def test_safe_sql_passes_as_cleaned(sql: str, db_type: str, request: pytest.FixtureRequest) -> None:
    case_id = request.node.callspec.id.rsplit("-", 1)[0]
    cleaned, kind = SAFE_EXPECTED.get(case_id, (None, "select"))
    checked = check_sql(sql, db_type)
    assert checked == CheckedSql(sql=cleaned or sql, kind=kind, is_write=False)


def test_safe_sqlite_sql_runs_on_the_sample_schema() -> None:
    """The SAFE corpus is real SQL for the sample database, so faces can execute it."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(DDL)
    for case in SAFE:
        if "sqlite" in case.db_types:
            conn.execute(check_sql(case.sql, "sqlite").sql).fetchall()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "db_type", "what"),
    [
        ("DELETE FROM customers", "sqlite", "DELETE"),
        ("DROP TABLE orders", "postgresql", "DROP TABLE"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "sqlite", "ATTACH"),
        ("SELECT load_extension('/tmp/evil.so')", "sqlite", "function load_extension"),
        ("SELECT * INTO stolen FROM customers", "postgresql", "SELECT ... INTO"),
        ("SELECT * FROM orders FOR UPDATE", "postgresql", "SELECT ... FOR UPDATE"),
        ("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "postgresql", "DELETE"),
        ("EXPLAIN ANALYZE DELETE FROM customers", "postgresql", "EXPLAIN of DELETE"),
        ("EXPLAIN QUERY PLAN UPDATE orders SET status = 'x'", "sqlite", "EXPLAIN of UPDATE"),
        ("PRAGMA writable_schema = 1", "sqlite", "PRAGMA writable_schema"),
        ("PRAGMA journal_mode(WAL)", "sqlite", "PRAGMA journal_mode"),
        ("PRAGMA user_version = 7", "sqlite", "PRAGMA user_version"),
        ("VACUUM INTO '/tmp/copy.db'", "sqlite", "VACUUM INTO"),
        ("REPLACE INTO customers (customer_id) VALUES (1)", "sqlite", "REPLACE INTO"),
        ("REINDEX customers", "sqlite", "REINDEX"),
        ("COPY customers TO PROGRAM 'sh'", "postgresql", "COPY"),
        ("SET ROLE postgres", "postgresql", "SET ROLE"),
        ("SELECT pg_catalog.PG_READ_FILE('/etc/passwd')", "postgresql", "function pg_read_file"),
        ("SELECT nextval('s')", "postgresql", "function nextval"),
        ("SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", "postgresql", "function dblink"),
        ("SELECT * FROM read_csv('/etc/passwd')", "duckdb", "function read_csv"),
        ("SELECT * FROM 'data/x.parquet'", "duckdb", "reading the file 'data/x.parquet' as a table"),
        ("INSTALL httpfs", "duckdb", "INSTALL"),
        ("SELECT LOAD_FILE('/etc/passwd')", "mysql", "function load_file"),
    ],
)
def test_refusal_names_what_was_found(sql: str, db_type: str, what: str) -> None:
    with pytest.raises(Forbidden) as refused:
        check_sql(sql, db_type)
    assert f"{what} is not allowed on a read-only datasource ({READ_ONLY_RULE})" in refused.value.message
    assert refused.value.status == 403


@pytest.mark.parametrize("db_type", list(SUPPORTED_DIALECTS))
def test_every_denied_function_is_refused_in_every_dialect(db_type: str) -> None:
    """Each name is refused whatever sqlglot parses it to (an anonymous or a typed function), in any position."""
    by_prefix = {"dblink_connect", "pg_ls_waldir", "pg_try_advisory_lock"}
    for name in sorted(SYSTEM_FUNCTIONS | SIDE_EFFECT_FUNCTIONS | by_prefix):
        for sql in (f"SELECT {name}('x', 1)", f"SELECT * FROM {name}('x') AS t", f"SELECT 1 WHERE {name.upper()}(1)"):
            with pytest.raises(Forbidden, match=f"function {name} is not allowed"):
                check_sql(sql, db_type)
        if name in SYSTEM_FUNCTIONS:
            with pytest.raises(Forbidden, match=f"function {name} is not allowed: it reaches files"):
                check_sql(f"SELECT {name}('x')", db_type, writable=True)


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1; SELECT 2", 2),
        ("SELECT 1;\nDELETE FROM orders;", 2),
        ("```sql\nSELECT 1\n```\n```sql\nSELECT 2\n```", 2),
        ("SELECT 1; SELECT 2; SELECT 3", 3),
    ],
)
def test_exactly_one_statement(sql: str, count: int) -> None:
    for writable in (False, True):
        with pytest.raises(InvalidInput) as refused:
            check_sql(sql, "sqlite", writable=writable)
        assert f"exactly one SQL statement is allowed; found {count}" in refused.value.message


@pytest.mark.parametrize("sql", ["", "   \n\t", ";", " ;; ", "```sql\n```", "-- nothing to run", "SQL:"])
def test_empty_sql_is_invalid(sql: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_sql(sql, "sqlite")
    assert "empty SQL statement" in refused.value.message
    assert refused.value.field == "sql"


def test_unparsable_sql_names_the_dialect_and_position() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_sql("SELECT FROM WHERE (", "postgresql")
    assert "SQL does not parse as postgres: Expected table name but got 'WHERE' at line 1, column 17" in (
        refused.value.message
    )
    with pytest.raises(InvalidInput, match="does not parse as sqlite"):
        check_sql("SELECT 1 /* unterminated", "sqlite")


def test_explained_statement_must_parse() -> None:
    """EXPLAIN's statement is kept as text by the parser: it is parsed again, and refused if it does not parse."""
    for writable in (False, True):
        with pytest.raises(InvalidInput, match="does not parse as postgres"):
            check_sql("EXPLAIN ANALYZE SELECT pg_read_file('x') \\g", "postgresql", writable=writable)


def test_dialect_decides_how_sql_parses() -> None:
    """Backslashes escape quotes in MySQL only: the same text is one statement there, three elsewhere."""
    sql = "SELECT '\\'; DROP TABLE customers; --'"
    assert check_sql(sql, "mysql").kind == "select"
    with pytest.raises(InvalidInput, match="exactly one SQL statement"):
        check_sql(sql, "postgresql")


@pytest.mark.parametrize("db_type", ["oracle", "", "postgres"])
def test_unknown_db_type_lists_supported_ones(db_type: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_sql("SELECT 1", db_type)
    assert refused.value.field == "db_type"
    assert all(name in refused.value.message for name in SUPPORTED_DIALECTS)


def test_db_type_is_case_insensitive() -> None:
    assert check_sql("SELECT 1", " SQLite ").kind == "select"


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  SELECT 1 ;  ", "SELECT 1"),
        ("SELECT 1;;;", "SELECT 1"),
        ("SELECT 1 ; ; ", "SELECT 1"),
        ("```sql\nSELECT 1;\n```", "SELECT 1"),
        ("```SQL\nSELECT 1\n```", "SELECT 1"),
        ("```\nSELECT 1;\n```", "SELECT 1"),
        ("```sql SELECT 1; ```", "SELECT 1"),
        ("```SELECT 1```", "SELECT 1"),
        ("```sqlite\nSELECT 1\n```", "SELECT 1"),
        ("```sql\nSELECT 1", "SELECT 1"),  # a truncated answer
        ("The query:\n\n```sql\nSELECT name\nFROM customers;\n```\n\nIt lists names.", "SELECT name\nFROM customers"),
        ("SQL: SELECT 1;", "SELECT 1"),
        ("sql:SELECT 1", "SELECT 1"),
        ("```sql\nSQL: SELECT 1;\n```", "SELECT 1"),
        ("\ufeff\u00a0SELECT 1\u2028", "SELECT 1"),
        ("SELECT ';' AS s;", "SELECT ';' AS s"),
        ("-- comment\nSELECT 1;", "-- comment\nSELECT 1"),
        ("```sql\nSELECT 1;\n```\n```sql\nDROP TABLE t;\n```", "SELECT 1;\nDROP TABLE t"),
        ("", ""),
    ],
)
def test_clean_sql(text: str, cleaned: str) -> None:
    assert clean_sql(text) == cleaned


@pytest.mark.parametrize(
    ("sql", "db_type", "kind"),
    [
        ("INSERT INTO customers (name) VALUES ('x')", "sqlite", "insert"),
        ("UPDATE products SET unit_price = 1", "postgresql", "update"),
        ("DELETE FROM orders WHERE order_id = 1", "mysql", "delete"),
        ("CREATE TEMP TABLE t AS SELECT 1", "duckdb", "create"),
        ("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "postgresql", "select"),
        ("REPLACE INTO customers (customer_id) VALUES (1)", "sqlite", "replace"),
        ("PRAGMA user_version = 2", "sqlite", "pragma"),
        ("EXPLAIN ANALYZE DELETE FROM orders", "postgresql", "explain"),
        ("SELECT nextval('s')", "postgresql", "select"),
        ("DO $$ BEGIN RAISE NOTICE 'hi'; END $$", "postgresql", "do"),
        ("INSERT INTO notes (body) VALUES ('readfile(x) is a SQLite CLI function')", "sqlite", "insert"),
    ],
)
def test_writable_datasource_accepts_writes(sql: str, db_type: str, kind: str) -> None:
    assert check_sql(sql, db_type, writable=True) == CheckedSql(sql=sql, kind=kind, is_write=True)


def test_writable_reads_are_not_writes() -> None:
    assert check_sql("SELECT * FROM customers", "sqlite", writable=True).is_write is False
    assert check_sql("EXPLAIN SELECT 1", "postgresql", writable=True).is_write is False


@pytest.mark.parametrize(
    ("sql", "db_type", "what"),
    [
        ("SELECT load_extension('/tmp/evil.so')", "sqlite", "function load_extension"),
        ("INSERT INTO customers (name) SELECT readfile('/etc/passwd')", "sqlite", "function readfile"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "sqlite", "ATTACH"),
        ("VACUUM INTO '/tmp/copy.db'", "sqlite", "VACUUM INTO"),
        ("SELECT pg_read_file('/etc/passwd')", "postgresql", "function pg_read_file"),
        ("SELECT dblink_exec('host=x', 'DROP TABLE t')", "postgresql", "function dblink_exec"),
        ("COPY customers TO PROGRAM 'sh -c id'", "postgresql", "COPY"),
        ("EXPLAIN ANALYZE SELECT lo_export(1, '/tmp/x')", "postgresql", "EXPLAIN of function lo_export"),
        ("CREATE TABLE t AS SELECT * FROM read_csv_auto('/etc/passwd')", "duckdb", "function read_csv_auto"),
        ("CREATE TABLE t AS SELECT * FROM 'https://evil.example/x.csv'", "duckdb", "reading the file"),
        ("LOAD httpfs", "duckdb", "LOAD"),
        ("SELECT LOAD_FILE('/etc/passwd')", "mysql", "function load_file"),
        # SQL the parser keeps as text is searched for the same calls
        ("DO $$ BEGIN PERFORM pg_read_file('/etc/passwd'); END $$", "postgresql", "function pg_read_file"),
        ("PREPARE p AS SELECT pg_catalog.\"pg_read_file\"('x')", "postgresql", "function pg_read_file"),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT dblink_exec('x') $$", "postgresql", "function dblink_exec"),
        ("PREPARE s FROM 'SELECT load_file(\"/etc/passwd\")'", "mysql", "function load_file"),
    ],
)
def test_writable_datasource_still_refuses_file_and_system_access(sql: str, db_type: str, what: str) -> None:
    with pytest.raises(Forbidden) as refused:
        check_sql(sql, db_type, writable=True)
    assert what in refused.value.message
    assert "reaches files, programs or other databases" in refused.value.message


def test_mysql_executable_comments_are_refused_everywhere() -> None:
    for writable in (False, True):
        with pytest.raises(Forbidden, match="executable comments"):
            check_sql("SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", "mysql", writable=writable)
    assert check_sql("SELECT /*+ MAX_EXECUTION_TIME(1000) */ 1", "mysql").kind == "select"  # an optimizer hint


@pytest.mark.parametrize(
    ("sql", "db_type"),
    [
        ("PRAGMA table_xinfo(orders)", "sqlite"),
        ("PRAGMA foreign_key_list('orders')", "sqlite"),
        ("PRAGMA integrity_check", "sqlite"),
        ("PRAGMA database_list", "sqlite"),
        ("PRAGMA main.index_info(idx_orders_customer)", "sqlite"),
        ("PRAGMA show_tables", "duckdb"),
    ],
)
def test_pragma_reads_pass(sql: str, db_type: str) -> None:
    assert check_sql(sql, db_type) == CheckedSql(sql=sql, kind="pragma", is_write=False)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT glob('A*', name) FROM customers",  # SQLite's glob() matches a pattern; DuckDB's lists files
        'SELECT * FROM "weird.name"',  # a dotted table name is only a file path on DuckDB
        "SELECT replace(name, 'x', 'y'), changes() FROM customers",
    ],
)
def test_names_dangerous_only_elsewhere_pass_on_sqlite(sql: str) -> None:
    assert check_sql(sql, "sqlite").kind == "select"


def test_checked_sql_is_frozen() -> None:
    checked = check_sql("SELECT 1", "sqlite")
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.sql = "DROP TABLE customers"  # type: ignore[misc]  # the write a frozen dataclass refuses is the test


def test_check_is_fast() -> None:
    sql = (
        "WITH busy AS (SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id) "
        "SELECT c.name, b.n FROM customers c JOIN busy b ON b.customer_id = c.customer_id "
        "WHERE c.country IN ('France', 'Spain') ORDER BY b.n DESC LIMIT 10"
    )
    check_sql(sql, "sqlite")
    started = time.process_time()  # CPU time: the work done, whatever else the machine is doing
    for _ in range(100):
        check_sql(sql, "sqlite")
    assert (time.process_time() - started) / 100 < 0.01  # well under 10 ms per check
