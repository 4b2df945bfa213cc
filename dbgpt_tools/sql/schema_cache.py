"""Introspected schemas per datasource, kept for a while and refreshed when the datasource changes."""

from __future__ import annotations

import threading
import time

from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.introspection import introspect
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.schema_models import SchemaInfo
from dbgpt_tools.store.models import DatasourceRow


class SchemaCache:
    """`schema(name)` introspects once per datasource configuration and keeps the result `ttl` seconds."""

    def __init__(self, registry: DatasourceRegistry, engines: EngineCache, ttl: float = 300.0) -> None:
        self._registry = registry
        self._engines = engines
        self._ttl = ttl
        self._entries: dict[int, tuple[str, float, SchemaInfo]] = {}
        self._lock = threading.Lock()

    def schema(self, datasource: str | int | DatasourceRow) -> SchemaInfo:
        """The datasource's schema (introspected now when missing, stale, or its configuration changed)."""
        row = datasource if isinstance(datasource, DatasourceRow) else self._registry.resolve(datasource)
        config, engine = self._engines.engine_for(row)
        fingerprint = config.fingerprint()
        with self._lock:
            entry = self._entries.get(row.id)
        if entry is not None and entry[0] == fingerprint and time.monotonic() - entry[1] < self._ttl:
            return entry[2]
        schema = introspect(engine, row.db_name)
        with self._lock:
            self._entries[row.id] = (fingerprint, time.monotonic(), schema)
        return schema
