"""The one list of operations that the MCP and LangChain faces are generated from, one module per domain."""

from __future__ import annotations

from dbgpt_tools.operations.apps import APP_OPERATIONS
from dbgpt_tools.operations.base import AnyOperation
from dbgpt_tools.operations.chat import CHAT_OPERATIONS
from dbgpt_tools.operations.datasources import DATASOURCE_OPERATIONS
from dbgpt_tools.operations.evaluation import EVALUATION_OPERATIONS
from dbgpt_tools.operations.examples import EXAMPLE_OPERATIONS
from dbgpt_tools.operations.flows import FLOW_OPERATIONS
from dbgpt_tools.operations.knowledge import KNOWLEDGE_OPERATIONS
from dbgpt_tools.operations.sql import SQL_OPERATIONS

OPERATIONS: tuple[AnyOperation, ...] = (
    *CHAT_OPERATIONS,
    *SQL_OPERATIONS,
    *DATASOURCE_OPERATIONS,
    *EXAMPLE_OPERATIONS,
    *KNOWLEDGE_OPERATIONS,
    *APP_OPERATIONS,
    *FLOW_OPERATIONS,
    *EVALUATION_OPERATIONS,
)
