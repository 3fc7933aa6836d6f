"""The one place that turns settings into concrete parts.

The CLI, a server and the tests each build a ``Runtime`` from ``Settings``;
everything else receives the parts it needs through its constructor. Every
part is built on first use, so a command pays only for what it touches.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from typing import TYPE_CHECKING, TypeVar

from memgpt.config import Settings
from memgpt.errors import ConfigError

if TYPE_CHECKING:
    from memgpt.embeddings.base import EmbeddingModel
    from memgpt.llm.base import LLMClient
    from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection
    from memgpt.memory.recall import RecallStore
    from memgpt.schemas import User
    from memgpt.store.agents import AgentStore
    from memgpt.store.locks import AgentLocks
    from memgpt.store.metadata import MetadataStore


T = TypeVar("T")
# Seconds one reply may take, retries included (``llm_timeout`` overrides). A 1.5B model on a 2-core CPU
# needs 20-170 s for a 2k-token prompt.
HOSTED_DEADLINE = 60.0
LOCAL_DEADLINE = 600.0


def _refuse_emptied_sqlite(url: str, milvus_uri: str) -> None:
    """A 0-byte sqlite.db beside a Milvus Lite file that holds passages is a lost database (a full
    disk, a bad copy), not a new one: recreating it would orphan every passage without a word."""
    from pathlib import Path

    if not url.startswith("sqlite:///") or "://" in milvus_uri:
        return
    db, milvus = Path(url.removeprefix("sqlite:///")), Path(milvus_uri)
    if db.is_file() and db.stat().st_size == 0 and milvus.is_file() and milvus.stat().st_size > 0:
        from memgpt.errors import StorageError

        raise StorageError(f"metadata database {db} is empty (0 bytes) while {milvus} holds archival passages",
                           "restore sqlite.db from a backup; or, to start over, move both files aside")


class Runtime:
    def __init__(self, settings: Settings, *, llm_factory: Callable[..., LLMClient] | None = None) -> None:
        self.settings = settings
        self._llm_factory = llm_factory  # tests and benchmarks: an in-process model instead of an endpoint
        self._memo: dict[tuple, object] = {}  # shared with per-user views

    @cached_property
    def metadata(self) -> MetadataStore:
        from memgpt.store.metadata import MetadataStore
        from memgpt.store.sql import open_engine

        if self.settings.metadata_backend not in ("sqlite", "postgres"):
            raise ConfigError(f"unknown metadata backend {self.settings.metadata_backend!r}",
                              "use sqlite or postgres: memgpt configure --metadata-backend sqlite")
        url = self.settings.resolved_metadata_url()
        _refuse_emptied_sqlite(url, self.settings.resolved_milvus_uri())
        return MetadataStore(open_engine(url))

    @cached_property
    def agents(self) -> AgentStore:
        from memgpt.store.agents import AgentStore

        return AgentStore(self.metadata.engine)

    @cached_property
    def recall(self) -> RecallStore:
        # One per process: it caches each agent's message vectors between searches.
        from memgpt.memory.recall import RecallStore

        return RecallStore(self.metadata.engine)

    @cached_property
    def locks(self) -> AgentLocks:
        from memgpt.store.locks import AgentLocks

        return AgentLocks(self.metadata.engine)

    @cached_property
    def user(self) -> User:
        return self.metadata.get_or_create_user()

    @cached_property
    def milvus(self) -> MilvusConnection:
        from memgpt.memory.archival import MilvusConnection

        if self.settings.archival_backend != "milvus":
            raise ConfigError(f"unknown archival storage backend {self.settings.archival_backend!r}",
                              "use milvus: memgpt configure --archival-storage milvus")
        s = self.settings
        try:
            return MilvusConnection(s.resolved_milvus_uri(), token=s.milvus_token, db_name=s.milvus_db_name,
                                    index=s.milvus_index)
        except ValueError as exc:  # an index type hand-written into the config file
            raise ConfigError(str(exc), "memgpt configure --milvus-index auto") from exc

    def archival(self, model_id: str | None = None, dim: int | None = None) -> MilvusArchivalStore:
        """The archival store for a model (default: the configured embedding model)."""
        from memgpt.memory.archival import MilvusArchivalStore

        if model_id is None or dim is None:
            model_id, dim = self.embedder.model_id, self.embedder.dim
        return MilvusArchivalStore(self.milvus, model_id, dim)

    @cached_property
    def embedder(self) -> EmbeddingModel:
        s = self.settings
        if s.embedding_provider == "local":
            from memgpt.embeddings import make_local

            return make_local(s.embedding_model, batch_size=s.embedding_batch_size)
        from memgpt.llm.providers import EMBEDDING_PROVIDERS

        if s.embedding_provider in EMBEDDING_PROVIDERS:
            from memgpt.embeddings.openai_compat import OpenAICompatibleEmbedding
            from memgpt.llm.providers import resolve_endpoint

            ep = resolve_endpoint(s.embedding_provider, None, None, config_base_url=s.embedding_endpoint,
                                  config_api_key=s.embedding_api_key or s.model_api_key)
            return OpenAICompatibleEmbedding(ep.base_url, ep.api_key, s.embedding_model, dim=s.embedding_dim,
                                             provider=s.embedding_provider)
        raise ConfigError(f"unknown embedding provider {s.embedding_provider!r}",
                          "use local or openai: memgpt configure --embedding-provider local")

    def llm(self, model: str | None = None, endpoint: str | None = None, provider: str | None = None,
            context_window: int | None = None, on_wait: Callable[[float], None] | None = None,
            wrapper: str | None = None, timeout: int | None = None) -> LLMClient:
        """The chat model. A server on this machine or a private network (by provider or by URL) gets the
        local deadline and is never re-sent a request it may still be computing; its window is asked of
        it (see :mod:`memgpt.llm.local`). ``wrapper`` "json" puts the functions in the prompt
        (:mod:`memgpt.llm.wrappers`), with decoding constrained to the answer's schema on local servers."""
        if self._llm_factory is not None:
            return self._llm_factory(model=model, endpoint=endpoint, provider=provider, context_window=context_window,
                                     on_wait=on_wait, wrapper=wrapper, timeout=timeout)
        from memgpt.llm.local import LOCAL_PROVIDERS, is_local_url
        from memgpt.llm.openai_client import OpenAICompatibleClient
        from memgpt.llm.providers import resolve_endpoint
        from memgpt.llm.wrappers import wrap

        s = self.settings
        provider = provider or s.model_provider
        model = model or s.model
        ep = resolve_endpoint(provider, endpoint, None, config_base_url=s.model_endpoint,
                              config_api_key=s.model_api_key)
        local = ep.provider in LOCAL_PROVIDERS or is_local_url(ep.base_url)
        given = timeout or s.llm_timeout
        deadline = float(given or (LOCAL_DEADLINE if local else HOSTED_DEADLINE))
        # One attempt may use the whole deadline; on a hosted API retries fit inside it.
        client = OpenAICompatibleClient.from_endpoint(
            ep, model, context_window or s.context_window,  # None: asked of a local server, else known per model
            timeout=deadline, deadline=deadline, local=local, provider=ep.provider, on_wait=on_wait,
            local_deadline=float(given or LOCAL_DEADLINE))
        return wrap(client, wrapper or s.model_wrapper, constrain=local)

    def memo(self, key: tuple, build: Callable[[], T]) -> T:
        """One ``build()`` per key for the life of the runtime (LLM clients, for instance)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[return-value]

    def for_user(self, user: User) -> Runtime:
        """The same parts, acting for another user (a server serves many from one runtime).

        Parts are shared, so they are built here first: a part built later on the copy would
        not be shared.
        """
        for part in ("metadata", "agents", "recall", "locks", "embedder", "milvus"):
            getattr(self, part)
        clone = Runtime.__new__(Runtime)
        clone.__dict__ = {**self.__dict__, "user": user, "_owner": False}
        return clone

    def close(self) -> None:
        if not self.__dict__.get("_owner", True):
            return  # a per-user view: its parts belong to the runtime it came from
        if "milvus" in self.__dict__:
            self.milvus.close()
        if "metadata" in self.__dict__:
            self.metadata.engine.dispose()
