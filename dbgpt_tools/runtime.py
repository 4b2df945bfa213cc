"""The runtime: settings and every service built from them, created once per process and passed down."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from dbgpt_tools.chat import ChatService
from dbgpt_tools.conversations import ConversationStore
from dbgpt_tools.llm import LLM
from dbgpt_tools.settings import Settings
from dbgpt_tools.storage import MetadataStore


class Runtime:
    """Holds the services; `chat_model` replaces the configured LLM (tests use a scripted model)."""

    def __init__(self, settings: Settings | None = None, *, chat_model: BaseChatModel | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = MetadataStore(self.settings.resolved_metadata_url)
        self.conversations = ConversationStore(self.store)
        self.llm = LLM(self.settings, chat_model)
        self.chat = ChatService(self.settings, self.conversations, self.llm)

    def close(self) -> None:
        """Release connections and stop the local model."""
        self.llm.close()
        self.store.close()
