"""`%%dbgpt --db` (chat_data: text, then the artifact's SQL, DataFrame, chart) and `%%dbgpt --sql` (bound `{var}`
parameters) in a real IPython shell, on the sample database, checked against sqlite3 directly."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.figure import Figure

from dbgpt_tools.aio import shared_runtime
from dbgpt_tools.chat.modes.data import LINE, PIE, SCATTER, TABLE
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME, ensure_sample_db
from jupyter_magic import data
from jupyter_magic.binding import bind_parameters
from jupyter_magic.data import chart_figure
from tests.jupyter_magic.test_magics import outputs, run, sharing
from tests.jupyter_magic.test_magics import shell as shell  # the fixture
from tests.scripted import ScriptedChatModel

matplotlib.use("Agg")  # no window, whatever the machine's default backend

COUNT_REPLY = "I will count the customers.\n```sql\nSELECT COUNT(*) AS customers FROM customers\n```"
MONTHLY_SQL = (
    "SELECT substr(order_date, 1, 7) AS month, COUNT(*) AS orders, COUNT(DISTINCT customer_id) AS buyers "
    "FROM orders WHERE order_date >= '2024-01-01' GROUP BY month ORDER BY month"
)
MONTHLY_REPLY = f"Orders and buyers per month of 2024.\n```sql\n{MONTHLY_SQL}\n```"
DATA_NAMES = ("_dbgpt_df", "rows", "n", "city", "cities", "ids", "since")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the module: the sample database is built once."""
    path = tmp_path_factory.mktemp("sample-data")
    ensure_sample_db(path / f"{SAMPLE_DB_NAME}.sqlite")
    return path


@pytest.fixture
def db(sample_dir: Path) -> Iterator[sqlite3.Connection]:
    """The sample database file, opened directly for the expected answers."""
    conn = sqlite3.connect(sample_dir / f"{SAMPLE_DB_NAME}.sqlite")
    yield conn
    conn.close()


@pytest.fixture
def ip(shell: InteractiveShell) -> Iterator[InteractiveShell]:
    """The test shell; the variables these tests store are removed afterwards."""
    yield shell
    for name in DATA_NAMES:
        shell.user_ns.pop(name, None)


@pytest.fixture
def serve(settings: Settings, sample_dir: Path) -> Iterator[Any]:
    """`serve(*replies)`: the magic's runtime has the sample database and a model scripted with `replies`."""
    runtimes: list[Runtime] = []

    def start(*replies: str) -> ScriptedChatModel:
        model = ScriptedChatModel.replying(*replies)
        runtime = Runtime(settings.model_copy(update={"sample_db": True, "data_dir": sample_dir}), chat_model=model)
        runtimes.append(runtime)
        stack.enter_context(sharing(runtime))
        return model

    with ExitStack() as stack:
        yield start
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure | None]:
    """Every chart the magic made (None where the rows suit only a table)."""
    made: list[Figure | None] = []

    def recording(*args: Any, **kwargs: Any) -> Figure | None:
        made.append(chart_figure(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(data, "chart_figure", recording)
    return made


def streamed(ip: InteractiveShell) -> list[str]:
    """The texts of the answer's display: its first publication and every in-place update."""
    published = outputs(ip)
    display_id = published[0]["transient"]["display_id"]
    return [o["data"]["text/markdown"] for o in published if (o.get("transient") or {}).get("display_id") == display_id]


def after_answer(ip: InteractiveShell) -> list[dict[str, Any]]:
    """What the cell showed after the streamed answer (SQL, table, chart, notes)."""
    return [o for o in outputs(ip) if "display_id" not in (o.get("transient") or {})]


def images(ip: InteractiveShell) -> list[bytes]:
    """The PNG images the cell showed (published base64-encoded)."""
    return [base64.b64decode(o["data"]["image/png"]) for o in outputs(ip) if "image/png" in o["data"]]


def frame_of(db: sqlite3.Connection, sql: str, params: Any = ()) -> pd.DataFrame:
    cursor = db.execute(sql, params)
    return pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description])


def usage_error(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> str:
    result = run(ip, cell)
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# --- bind_parameters ------------------------------------------------------------------------------------


def test_placeholders_become_bound_parameters_and_values_stay_out_of_the_sql() -> None:
    evil = "x' OR '1'='1"
    sql, params = bind_parameters(
        "SELECT * FROM t WHERE city = {city} AND id IN {ids} AND day >= {since} AND city <> {city}",
        {"city": evil, "ids": (3, 5), "since": date(2024, 1, 1)},
    )
    assert sql == "SELECT * FROM t WHERE city = :city AND id IN (:ids_0, :ids_1) AND day >= :since AND city <> :city"
    assert params == {"city": evil, "ids_0": 3, "ids_1": 5, "since": date(2024, 1, 1)}
    assert evil not in sql


def test_doubled_braces_are_literal_and_comments_are_left_alone() -> None:
    sql, params = bind_parameters("SELECT '{{\"a\": 1}}' AS j, {n} AS n -- the customer's {note}\n/* {x} */", {"n": 1})
    assert sql == "SELECT '{\"a\": 1}' AS j, :n AS n -- the customer's {note}\n/* {x} */"
    assert params == {"n": 1}


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT {a} + {b} + {a}", "undefined variables in the SQL: a, b"),
        ("SELECT * FROM t WHERE c = '{city}'", "{city} is inside quotes"),
        ("SELECT {city!r}", "'{city!r}' at position 7 is not a {name} placeholder"),
        ("SELECT {t.x}", "is not a {name} placeholder"),
        ("SELECT '{'", "write '{{' and '}}' for literal braces"),
        ("SELECT 1 }", "a single '}' at position 9"),
        ("SELECT {frame}", "{frame} is a DataFrame: only str, int"),
        ("SELECT {empty}", "{empty} is an empty list"),
        ("SELECT {ids} + {ids_0}", "would both bind :ids_0"),
    ],
)
def test_placeholders_that_cannot_be_bound_are_refused(sql: str, message: str) -> None:
    namespace = {"city": "Paris", "frame": pd.DataFrame(), "empty": [], "ids": [1], "ids_0": 2}
    with pytest.raises(InvalidInput) as refused:
        bind_parameters(sql, namespace)
    assert message in refused.value.message


def test_numpy_scalars_are_bound_as_python_values() -> None:
    frame = pd.DataFrame({"n": [4, 7]})
    _, params = bind_parameters("SELECT {top}", {"top": frame["n"].max()})
    assert params == {"top": 7} and type(params["top"]) is int


# --- chat_data cells ----------------------------------------------------------------------------------------


def test_db_cell_streams_the_text_then_shows_sql_and_rows(
    ip: InteractiveShell, serve: Any, db: sqlite3.Connection, figures: list[Figure | None]
) -> None:
    serve(COUNT_REPLY)
    result = run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME} --out n\nHow many customers do we have?")
    assert result.success, result.error_in_exec
    texts = streamed(ip)
    assert len(texts) >= 4 and not [t for t in texts if "chart-view" in t or "&quot;" in t]
    count = db.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    assert texts[-1] == COUNT_REPLY + f"\n\nThe query returned 1 row: customers = {count}." == ip.user_ns["_dbgpt"]
    sql_shown, table = after_answer(ip)
    assert sql_shown["data"]["text/markdown"] == "```sql\nSELECT COUNT(*) AS customers FROM customers\n```"
    assert "customers" in table["data"]["text/plain"] and "420" in table["data"]["text/plain"]
    expected = frame_of(db, "SELECT COUNT(*) AS customers FROM customers")
    pd.testing.assert_frame_equal(ip.user_ns["n"], expected)
    assert ip.user_ns["_dbgpt_df"] is ip.user_ns["n"] and expected.iloc[0, 0] == 420
    assert figures == [None] and not images(ip)  # one number: a table, no chart


def test_time_series_answer_draws_a_line_chart(
    ip: InteractiveShell, serve: Any, db: sqlite3.Connection, figures: list[Figure | None]
) -> None:
    serve(MONTHLY_REPLY)
    assert run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME}\nOrders per month in 2024?").success
    expected = frame_of(db, MONTHLY_SQL)
    pd.testing.assert_frame_equal(ip.user_ns["_dbgpt_df"], expected)
    assert len(expected) == 12
    (figure,) = figures
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == ["orders", "buyers"]
    assert np.asarray(lines[0].get_ydata()).tolist() == expected["orders"].tolist()
    assert np.asarray(lines[1].get_xdata()).tolist() == expected["month"].tolist() and expected["month"][0] == "2024-01"
    (picture,) = images(ip)
    assert picture.startswith(b"\x89PNG")


def test_no_chart_skips_the_chart(ip: InteractiveShell, serve: Any, figures: list[Figure | None]) -> None:
    serve(MONTHLY_REPLY)
    assert run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME} --no-chart --out rows\nOrders per month in 2024?").success
    assert figures == [] and not images(ip) and ip.user_ns["rows"].shape == (12, 3)


def test_an_answer_without_a_query_stores_no_rows(ip: InteractiveShell, serve: Any) -> None:
    serve("I cannot answer that from this database.")
    ip.user_ns["rows"] = "stale"
    assert run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME} --out rows\nWhat is the weather?").success
    assert ip.user_ns["rows"] is None and ip.user_ns["_dbgpt_df"] is None
    assert ip.user_ns["_dbgpt"].endswith("I could not write a query for that question.")


def test_unknown_datasource_is_a_short_usage_error(
    ip: InteractiveShell, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model = serve(COUNT_REPLY)
    assert "no datasource 'nowhere'" in usage_error(ip, "%%dbgpt --db nowhere\nHow many?", capsys)
    assert not model.calls and not outputs(ip) and "_dbgpt_df" not in ip.user_ns


# --- --sql cells -------------------------------------------------------------------------------------------


def test_sql_cell_shows_and_stores_the_rows(ip: InteractiveShell, serve: Any, db: sqlite3.Connection) -> None:
    model = serve()
    sql = "SELECT city, COUNT(*) AS n FROM customers GROUP BY city ORDER BY n DESC, city"
    assert run(ip, f"%%dbgpt --sql --db {SAMPLE_DB_NAME} --out rows\n{sql}").success
    pd.testing.assert_frame_equal(ip.user_ns["rows"], frame_of(db, sql))
    assert ip.user_ns["_dbgpt_df"] is ip.user_ns["rows"] and "_dbgpt" not in ip.user_ns
    (table,) = outputs(ip)
    assert "Nashville" in table["data"]["text/plain"] and not model.calls


@pytest.mark.parametrize("city", ["x' OR '1'='1", "x'; DROP TABLE customers; --", "Paris"])
def test_bound_values_are_data_not_sql(
    ip: InteractiveShell, serve: Any, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, city: str
) -> None:
    serve()
    sent: list[tuple[str, Any]] = []
    run_sql = SqlExecutor.run_sql

    def recording(self: SqlExecutor, name: str, sql: str, limit: Any = None, params: Any = None) -> Any:
        sent.append((sql, params))
        return run_sql(self, name, sql, limit, params)

    monkeypatch.setattr(SqlExecutor, "run_sql", recording)
    ip.user_ns["city"] = city
    assert run(
        ip, f"%%dbgpt --sql --db {SAMPLE_DB_NAME} --out rows\nSELECT * FROM customers WHERE city = {{city}}"
    ).success
    expected = frame_of(db, "SELECT * FROM customers WHERE city = ?", (city,))
    pd.testing.assert_frame_equal(ip.user_ns["rows"], expected)
    assert len(expected) == (0 if "'" in city else 9)
    assert sent == [("SELECT * FROM customers WHERE city = :city", {"city": city})]
    assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (420,)  # the table is unchanged


def test_a_list_expands_to_an_in_list(ip: InteractiveShell, serve: Any, db: sqlite3.Connection) -> None:
    serve()
    ip.user_ns.update(cities=["Paris", "Tokyo"], since="2020-01-01")
    cell = "SELECT name, city FROM customers WHERE city IN {cities} AND signup_date >= {since} ORDER BY name"
    assert run(ip, f"%%dbgpt --sql --db {SAMPLE_DB_NAME} --out rows\n{cell}").success
    expected = frame_of(
        db,
        "SELECT name, city FROM customers WHERE city IN (?, ?) AND signup_date >= ? ORDER BY name",
        ("Paris", "Tokyo", "2020-01-01"),
    )
    pd.testing.assert_frame_equal(ip.user_ns["rows"], expected)
    assert set(expected["city"]) == {"Paris", "Tokyo"}


def test_limit_cuts_the_rows_with_a_note(ip: InteractiveShell, serve: Any) -> None:
    serve()
    assert run(ip, f"%%dbgpt --sql --db {SAMPLE_DB_NAME} --limit 5 --out rows\nSELECT * FROM orders").success
    assert len(ip.user_ns["rows"]) == 5
    _table, note = outputs(ip)
    assert note["data"]["text/plain"] == "showing 5 rows (truncated at 5 rows)"


@pytest.mark.parametrize(
    ("options", "sql", "message"),
    [
        (
            f"--db {SAMPLE_DB_NAME}",
            "SELECT * FROM customers WHERE city IN {towns} AND id = {oid}",
            "undefined variables in the SQL: towns, oid",
        ),
        (f"--db {SAMPLE_DB_NAME}", "DELETE FROM customers", "DELETE is not allowed on a read-only datasource"),
        (f"--db {SAMPLE_DB_NAME}", "SELECT 1; DROP TABLE customers", "exactly one SQL statement is allowed"),
        (f"--db {SAMPLE_DB_NAME} --limit 0", "SELECT 1", "limit must be at least 1"),
        (f"--db {SAMPLE_DB_NAME} --conv c", "SELECT 1", "--sql runs the cell as SQL: --conv do not apply"),
        ("", "SELECT 1", "--sql needs --db NAME"),
        ("--db nowhere", "SELECT 1", "no datasource 'nowhere'"),
    ],
)
def test_sql_refusals_are_short_usage_errors(
    ip: InteractiveShell,
    serve: Any,
    db: sqlite3.Connection,
    capsys: pytest.CaptureFixture[str],
    options: str,
    sql: str,
    message: str,
) -> None:
    serve()
    assert message in usage_error(ip, f"%%dbgpt --sql {options}\n{sql}", capsys)
    assert "_dbgpt_df" not in ip.user_ns and not outputs(ip)
    assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (420,)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--limit 5", "--limit is for --sql cells"),
        (f"--db {SAMPLE_DB_NAME} --param other", "--db NAME means --mode chat_data --param NAME"),
        (f"--db {SAMPLE_DB_NAME} --mode chat_normal", "--db NAME means --mode chat_data --param NAME"),
    ],
)
def test_contradictory_options_are_refused(
    ip: InteractiveShell, serve: Any, capsys: pytest.CaptureFixture[str], options: str, message: str
) -> None:
    model = serve(COUNT_REPLY)
    assert message in usage_error(ip, f"%%dbgpt {options}\nHow many?", capsys)
    assert not model.calls


# --- charts ------------------------------------------------------------------------------------------------


def test_pie_and_scatter_charts_and_none_for_a_table() -> None:
    shares = pd.DataFrame({"channel": ["web", "phone", "store"], "orders": [50, 30, 20]})
    pie = chart_figure(PIE, shares)
    assert pie is not None and [t.get_text() for t in pie.axes[0].texts[:3]] == ["web", "phone", "store"]
    points = pd.DataFrame({"price": [1.0, 2.0, 3.0], "sold": [30, 20, 10]})
    scatter = chart_figure(SCATTER, points)
    assert scatter is not None
    assert np.asarray(scatter.axes[0].collections[0].get_offsets()).tolist() == [[1, 30], [2, 20], [3, 10]]
    assert chart_figure(TABLE, shares) is None and chart_figure(LINE, shares.iloc[:0]) is None


def test_dangerous_corpus_is_refused_by_the_sql_cell(
    ip: InteractiveShell, serve: Any, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The notebook face of the dangerous-SQL corpus: every entry is a short UsageError, nothing changes."""
    from tests.sql.dangerous_sql import DANGEROUS

    serve()
    path = sample_dir / f"{SAMPLE_DB_NAME}.sqlite"
    before = (path.read_bytes(), sorted(p.name for p in sample_dir.iterdir()))
    silent = []
    for entry in (e for e in DANGEROUS if "sqlite" in e.db_types):
        sql = entry.sql.replace("{", "{{").replace("}", "}}")  # literal braces, not notebook variables
        if not usage_error(ip, f"%%dbgpt --sql --db {SAMPLE_DB_NAME}\n{sql}", capsys).strip():
            silent.append(entry.id)
    assert silent == []
    assert (path.read_bytes(), sorted(p.name for p in sample_dir.iterdir())) == before


# --- --teach cells -----------------------------------------------------------------------------------------


def test_teach_cell_stores_a_checked_pair(ip: InteractiveShell, serve: Any) -> None:
    serve()
    before = {p.id for p in shared_runtime().examples.list(SAMPLE_DB_NAME).examples}
    cell = "How many customers live in Paris?\n```sql\nSELECT COUNT(*) FROM customers WHERE city = 'Paris';\n```"
    assert run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME} --teach\n{cell}").success
    (note,) = outputs(ip)
    assert "learnt example" in note["data"]["text/plain"]
    [pair] = [p for p in shared_runtime().examples.list(SAMPLE_DB_NAME).examples if p.id not in before]
    assert pair.question == "How many customers live in Paris?"
    assert pair.sql == "SELECT COUNT(*) FROM customers WHERE city = 'Paris'"
    refused = run(ip, f"%%dbgpt --db {SAMPLE_DB_NAME} --teach\nDrop them\nDELETE FROM customers")
    assert not refused.success and len(shared_runtime().examples.list(SAMPLE_DB_NAME).examples) == len(before) + 1
    assert not run(ip, "%%dbgpt --teach\nq\nSELECT 1").success  # no --db
