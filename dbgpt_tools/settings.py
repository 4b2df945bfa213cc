"""One settings object, read from `DBGPT_*` environment variables and an optional `.env` file."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LocalModelName = Literal["qwen2.5-coder-1.5b", "smollm2-135m"]


class Settings(BaseSettings):
    """Every setting of dbgpt-tools. README's configuration table lists each one (a test checks it)."""

    model_config = SettingsConfigDict(env_prefix="DBGPT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path.home() / ".dbgpt-tools",
        description="Where the metadata database, assembled model files and sample data live.",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Bearer keys accepted on /api, /mcp and the model API (and exchanged for a web UI "
        "session at /login). Empty: no auth, loopback only.",
    )
    session_ttl: float = Field(
        default=12 * 3600,
        gt=0,
        description="Seconds a web UI login (the session cookie `/login` hands out for an API key) stays valid.",
    )
    host: str = Field(default="127.0.0.1", description="Address `dbgpt-tools serve` binds to.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated `Host` names (optionally `name:port`) the server answers besides the loopback "
        "ones, e.g. the name of a reverse proxy in front of it. Empty: a loopback server answers only "
        "127.0.0.1/localhost/[::1], any other server any name.",
    )
    port: int = Field(default=5670, ge=1, le=65535, description="Port `dbgpt-tools serve` listens on.")
    model_api_port: int = Field(
        default=8100,
        ge=0,
        le=65535,
        description="Second port of `dbgpt-tools serve`: DB-GPT's OpenAI-compatible model API at `/api/v1` (models, "
        "chat completions, embeddings) on the same model and API keys. 0 turns it off.",
    )
    metadata_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store. Default: SQLite file `metadata.db` in the data dir.",
    )
    llm_backend: Literal["local", "openai"] = Field(
        default="local", description="`local` (embedded llama.cpp model) or `openai` (any compatible endpoint)."
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible endpoint (backend `openai`)."
    )
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the OpenAI-compatible endpoint.")
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(default=120.0, gt=0, description="Seconds before an LLM request is abandoned.")
    llm_max_queue: int | None = Field(
        default=None,
        ge=0,
        description="Requests allowed to wait for the LLM; more are refused with HTTP 429. Default: 64 for the "
        "local model, 1024 for an endpoint.",
    )
    llm_max_parallel: int | None = Field(
        default=None,
        ge=1,
        description="Requests the LLM serves at once (llama.cpp slots for the local model). Default: 2 for the "
        "local model, 256 for an endpoint (which sets its own rate limits).",
    )
    max_new_tokens: int = Field(default=512, ge=1, description="Default cap on generated tokens per answer.")
    sql_temperature: float = Field(
        default=0.0,
        ge=0,
        le=2,
        description="Sampling temperature for chat_data's SQL (and its repair) when a request sets none; the other "
        "modes use the model server's own default (0.8 on llama.cpp).",
    )
    sql_join_paths: bool = Field(
        default=False,
        description="Give chat_data's model the foreign-key join path between the tables a question names (a line "
        "after the question). Off until the text-to-SQL benchmark shows it pays.",
    )
    sql_candidates: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Queries chat_data's model may write for a question that is not a simple one-table read: the "
        "first, then one more (sampled at 0.7); when their results differ, the rest, run in parallel, and the "
        "result most of them agree on wins. 1 (the default: with the embedded 1.5B model it changed no answer on "
        "the test split and tripled the time of hard questions) turns candidates off.",
    )
    sql_read_ahead: bool | None = Field(
        default=None,
        description="Have the model read each datasource's chat_data prompt in the background (at start-up, when a "
        "datasource is registered or changed, or its schema changes), yielding to any request; until it is read, "
        "questions get a compact schema. Default: on for the local model (whose CPU reads a prompt at ~40 tokens/s), "
        "off for an endpoint.",
    )
    history_messages: int = Field(
        default=20, ge=0, description="Earlier messages of a conversation sent to the model with a new turn."
    )
    local_model: LocalModelName = Field(
        default="qwen2.5-coder-1.5b", description="Embedded model: `qwen2.5-coder-1.5b` or `smollm2-135m`."
    )
    model_dir: Path | None = Field(
        default=None, description="Where the assembled GGUF file is kept. Default: `models/` in the data dir."
    )
    local_ctx: int = Field(default=8192, ge=512, description="Context tokens of the local model (shared by slots).")
    local_threads: int = Field(default=0, ge=0, description="CPU threads for the local model (0: all cores).")
    db_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated directories file databases (`db_path`) may live in, besides the data dir.",
    )
    sql_row_limit: int = Field(default=1000, ge=1, description="Default cap on rows returned by one SQL statement.")
    sql_max_row_limit: int = Field(default=100_000, ge=1, description="Largest row cap a caller may ask for.")
    sql_timeout: float = Field(default=30.0, gt=0, description="Seconds before a SQL statement is cancelled.")
    sql_max_parallel: int = Field(
        default=8, ge=1, le=256, description="SQL statements one server worker runs at once; more wait their turn."
    )
    sql_max_value_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest single value (text, blob) a SQLite statement may read or build; a longer one fails the "
        "statement (and bounds how long one function call on it can take).",
    )
    sql_max_result_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Byte budget of one statement's rows; rows past it are cut off (`truncated`, reason `bytes`).",
    )
    sql_engine_memory_mb: int = Field(
        default=128, ge=16, description="Memory one DuckDB statement may use (no spilling to disk); more fails it."
    )
    datasource_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host names, IP addresses and CIDR networks datasources may connect to. Empty: "
        "any (a local tool); set it for a shared server, e.g. `db.internal,10.0.0.0/8`.",
    )
    http_header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a client has to send a request's headers; then it is disconnected."
    )
    http_body_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a client has to send a request's body; then it is disconnected."
    )
    embedding_backend: Literal["local", "openai"] = Field(
        default="local",
        description="`local` (all-MiniLM-L6-v2 on onnxruntime, offline) or `openai` (a compatible /embeddings "
        "endpoint).",
    )
    embedding_base_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible embeddings endpoint (backend `openai`)."
    )
    embedding_api_key: SecretStr | None = Field(default=None, description="API key for the embeddings endpoint.")
    embedding_model: str = Field(
        default="text-embedding-3-small", description="Model name sent to the embeddings endpoint."
    )
    embedding_threads: int = Field(
        default=1, ge=1, le=64, description="CPU threads of the local embedding model (one is fastest on 2 busy cores)."
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`http://host:8000`). Default: a persistent Chroma store in the data dir.",
    )
    knowledge_max_file_mb: int = Field(
        default=50, ge=1, description="Largest document file (upload or path) accepted, in MB."
    )
    document_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated directories the MCP, LangChain and notebook faces may read documents from "
        "(REST takes uploads). Empty: none.",
    )
    knowledge_stale_after: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without progress after which a running ingestion counts as interrupted (its server "
        "stopped): the document is marked FAILED and can be synced again.",
    )
    sample_space: bool = Field(
        default=True,
        description="Register a sample knowledge space (`dbgpt_tools_docs`, this project's documentation) on "
        "first start; it is embedded in the background.",
    )
    warm_up: bool = Field(
        default=True,
        description="`dbgpt-tools serve` loads the model before it listens, then (with read-ahead) has it read the "
        "bundled databases' chat_data prompts in the background.",
    )
    webui_dir: Path | None = Field(
        default=None,
        description="Where `dbgpt-tools webui install` unpacks DB-GPT's web UI, served at `/` when present. "
        "Default: `webui/` in the data dir.",
    )
    sample_db: bool = Field(
        default=True,
        description="Register the bundled sample databases (`sample_sales`, `sample_logistics`) on first start.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("datasource_networks", "allowed_hosts", mode="before")
    @classmethod
    def _split_items(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("db_roots", "document_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(root.strip()) for root in value.split(",") if root.strip()]
        return value

    @property
    def allowed_db_roots(self) -> list[Path]:
        """Directories a file database may resolve into: the data dir, then the configured roots."""
        return [root.expanduser().resolve() for root in (self.data_dir, *self.db_roots)]

    @property
    def allowed_document_roots(self) -> list[Path]:
        """Directories a document path may resolve into."""
        return [root.expanduser().resolve() for root in self.document_roots]

    @property
    def max_parallel(self) -> int:
        """Requests the model serves at once: the setting, or the backend's default."""
        return self.llm_max_parallel or (2 if self.llm_backend == "local" else 256)

    @property
    def max_queue(self) -> int:
        """Requests allowed to wait for the model: the setting, or the backend's default."""
        return self.llm_max_queue if self.llm_max_queue is not None else (64 if self.llm_backend == "local" else 1024)

    @property
    def resolved_metadata_url(self) -> str:
        """The metadata store URL, defaulting to a SQLite file in the data directory."""
        return self.metadata_url or f"sqlite:///{self.data_dir / 'metadata.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        """Directory holding the assembled local model file."""
        return self.model_dir or self.data_dir / "models"

    @property
    def resolved_webui_dir(self) -> Path:
        """Directory holding DB-GPT's web UI (its `index.html` at the top)."""
        return self.webui_dir or self.data_dir / "webui"

    def accepts_key(self, key: str | None) -> bool:
        """Whether a Bearer key is accepted (always, when no key is configured)."""
        if not self.api_keys:
            return True
        return key is not None and any(
            hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in self.api_keys
        )
