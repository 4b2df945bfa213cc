"""The PRAGMAs that only read: one list for the SQL check (SQLite and DuckDB) and the SQLite engine's authorizer."""

from __future__ import annotations

# Pragmas that only report, whatever their argument (`PRAGMA table_info(t)` names an object).
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
