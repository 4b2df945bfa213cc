"""The runtime: settings and every service built from them, created once per process and passed down."""

from __future__ import annotations

import asyncio
import logging

from langchain_core.language_models import BaseChatModel

from dbgpt_tools.apps.examples import register_example_apps
from dbgpt_tools.apps.registry import AppRegistry
from dbgpt_tools.chat.conversations import ConversationStore
from dbgpt_tools.chat.feedback import FeedbackService
from dbgpt_tools.chat.models import ChatMode
from dbgpt_tools.chat.modes.app import AppChat
from dbgpt_tools.chat.modes.base import ModeHandler
from dbgpt_tools.chat.modes.data import DataChat
from dbgpt_tools.chat.modes.flow import FlowChat
from dbgpt_tools.chat.modes.knowledge import KnowledgeChat
from dbgpt_tools.chat.modes.normal import NormalChat
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.errors import Conflict
from dbgpt_tools.evaluation.datasets import DatasetStore
from dbgpt_tools.evaluation.evaluator import Evaluator
from dbgpt_tools.evaluation.runs import RunStore
from dbgpt_tools.evaluation.service import EvaluationService
from dbgpt_tools.flows.registry import FlowRegistry
from dbgpt_tools.flows.runner import FlowServices
from dbgpt_tools.knowledge.embeddings import Embedder
from dbgpt_tools.knowledge.sample_space import register_sample_space
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.llm.read_ahead import ReadAhead
from dbgpt_tools.login_sessions import LoginSessions
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.bundled_examples import BUNDLED_EXAMPLES, register_bundled_examples
from dbgpt_tools.sql.connection_test import ConnectionTester
from dbgpt_tools.sql.datasource_models import DatasourceIn
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.examples import ExampleStore
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.introspection import SchemaCache
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.sample_db import SAMPLE_DB_COMMENT, SAMPLE_DB_NAME, ensure_sample_db
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_COMMENT, LOGISTICS_DB_NAME, ensure_logistics_db
from dbgpt_tools.store.metadata import MetadataStore

log = logging.getLogger(__name__)


class Runtime:
    """Holds the services; `chat_model` replaces the configured LLM (tests use a scripted model), `embedder` the
    configured embedding model."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chat_model: BaseChatModel | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = MetadataStore(self.settings.resolved_metadata_url)
        self.conversations = ConversationStore(self.store)
        self.logins = LoginSessions(self.store, self.settings)
        self.llm = LLM(self.settings, chat_model)
        self.engines = EngineCache(self.settings)
        self.datasources = DatasourceRegistry(self.settings, self.store, self.engines)
        self.sql = SqlExecutor(self.settings, self.datasources, self.engines)
        self.connections = ConnectionTester(self.datasources, self.engines)
        self.schemas = SchemaCache(self.datasources, self.engines)
        self.knowledge = KnowledgeService(self.settings, self.store, embedder)
        self.examples = ExampleStore(self.store, self.datasources, self.sql, self.knowledge.embedder)
        reads_ahead = self.settings.sql_read_ahead
        if reads_ahead is None:  # by default only the embedded model, whose CPU reads prompts slowly
            reads_ahead = self.llm.caches_prompts
        self.read_ahead = ReadAhead(self.llm) if reads_ahead else None
        self.data_chat = DataChat(
            self.datasources,
            self.sql,
            self.schemas,
            self.examples,
            self.settings,
            self.read_ahead,
        )
        self.apps = AppRegistry(self.store)
        modes: dict[ChatMode, ModeHandler] = {
            ChatMode.chat_normal: NormalChat(),
            ChatMode.chat_data: self.data_chat,
            ChatMode.chat_knowledge: KnowledgeChat(self.knowledge),
        }
        self.flows = FlowRegistry(self.store)
        modes[ChatMode.chat_flow] = FlowChat(self.flows, FlowServices(self.knowledge, self.data_chat, self.sql))
        modes[ChatMode.chat_app] = AppChat(self.apps, dict(modes))
        self.chat = ChatService(self.conversations, self.llm, modes, self.settings.history_messages)
        self.feedback = FeedbackService(self.conversations, self.apps, self.examples)
        self.evaluation = EvaluationService(
            Evaluator(self.knowledge, self.apps, self.chat, self.llm), DatasetStore(self.store), RunStore(self.store)
        )
        if self.settings.sample_db:
            self._register_sample_db()

    def _register_sample_db(self) -> None:
        """Build the bundled sample databases (`sample_sales`, `sample_logistics`) and register each (read-only)
        unless a datasource has its name."""
        bundled = (
            (SAMPLE_DB_NAME, SAMPLE_DB_COMMENT, ensure_sample_db),
            (LOGISTICS_DB_NAME, LOGISTICS_DB_COMMENT, ensure_logistics_db),
        )
        for name, comment, ensure in bundled:
            path = ensure(self.settings.data_dir / f"{name}.sqlite")
            if any(source.db_name == name for source in self.datasources.list()):
                continue
            sample = DatasourceIn(db_name=name, db_type="sqlite", db_path=str(path), comment=comment)
            try:
                self.datasources.create(sample)
            except Conflict:  # another worker registered it first
                continue
            log.info("registered the sample database %s at %s", name, path)

    def start_background(self) -> None:
        """Start a server's background work (in a thread of its own): the sample knowledge space, example apps and
        the sample databases' question-SQL examples (first start), document ingestion."""
        if self.settings.sample_space:
            try:
                register_sample_space(self.knowledge)
            except Exception:
                log.warning("the sample knowledge space could not be registered", exc_info=True)
        register_example_apps(self.apps, self.settings.sample_db, self.settings.sample_space)
        for name in BUNDLED_EXAMPLES if self.settings.sample_db else ():
            try:
                register_bundled_examples(self.examples, name)
            except Exception:
                log.warning("the examples of %s could not be registered", name, exc_info=True)
        self.knowledge.start()

    async def warm_up(self) -> None:
        """Load the model, then have it read the bundled databases' chat_data prompts in the background (when
        read-ahead is on), ahead of the first question.

        Failures are logged, never raised: warming up is an optimisation.
        """
        try:
            await asyncio.to_thread(self.llm.endpoint)
            for name in (SAMPLE_DB_NAME, LOGISTICS_DB_NAME) if self.settings.sample_db else ():
                await self.data_chat.prepare(name)
            log.info("model loaded")
        except Exception:
            log.warning("warm-up failed; the first question will load the model", exc_info=True)

    def close(self) -> None:
        """Release connections and stop the local model."""
        if self.read_ahead is not None:
            self.read_ahead.close()
        self.llm.close()
        self.knowledge.close()
        self.sql.close()
        self.engines.close()
        self.store.close()
