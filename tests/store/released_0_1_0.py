"""The metadata store exactly as dbgpt-tools 0.1.0 created it (its `create_all` DDL, per database), and a few rows
of the kinds 0.1.0 wrote: datasources with a password, a conversation whose chat_data answer holds its rows as
DB-GPT's chart-view markup."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

_TABLES = {
    "sqlite": """
CREATE TABLE conversations (
    conv_uid VARCHAR(128) NOT NULL, chat_mode VARCHAR(32) NOT NULL, chat_param VARCHAR(256),
    user_name VARCHAR(128), sys_code VARCHAR(128), created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    PRIMARY KEY (conv_uid)
);
CREATE TABLE datasources (
    id INTEGER NOT NULL, db_name VARCHAR(256) NOT NULL, db_type VARCHAR(32) NOT NULL, db_path TEXT NOT NULL,
    db_host VARCHAR(256) NOT NULL, db_port INTEGER NOT NULL, db_user VARCHAR(256) NOT NULL, db_pwd TEXT NOT NULL,
    comment TEXT NOT NULL, read_only BOOLEAN NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    PRIMARY KEY (id), UNIQUE (db_name)
);
CREATE TABLE messages (
    id INTEGER NOT NULL, conv_uid VARCHAR(128) NOT NULL, role VARCHAR(16) NOT NULL, content TEXT NOT NULL,
    created_at DATETIME NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(conv_uid) REFERENCES conversations (conv_uid) ON DELETE CASCADE
);
CREATE INDEX ix_messages_conv_uid ON messages (conv_uid)
""",
    "postgresql": """
CREATE TABLE conversations (
    conv_uid VARCHAR(128) NOT NULL, chat_mode VARCHAR(32) NOT NULL, chat_param VARCHAR(256),
    user_name VARCHAR(128), sys_code VARCHAR(128), created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (conv_uid)
);
CREATE TABLE datasources (
    id SERIAL NOT NULL, db_name VARCHAR(256) NOT NULL, db_type VARCHAR(32) NOT NULL, db_path TEXT NOT NULL,
    db_host VARCHAR(256) NOT NULL, db_port INTEGER NOT NULL, db_user VARCHAR(256) NOT NULL, db_pwd TEXT NOT NULL,
    comment TEXT NOT NULL, read_only BOOLEAN NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (id), UNIQUE (db_name)
);
CREATE TABLE messages (
    id SERIAL NOT NULL, conv_uid VARCHAR(128) NOT NULL, role VARCHAR(16) NOT NULL, content TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(conv_uid) REFERENCES conversations (conv_uid) ON DELETE CASCADE
);
CREATE INDEX ix_messages_conv_uid ON messages (conv_uid)
""",
}

SECRET = "released-Secret-7"
RELEASED = "0001"
CONVERSATION = "conv-from-0.1.0"
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SQL = "SELECT region, COUNT(*) AS orders FROM orders GROUP BY region"
RECORDS = [{"region": "North", "orders": 12}, {"region": "South", "orders": 7}]
ANSWER_TEXT = f"```sql\n{SQL}\n```\n\nThe query returned 2 rows."
VIEW = {
    "type": "response_pie_chart",
    "sql": SQL,
    "title": "",
    "describe": "The query returned 2 rows.",
    "data": RECORDS,
}
ANSWER = ANSWER_TEXT + f'\n\n<chart-view content="{html.escape(json.dumps(VIEW), quote=True)}" />'
MESSAGES = [
    ("user", "Hello"),
    ("assistant", "Hi! How can I help?"),
    ("user", "Orders per region?"),
    ("assistant", ANSWER),
]


def build(engine: Engine, data_path: str) -> None:
    """Create the 0.1.0 tables on `engine` and fill them as 0.1.0 did."""
    stamps: dict[str, Any] = {"created_at": WHEN, "updated_at": WHEN}
    with engine.begin() as conn:
        for statement in _TABLES[engine.dialect.name].split(";"):
            conn.exec_driver_sql(statement)
        conn.execute(
            text(
                "INSERT INTO datasources (db_name, db_type, db_path, db_host, db_port, db_user, db_pwd, comment, "
                "read_only, created_at, updated_at) VALUES (:db_name, :db_type, :db_path, :db_host, :db_port, "
                ":db_user, :db_pwd, :comment, :read_only, :created_at, :updated_at)"
            ),
            [
                {"db_name": "shop", "db_type": "sqlite", "db_path": data_path, "db_host": "", "db_port": 0,
                 "db_user": "", "db_pwd": "", "comment": "the shop", "read_only": True, **stamps},
                {"db_name": "warehouse", "db_type": "postgresql", "db_path": "", "db_host": "db.example",
                 "db_port": 5432, "db_user": "bob", "db_pwd": SECRET, "comment": "", "read_only": False, **stamps},
            ],
        )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO conversations (conv_uid, chat_mode, chat_param, user_name, sys_code, created_at, "
                "updated_at) VALUES (:conv_uid, 'chat_data', 'shop', 'ada', NULL, :created_at, :updated_at)"
            ),
            {"conv_uid": CONVERSATION, **stamps},
        )
        conn.execute(
            text("INSERT INTO messages (conv_uid, role, content, created_at) VALUES (:conv, :role, :content, :at)"),
            [{"conv": CONVERSATION, "role": role, "content": content, "at": WHEN} for role, content in MESSAGES],
        )
