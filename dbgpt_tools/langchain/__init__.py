"""The LangChain face: tools generated from the catalogue, and drop-ins for LangChain's SQL database tools.

from dbgpt_tools.langchain import get_tools
tools = get_tools()  # on the shared runtime, built from the DBGPT_* settings on first call
"""

from dbgpt_tools.langchain.sql_tools import sql_database_tools
from dbgpt_tools.langchain.tools import DbgptToolkit, get_tools, operation_tool

__all__ = ["DbgptToolkit", "get_tools", "operation_tool", "sql_database_tools"]
