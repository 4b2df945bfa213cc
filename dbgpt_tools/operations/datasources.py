"""Datasource operations: list, test, register and remove."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.operations.base import AnyOperation, NoArgs, Operation, Progress
from dbgpt_tools.sql.connection_test import ConnectionTester
from dbgpt_tools.sql.datasource_models import ConnectionStatus, Datasource, DatasourceIn
from dbgpt_tools.sql.registry import DatasourceRegistry

DatasourceName = Field(
    min_length=1,
    max_length=256,
    pattern=r"^[^\x00-\x1f\x7f]+$",
    description="The datasource's db_name, or its id (a number).",
)


class DatasourceList(BaseModel):
    """The registered datasources (passwords masked)."""

    datasources: list[Datasource]


async def list_datasources(
    registry: DatasourceRegistry, args: NoArgs, progress: Progress | None = None
) -> DatasourceList:
    """Every registered datasource."""
    return DatasourceList(datasources=await asyncio.to_thread(registry.list))


class DatasourceRef(BaseModel):
    """A datasource by name or id."""

    datasource: str = DatasourceName


async def check_connection(
    tester: ConnectionTester, args: DatasourceRef, progress: Progress | None = None
) -> ConnectionStatus:
    """Whether the datasource is reachable, and its server version."""
    return await asyncio.to_thread(tester.test, args.datasource)


async def create_datasource(
    registry: DatasourceRegistry, args: DatasourceIn, progress: Progress | None = None
) -> Datasource:
    """Register a datasource (read-only unless read_only=false)."""
    return await asyncio.to_thread(registry.create, args)


async def delete_datasource(
    registry: DatasourceRegistry, args: DatasourceRef, progress: Progress | None = None
) -> Datasource:
    """Remove a datasource registration (the database itself is untouched)."""
    row = await asyncio.to_thread(registry.resolve, args.datasource)
    return await asyncio.to_thread(registry.delete, row.id)


DATASOURCE_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="list_datasources",
        title="List datasources",
        description="List the registered databases (db_name, db_type, comment, read_only). Use a db_name as "
        "`datasource` in the other data tools.",
        args_model=NoArgs,
        result_model=DatasourceList,
        uses=lambda runtime: runtime.datasources,
        run=list_datasources,
    ),
    Operation(
        name="test_connection",
        title="Test connection",
        description="Check that a datasource is reachable and report its server version.",
        args_model=DatasourceRef,
        result_model=ConnectionStatus,
        uses=lambda runtime: runtime.connections,
        run=check_connection,
    ),
    Operation(
        name="create_datasource",
        title="Create datasource",
        description="Register a database: db_name, db_type (sqlite, duckdb, postgresql, mysql), db_path for "
        "files or db_host/db_port/db_user/db_pwd for servers. Read-only unless read_only is false.",
        args_model=DatasourceIn,
        result_model=Datasource,
        uses=lambda runtime: runtime.datasources,
        run=create_datasource,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="delete_datasource",
        title="Delete datasource",
        description="Remove a datasource registration (the database itself is not touched).",
        args_model=DatasourceRef,
        result_model=Datasource,
        uses=lambda runtime: runtime.datasources,
        run=delete_datasource,
        read_only=False,
        destructive=True,
    ),
)
