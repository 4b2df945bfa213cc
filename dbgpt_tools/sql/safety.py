"""The one place that decides, from the parse tree, which SQL may run on a datasource.

`check_sql` accepts exactly one statement in the datasource's own dialect. On a read-only datasource the
statement must be a read (an allow-list of root nodes, then the whole tree is searched for writes, locks and
side-effecting functions). On every datasource, functions and statements that reach the server's files,
network or processes are refused. Engine-level enforcement (read-only connections, authorizers, timeouts)
is the datasources' job: this layer refuses more than the engine would, never less.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from dbgpt_tools.errors import Forbidden, InvalidInput
from dbgpt_tools.sql.fences import clean_sql

SUPPORTED_DIALECTS: dict[str, str] = {
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "mysql": "mysql",
}

READ_ONLY_RULE = "only SELECT, WITH, EXPLAIN, SHOW, DESCRIBE and PRAGMA reads"


class _CommandFallbackFilter(logging.Filter):
    """Drop sqlglot's warning that it kept a statement as a Command: this module judges Commands itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_CommandFallbackFilter())

# Functions that read or write the server's files, reach the network or other databases, run hidden SQL
# or act on other sessions: refused on every datasource (names compared in lower case).
SYSTEM_FUNCTIONS = frozenset(
    {
        # SQLite (core, extensions and the CLI's functions)
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "fsdir", "zipfile", "eval",
        # PostgreSQL (dblink*, pg_ls_*, pg_read_*, pg_file_* are matched by prefix)
        "pg_stat_file", "pg_logdir_ls", "lo_import", "lo_export", "pg_terminate_backend", "pg_cancel_backend",
        "pg_reload_conf", "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_create_restore_point",
        "pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause",
        "pg_wal_replay_resume", "pg_log_backend_memory_contexts", "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot", "pg_drop_replication_slot", "pg_import_system_collations",
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
        "cursor_to_xmlschema", "ts_stat", "ts_rewrite",
        # MySQL (file access and the lib_mysqludf_sys command runners)
        "load_file", "sys_exec", "sys_eval", "sys_bineval", "sys_get", "sys_set",
        # DuckDB (file readers, scanners of other databases, hidden SQL, environment and secrets)
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
        "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
        "read_text", "read_blob", "read_xlsx", "read_avro", "sniff_csv", "parquet_metadata", "parquet_schema",
        "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe", "iceberg_scan",
        "iceberg_metadata", "iceberg_snapshots", "delta_scan", "sqlite_scan", "sqlite_attach", "sqlite_query",
        "postgres_scan", "postgres_scan_pushdown", "postgres_attach", "postgres_query", "postgres_execute",
        "mysql_query", "mysql_execute", "st_read", "st_read_meta", "st_readosm", "st_readshp", "read_osm",
        "getenv", "query", "query_table", "json_execute_serialized_sql", "load_aws_credentials",
        "duckdb_secrets", "which_secret", "arrow_scan", "arrow_scan_dumb",
    }
)  # fmt: skip
SYSTEM_FUNCTION_PREFIXES = ("dblink", "pg_ls_", "pg_read_", "pg_file_")
# Names that are harmless elsewhere (SQLite's glob() matches a pattern; DuckDB's lists files).
_DIALECT_SYSTEM_FUNCTIONS = {"duckdb": frozenset({"glob"})}
_SYSTEM_FUNCTION_TYPES: tuple[type[exp.Func], ...] = (exp.ReadCSV, exp.ReadParquet)
# A call of one of them in SQL kept as text (a DO block, PREPARE, a function body).
_SYSTEM_CALL = re.compile(
    r"\b((?:"
    + "|".join(SYSTEM_FUNCTION_PREFIXES)
    + r")\w*|"
    + "|".join(sorted(SYSTEM_FUNCTIONS, key=len, reverse=True))
    + r")\"?\s*\(",
    re.I,
)

# Functions with side effects inside the database (sequences, settings, locks, notifications, large
# objects, statistics resets, checkpoints): refused on read-only datasources only.
SIDE_EFFECT_FUNCTIONS = frozenset(
    {
        "nextval", "setval", "set_config", "txid_current", "pg_current_xact_id", "pg_notify", "lo_create",
        "lo_creat", "lo_unlink", "lo_open", "lowrite", "lo_put", "lo_from_bytea", "lo_truncate",
        "lo_truncate64", "pg_stat_statements_reset", "benchmark", "get_lock", "release_lock",
        "release_all_locks", "master_pos_wait", "source_pos_wait", "checkpoint", "force_checkpoint",
    }
)  # fmt: skip
SIDE_EFFECT_FUNCTION_PREFIXES = ("pg_advisory", "pg_try_advisory", "pg_stat_reset")

# Statements that reach files, programs or other databases: refused on every datasource.
_SYSTEM_STATEMENTS: tuple[type[exp.Expr], ...] = (exp.Attach, exp.Copy, exp.Install, exp.LoadData, exp.Export)
_SYSTEM_COMMANDS = frozenset({"LOAD", "INSTALL", "IMPORT", "EXPORT", "COPY", "ATTACH"})
_COMMANDS_NAMED_BY_TWO_WORDS = frozenset({"CREATE", "ALTER", "DROP", "SET", "LOCK", "REFRESH", "REPLACE"})

# Statements (and clauses) that change something: refused anywhere in the tree of a read-only statement.
_WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.DML,  # INSERT, UPDATE, DELETE, MERGE, COPY
    exp.Create, exp.Drop, exp.Alter, exp.AlterSession, exp.TruncateTable, exp.Command, exp.Attach, exp.Detach,
    exp.Install, exp.Set, exp.Use, exp.Grant, exp.Revoke, exp.Transaction, exp.Commit, exp.Rollback,
    exp.Comment, exp.Analyze, exp.Kill, exp.Cache, exp.Uncache, exp.Refresh, exp.LockingStatement, exp.Export,
    exp.LoadData, exp.Execute, exp.Declare, exp.Pragma, exp.NextValueFor,
)  # fmt: skip
_STATEMENT_NAMES: dict[type[exp.Expr], str] = {
    exp.TruncateTable: "TRUNCATE",
    exp.Transaction: "BEGIN",
    exp.LoadData: "LOAD DATA",
    exp.AlterSession: "ALTER SESSION",
    exp.NextValueFor: "NEXT VALUE FOR",
}

# Read root nodes (PRAGMA and Command are judged separately).
_READ_ROOTS: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.SetOperation, exp.Subquery, exp.Values, exp.Describe, exp.Show, exp.Summarize, exp.Pivot,
)  # fmt: skip

# An EXPLAIN's options before the explained statement (SQLite QUERY PLAN, PostgreSQL/DuckDB keywords and
# parenthesised options), with comments in between.
_EXPLAIN_OPTIONS = re.compile(
    r"^(?:\s+|--[^\n]*|/\*.*?\*/|\((?:[^()']|'[^']*')*\)|(?:QUERY\s+PLAN|ANALY[SZ]E|VERBOSE)\b)*", re.I | re.S
)
_FIRST_WORD = re.compile(r"^(?:\s+|--[^\n]*|/\*.*?\*/)*([A-Za-z_]+)", re.S)
_MYSQL_EXECUTABLE_COMMENT = re.compile(r"/\*M?!")
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")
_PATH_CHARACTERS = frozenset("/\\:.*?")
_QUOTED = re.compile(r"(['\"])(.*?)\1")


@dataclass(frozen=True)
class CheckedSql:
    """A statement `check_sql` accepted: the cleaned text to execute, its lower-case kind, and whether it writes."""

    sql: str
    kind: str
    is_write: bool


def check_sql(sql: str, db_type: str, *, writable: bool = False) -> CheckedSql:
    """Accept one statement for a datasource of `db_type`, or raise `InvalidInput` / `Forbidden`.

    Read-only datasources (`writable=False`) accept only reads; every datasource refuses file, network and
    process access (see the module docstring).
    """
    dialect = SUPPORTED_DIALECTS.get(db_type.strip().lower())
    if dialect is None:
        supported = ", ".join(SUPPORTED_DIALECTS)
        raise InvalidInput(f"unsupported db_type {db_type!r}; supported: {supported}", field="db_type")
    text = clean_sql(sql)
    if dialect == "mysql" and _MYSQL_EXECUTABLE_COMMENT.search(text):
        raise Forbidden(
            "MySQL executable comments (/*! ... */) are not allowed: they hide SQL from the safety check",
            field="sql",
        )
    try:
        verdict = _judge(_parse_one(text, dialect), text, dialect)
    except RecursionError:  # thousands of nested parentheses: refused, not run
        raise InvalidInput("SQL is nested too deeply to check", field="sql") from None
    if verdict.system:
        if writable:
            raise Forbidden(
                f"{verdict.system} is not allowed: it reaches files, programs or other databases on the server",
                field="sql",
            )
        raise _read_only_refusal(verdict.system)
    if verdict.write and not writable:
        raise _read_only_refusal(verdict.write)
    return CheckedSql(sql=text, kind=verdict.kind, is_write=verdict.write is not None)


def _read_only_refusal(what: str) -> Forbidden:
    return Forbidden(f"{what} is not allowed on a read-only datasource ({READ_ONLY_RULE})", field="sql")


def _parse_one(text: str, dialect: str) -> exp.Expr:
    """The one statement in `text`, or `InvalidInput` (empty, unparsable in the dialect, several statements)."""
    if not text:
        raise InvalidInput("empty SQL statement", field="sql")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" at line {first['line']}, column {first['col']}" if "line" in first else ""
        reason = _TOKEN_REPR.sub(r"'\1'", first.get("description") or str(error).splitlines()[0])[:120]
        raise InvalidInput(f"SQL does not parse as {dialect}: {reason}{where}", field="sql") from None
    except TokenError as error:
        raise InvalidInput(f"SQL does not parse as {dialect}: {str(error)[:120]}", field="sql") from None
    if not statements:
        raise InvalidInput("empty SQL statement", field="sql")
    if len(statements) > 1:
        raise InvalidInput(f"exactly one SQL statement is allowed; found {len(statements)}", field="sql")
    return statements[0]


@dataclass(frozen=True)
class _Verdict:
    kind: str
    write: str | None = None  # what makes the statement a write (None: a read)
    system: str | None = None  # what reaches files, programs or other databases (None: nothing)


def _judge(tree: exp.Expr, text: str, dialect: str) -> _Verdict:
    """Classify one parsed statement: its kind, its first write and its first system access."""
    if isinstance(tree, exp.Command) and tree.name.upper() == "EXPLAIN":
        return _judge_explain(tree, dialect)
    kind, write = _root(tree, text)
    system = None
    for node in tree.walk():
        system = system or _system_access(node, dialect)
        if write is None and node is not tree:
            write = _nested_write(node)
        if write and system:
            break
    return _Verdict(kind, write, system)


def _judge_explain(command: exp.Command, dialect: str) -> _Verdict:
    """EXPLAIN [ANALYZE] runs through the explained statement, which must parse and pass the same checks."""
    inner = _EXPLAIN_OPTIONS.sub("", _command_rest(command), count=1)
    verdict = _judge(_parse_one(inner, dialect), inner, dialect)
    return _Verdict(
        "explain",
        write=f"EXPLAIN of {verdict.write}" if verdict.write else None,
        system=f"EXPLAIN of {verdict.system}" if verdict.system else None,
    )


def _root(tree: exp.Expr, text: str) -> tuple[str, str | None]:
    """The statement's kind and, unless its root is an allowed read, the name of the statement."""
    first = _first_word(text)
    if isinstance(tree, exp.Describe):
        return ("explain" if first == "EXPLAIN" else "describe"), None
    if isinstance(tree, _READ_ROOTS):
        return type(tree).__name__.lower() if isinstance(tree, (exp.Show, exp.Summarize, exp.Pivot)) else "select", None
    if isinstance(tree, exp.Command) and tree.name.upper() == "SHOW":
        return "show", None
    if isinstance(tree, exp.Pragma):
        return "pragma", _pragma_write(tree)
    name = _statement_name(tree) if isinstance(tree, _WRITE_NODES) else first or "statement"
    return name.split()[0].lower(), name


def _first_word(text: str) -> str:
    match = _FIRST_WORD.match(text)
    return match.group(1).upper() if match else ""


def _statement_name(node: exp.Expr) -> str:
    """The statement's keywords as written: 'DELETE', 'CREATE TABLE', 'SET ROLE', 'VACUUM', ..."""
    if isinstance(node, exp.Command):
        name = node.name.upper()
        if name in _COMMANDS_NAMED_BY_TWO_WORDS and (second := _first_word(_command_rest(node))):
            return f"{name} {second}"
        return name
    name = _STATEMENT_NAMES.get(type(node), type(node).__name__.upper())
    if isinstance(node, (exp.Create, exp.Drop, exp.Alter)) and isinstance(node.args.get("kind"), str):
        return f"{name} {node.args['kind'].upper()}"
    return name


def _command_rest(command: exp.Command) -> str:
    """The text sqlglot kept unparsed after a Command's first keyword."""
    rest = command.expression
    return rest.name if isinstance(rest, exp.Expr) else str(rest or "")


def _pragma_write(pragma: exp.Pragma) -> str | None:
    """None for a PRAGMA that only reads; otherwise 'PRAGMA name'."""
    target = pragma.this
    has_argument = isinstance(target, exp.EQ) or (isinstance(target, exp.Anonymous) and bool(target.expressions))
    if isinstance(target, exp.EQ):
        target = target.this
    if isinstance(target, exp.Dot):
        target = target.expression
    name = target.name.lower() if isinstance(target, (exp.Var, exp.Column, exp.Identifier, exp.Anonymous)) else ""
    return None if pragma_reads(name, has_argument=has_argument) else f"PRAGMA {name or pragma.this.sql()}"


def _nested_write(node: exp.Expr) -> str | None:
    """The name of a write, lock or side effect that `node` (inside a read) is, if any."""
    if isinstance(node, _WRITE_NODES):
        return _statement_name(node)
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    if isinstance(node, exp.Lock):
        return "SELECT ... FOR UPDATE" if node.args.get("update") else "SELECT ... FOR SHARE"
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if name in SIDE_EFFECT_FUNCTIONS or name.startswith(SIDE_EFFECT_FUNCTION_PREFIXES):
            return f"function {name}"
    return None


def _system_access(node: exp.Expr, dialect: str) -> str | None:
    """The name of a file, program or remote-database access that `node` is, if any."""
    if isinstance(node, _SYSTEM_STATEMENTS):
        return _statement_name(node)
    if isinstance(node, exp.Command):
        name = node.name.upper()
        if name in _SYSTEM_COMMANDS:
            return name
        if name == "VACUUM" and re.search(r"\bINTO\b", _command_rest(node), re.I):
            return "VACUUM INTO"
    if isinstance(node, _SYSTEM_FUNCTION_TYPES):
        return f"function {node.sql_name().lower()}"
    if (opaque := _opaque_sql(node)) and (call := _SYSTEM_CALL.search(opaque)):
        return f"function {call.group(1).lower()}"
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if (
            name in SYSTEM_FUNCTIONS
            or name.startswith(SYSTEM_FUNCTION_PREFIXES)
            or name in _DIALECT_SYSTEM_FUNCTIONS.get(dialect, ())
        ):
            return f"function {name}"
    if dialect == "duckdb":
        return _duckdb_file_scan(node)
    return None


def _opaque_sql(node: exp.Expr) -> str:
    """SQL the parser kept as text: a Command's arguments (DO, PREPARE, CALL, ...) or a created function's body."""
    if isinstance(node, exp.Command):
        return _command_rest(node)
    if isinstance(node, exp.Heredoc) or (isinstance(node, exp.Literal) and isinstance(node.parent, exp.Create)):
        return node.name
    return ""


def _duckdb_file_scan(node: exp.Expr) -> str | None:
    """DuckDB reads a file (or URL) named where a table is expected: FROM 'x.csv', SUMMARIZE '/etc/passwd', ..."""
    if (isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier)) or (
        isinstance(node, (exp.Summarize, exp.Describe, exp.Show)) and isinstance(node.this, exp.Literal)
    ):
        names = [node.this.name]
    elif isinstance(node, exp.Command) and node.name.upper() in ("SHOW", "DESCRIBE", "SUMMARIZE"):
        names = [quoted for _, quoted in _QUOTED.findall(_command_rest(node))]
    else:
        return None
    path = next((name for name in names if _PATH_CHARACTERS.intersection(name)), None)
    return f"reading the file {path!r} as a table" if path else None


def _function_name(node: exp.Func) -> str:
    """A function's lower-case name as the engine resolves it (PostgreSQL U&"..." escapes decoded)."""
    name = node.name if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)) else node.sql_name()
    if "\\" in name:
        name = re.sub(r"\\\+([0-9a-fA-F]{6})|\\([0-9a-fA-F]{4})", lambda m: chr(int(m[1] or m[2], 16)), name)
    return name.lower()


# Pragmas that only report, whatever their argument (`PRAGMA table_info(t)` names an object).
# --- PRAGMAs: the one list of those that only read, for this check and the SQLite engine's authorizer -------

READ_WITH_ARGUMENT = frozenset(
    {
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
        "foreign_key_check", "database_list", "collation_list", "function_list", "module_list", "pragma_list",
        "compile_options", "integrity_check", "quick_check",
        # DuckDB
        "storage_info", "show",
    }
)  # fmt: skip
# Pragmas that report without an argument and change a setting with one (`PRAGMA user_version = 3`).
READ_WITHOUT_ARGUMENT = READ_WITH_ARGUMENT | {
    "user_version", "application_id", "schema_version", "page_size", "page_count", "max_page_count",
    "freelist_count", "encoding", "journal_mode", "foreign_keys", "query_only", "data_version", "auto_vacuum",
    "cache_size", "synchronous", "busy_timeout", "read_uncommitted",
    # DuckDB
    "show_tables", "show_tables_expanded", "database_size", "version", "platform", "functions", "collations",
    "metadata_info",
}  # fmt: skip


def pragma_reads(name: str, *, has_argument: bool) -> bool:
    """Whether `PRAGMA name` (with or without an argument) only reads."""
    return name.lower() in (READ_WITH_ARGUMENT if has_argument else READ_WITHOUT_ARGUMENT)
