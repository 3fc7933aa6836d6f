"""The agent's three memory tiers behind one object that tools receive.

Core memory is a set of labelled blocks inside the system prompt; recall memory
is every message (SQL, full-text and date search); archival memory is the
agent's passages plus those of attached sources (Milvus, searched by meaning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from memgpt.agent.tools import ToolError
from memgpt.errors import EmbeddingError
from memgpt.memory.archival import Scope
from memgpt.memory.search import lexical_terms
from memgpt.schemas import AgentState, Block, Message, Passage, ScoredPassage, stable_id
from memgpt.store.agents import search_text

if TYPE_CHECKING:
    from memgpt.embeddings.base import EmbeddingModel
    from memgpt.memory.archival import ArchivalStore
    from memgpt.memory.recall import RecallStore
    from memgpt.store.agents import AgentStore

PAGE_SIZE = 5
BACKLOG_BATCH = 256  # unembedded messages embedded per recall search (older agents catch up over a few searches)
log = logging.getLogger(__name__)
DEFAULT_BLOCK_LIMIT = 2000


@dataclass
class Outbox:
    """What the agent said to the user during the current step."""

    messages: list[str] = field(default_factory=list)
    heartbeats_paused_minutes: int | None = None


class AgentMemory:
    def __init__(self, state: AgentState, agents: AgentStore, recall: RecallStore,
                 archival: ArchivalStore, embedder: EmbeddingModel, page_size: int = PAGE_SIZE) -> None:
        self.state = state
        self.agents = agents
        self.recall = recall
        self.archival = archival
        self.embedder = embedder
        self.page_size = page_size
        self.outbox = Outbox()
        self._source_ids: list[str] | None = None
        self._archival_count: int | None = None
        self._backlog_done = False

    # core --------------------------------------------------------------------
    def block(self, label: str) -> Block:
        try:
            return self.state.blocks[label]
        except KeyError:
            raise ToolError(f"no core memory block named {label!r}; blocks: {', '.join(self.state.blocks)}") from None

    def core_append(self, label: str, content: str) -> str:
        block = self.block(label)
        new = f"{block.value}\n{content}" if block.value else content
        self._check_limit(block, new)
        block.value = new
        return f"appended to {label} ({len(new)}/{block.limit} characters)"

    def core_replace(self, label: str, old: str, new: str) -> str:
        block = self.block(label)
        if not old:
            raise ToolError("old_content is empty; use core_memory_append to add text")
        if old not in block.value:
            raise ToolError(f"old_content was not found in {label}; copy it exactly from core memory")
        value = block.value.replace(old, new, 1)
        self._check_limit(block, value)
        block.value = value
        return f"replaced text in {label} ({len(value)}/{block.limit} characters)"

    @staticmethod
    def _check_limit(block: Block, value: str) -> None:
        if len(value) > block.limit:
            raise ToolError(
                f"edit refused: {block.label} would hold {len(value)} characters, over its limit of {block.limit} "
                f"(now {len(block.value)}). Shorten or replace existing text, or move details to archival memory.")

    # archival ----------------------------------------------------------------
    def source_ids(self) -> list[str]:
        if self._source_ids is None:
            self._source_ids = [s.id for s in self.agents.attached_sources(self.state.id)]
        return self._source_ids

    def sources_changed(self) -> None:
        self._source_ids = None
        self._archival_count = None

    def scope(self) -> Scope:
        return Scope(user_id=self.state.user_id, agent_id=self.state.id, source_ids=tuple(self.source_ids()))

    def archival_insert(self, content: str) -> int:
        from memgpt.ingest.chunking import chunk_text

        limit = max(16, getattr(self.embedder, "max_tokens", 256) - 2)
        pieces = chunk_text(content, self.embedder.token_counter(), limit, min(25, limit // 8)) or [content]
        vectors = self.embedder.embed_batch(pieces)
        passages = [Passage(id=stable_id("passage", self.state.id, piece), user_id=self.state.user_id, text=piece,
                            embedding=vec, agent_id=self.state.id) for piece, vec in zip(pieces, vectors)]
        self.archival.insert(passages)
        self._archival_count = None
        return len(passages)

    def archival_search(self, query: str, page: int = 0) -> tuple[list[ScoredPassage], int]:
        """One page of the best matches, and how many passages archival memory holds in all."""
        scope = self.scope()
        hits = self.archival.search_hybrid(query, self.embedder.embed_query(query), scope, limit=self.page_size,
                                           offset=page * self.page_size)
        return hits, self.archival_count()

    def archival_count(self) -> int:
        """Passages the agent can search (its own and attached sources'), cached until they change."""
        if self._archival_count is None:
            self._archival_count = self.archival.count(self.scope())
        return self._archival_count

    # recall ------------------------------------------------------------------
    def recall_search(self, query: str, page: int = 0) -> tuple[list[Message], int]:
        """Hybrid (words + meaning) search over the conversation; word search alone if embedding fails."""
        vector = None
        if lexical_terms(query):
            try:
                self._index_backlog()
                vector = self.embedder.embed_query(query)
            except EmbeddingError as exc:
                log.warning("recall search falls back to word search: %s", exc)
        return self.recall.search(self.state.id, query, limit=self.page_size, offset=page * self.page_size,
                                  vector=vector, model=self.embedder.model_id)

    def recall_search_date(self, start: date, end: date, page: int = 0) -> tuple[list[Message], int]:
        return self.recall.search_date(self.state.id, start, end, limit=self.page_size,
                                       offset=page * self.page_size)

    def index_messages(self, messages: list[Message]) -> None:
        """Embed a saved step's searchable messages for recall's meaning search.

        Searchable: user and assistant messages with words to find (not event
        notices). An embedding failure never fails the step: the messages stay
        word-searchable and are embedded later by :meth:`_index_backlog`.
        """
        todo = [m for m in messages if _indexable(m)]
        if not todo:
            return
        try:
            vectors = self.embedder.embed_batch([search_text(m) or "" for m in todo])
            self.recall.add_vectors(self.state.id, self.state.user_id, self.embedder.model_id,
                                    list(zip(todo, vectors)))
        except EmbeddingError as exc:
            log.warning("recall messages not embedded yet (%s); they will be on a later search", exc)

    def _index_backlog(self, batch: int = BACKLOG_BATCH) -> None:
        """Embed messages saved without a vector (older agents, failed embeddings), a batch per search."""
        if self._backlog_done:
            return
        todo = self.recall.unindexed(self.state.id, self.embedder.model_id, limit=batch)
        if todo:
            vectors = self.embedder.embed_batch([search_text(m) or "" for m in todo])
            self.recall.add_vectors(self.state.id, self.state.user_id, self.embedder.model_id,
                                    list(zip(todo, vectors)))
        self._backlog_done = len(todo) < batch

    def recall_count(self) -> int:
        return self.recall.count(self.state.id)


def _indexable(m: Message) -> bool:
    return m.role in ("user", "assistant") and m.name != "event" and bool(search_text(m))
