"""One engine per datasource, built from its stored configuration and rebuilt when that changes (even when
another process changed it): engines are keyed by a fingerprint of every connection field."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import DatasourceIn
from dbgpt_tools.sql.engine_config import FILE_TYPES, HOST_TYPES, EngineConfig
from dbgpt_tools.sql.engines import create_datasource_engine
from dbgpt_tools.sql.locations import connect_address, database_file
from dbgpt_tools.store.models import DatasourceRow


class EngineCache:
    """Engines by datasource id, each with the fingerprint of the configuration it was built from."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engines: dict[int, tuple[str, Engine]] = {}
        self._lock = threading.Lock()

    def config(self, source: DatasourceRow | DatasourceIn) -> EngineConfig:
        """The engine configuration of a datasource: a file confined to the allowed roots, or a server on the
        allowed networks (at the address that was checked), with the statement limits of the settings."""
        settings = self._settings
        is_file = source.db_type in FILE_TYPES
        return EngineConfig(
            db_type=source.db_type,
            read_only=source.read_only,
            timeout=settings.sql_timeout,
            max_value_bytes=settings.sql_max_value_bytes,
            memory_mb=settings.sql_engine_memory_mb,
            path=database_file(settings, source.db_path, source.read_only) if is_file else None,
            host="" if is_file else connect_address(settings, source.db_host, source.db_port),
            port=source.db_port,
            user=source.db_user,
            password=source.db_pwd,
            database=source.db_name if source.db_type in HOST_TYPES else "",
        )

    def engine_for(self, row: DatasourceRow) -> tuple[EngineConfig, Engine]:
        """The datasource's configuration and engine (built now when missing or out of date)."""
        config = self.config(row)
        fingerprint = config.fingerprint()
        with self._lock:
            cached = self._engines.get(row.id)
            if cached is not None and cached[0] == fingerprint:
                return config, cached[1]
            if cached is not None:
                cached[1].dispose()
            engine = create_datasource_engine(config)
            self._engines[row.id] = (fingerprint, engine)
            return config, engine

    def drop(self, datasource_id: int) -> None:
        """Dispose of a datasource's engine (it was deleted)."""
        with self._lock:
            cached = self._engines.pop(datasource_id, None)
        if cached is not None:
            cached[1].dispose()

    def close(self) -> None:
        """Dispose of every engine."""
        with self._lock:
            engines, self._engines = self._engines, {}
        for _fingerprint, engine in engines.values():
            engine.dispose()
