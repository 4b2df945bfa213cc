"""The LangChain face: tools generated from the catalogue, drop-ins for LangChain's SQL database tools, and a
retriever over a knowledge space.

from dbgpt_tools.langchain import get_tools
tools = get_tools()  # on the shared runtime, built from the DBGPT_* settings on first call
"""

from dbgpt_tools.langchain.retriever import KnowledgeRetriever, retrieval_documents
from dbgpt_tools.langchain.sql_tools import sql_database_tools
from dbgpt_tools.langchain.tools import DbgptToolkit, get_tools, operation_tool

__all__ = [
    "DbgptToolkit",
    "KnowledgeRetriever",
    "get_tools",
    "operation_tool",
    "retrieval_documents",
    "sql_database_tools",
]
