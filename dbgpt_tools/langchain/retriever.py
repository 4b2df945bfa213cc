"""Knowledge spaces for LangChain pipelines: a `BaseRetriever`, and retrieved chunks as LangChain `Document`s.

from dbgpt_tools.langchain import KnowledgeRetriever
retriever = KnowledgeRetriever(space="dbgpt_tools_docs", top_k=4)
docs = retriever.invoke("How do I set an API key?")  # page_content + metadata (source, page, headers, score)
"""

from __future__ import annotations

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from dbgpt_tools.aio import run_async, run_sync, shared_runtime
from dbgpt_tools.knowledge.models import Retrieval, SearchMode
from dbgpt_tools.operations.knowledge import SearchArgs, search_knowledge
from dbgpt_tools.runtime import Runtime


def retrieval_documents(retrieval: Retrieval) -> list[Document]:
    """The chunks as LangChain documents: the text, and where it comes from in the metadata."""
    return [
        Document(
            page_content=chunk.content,
            id=chunk.chunk_id,
            metadata={
                "source": chunk.doc_name,
                "space": retrieval.space,
                "doc_id": chunk.doc_id,
                "doc_type": chunk.doc_type,
                "chunk_index": chunk.index,
                "page": chunk.page,
                "headers": chunk.headers,
                "start": chunk.start,
                "end": chunk.end,
                "score": chunk.score,
            },
        )
        for chunk in retrieval.chunks
    ]


def retrieval_text(retrieval: Retrieval) -> str:
    """The chunks as numbered, cited text for an agent to read."""
    if not retrieval.chunks:
        return f"Nothing in the knowledge space {retrieval.space} matches {retrieval.query!r}."
    parts = []
    for number, chunk in enumerate(retrieval.chunks, start=1):
        where = f", page {chunk.page}" if chunk.page is not None else ""
        section = f", {' > '.join(chunk.headers)}" if chunk.headers else ""
        parts.append(f"[{number}] {chunk.doc_name}{where}{section} (score {chunk.score:.2f})\n{chunk.content}")
    return "\n\n".join(parts)


class KnowledgeRetriever(BaseRetriever):
    """Retrieves chunks of one knowledge space (hybrid search by default) on `runtime` (default: the shared one)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    space: str
    top_k: int = Field(default=5, ge=1, le=100)
    mode: SearchMode = SearchMode.hybrid
    score_threshold: float = 0.0
    runtime: Runtime | None = None

    def _args(self, query: str) -> SearchArgs:
        return SearchArgs(
            space=self.space, query=query, top_k=self.top_k, mode=self.mode, score_threshold=self.score_threshold
        )

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        knowledge = (self.runtime or shared_runtime()).knowledge
        return retrieval_documents(run_sync(search_knowledge(knowledge, self._args(query))))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        knowledge = (self.runtime or shared_runtime()).knowledge
        return retrieval_documents(await run_async(search_knowledge(knowledge, self._args(query))))
