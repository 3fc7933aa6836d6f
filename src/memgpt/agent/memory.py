"""The agent's three memory tiers behind one object that tools receive.

Core memory is a set of labelled blocks inside the system prompt; recall memory
is every message (SQL, full-text and date search); archival memory is the
agent's passages plus those of attached sources (Milvus, searched by meaning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from memgpt.agent.tools import ToolError
from memgpt.memory.archival import Scope
from memgpt.schemas import AgentState, Block, Message, Passage, ScoredPassage, stable_id

if TYPE_CHECKING:
    from memgpt.embeddings.base import EmbeddingModel
    from memgpt.memory.archival import MilvusArchivalStore
    from memgpt.memory.recall import RecallStore
    from memgpt.store.agents import AgentStore

PAGE_SIZE = 5
DEFAULT_BLOCK_LIMIT = 2000


@dataclass
class Outbox:
    """What the agent said to the user during the current step."""

    messages: list[str] = field(default_factory=list)
    heartbeats_paused_minutes: int | None = None


class AgentMemory:
    def __init__(self, state: AgentState, agents: AgentStore, recall: RecallStore,
                 archival: MilvusArchivalStore, embedder: EmbeddingModel, page_size: int = PAGE_SIZE) -> None:
        self.state = state
        self.agents = agents
        self.recall = recall
        self.archival = archival
        self.embedder = embedder
        self.page_size = page_size
        self.outbox = Outbox()
        self._source_ids: list[str] | None = None
        self._archival_count: int | None = None

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
        from memgpt.tokens import default_counter

        limit = max(16, getattr(self.embedder, "max_tokens", 256) - 2)
        pieces = chunk_text(content, default_counter(), limit, min(25, limit // 8)) or [content]
        vectors = self.embedder.embed_batch(pieces)
        passages = [Passage(id=stable_id("passage", self.state.id, piece), user_id=self.state.user_id, text=piece,
                            embedding=vec, agent_id=self.state.id) for piece, vec in zip(pieces, vectors)]
        self.archival.insert(passages)
        self._archival_count = None
        return len(passages)

    def archival_search(self, query: str, page: int = 0) -> tuple[list[ScoredPassage], int]:
        """One page of the best matches, and how many passages archival memory holds in all."""
        scope = self.scope()
        hits = self.archival.search(self.embedder.embed(query), scope, limit=self.page_size,
                                    offset=page * self.page_size)
        return hits, self.archival_count()

    def archival_count(self) -> int:
        """Passages the agent can search (its own and attached sources'), cached until they change."""
        if self._archival_count is None:
            self._archival_count = self.archival.count(self.scope())
        return self._archival_count

    # recall ------------------------------------------------------------------
    def recall_search(self, query: str, page: int = 0) -> tuple[list[Message], int]:
        return self.recall.search(self.state.id, query, limit=self.page_size, offset=page * self.page_size)

    def recall_search_date(self, start: date, end: date, page: int = 0) -> tuple[list[Message], int]:
        return self.recall.search_date(self.state.id, start, end, limit=self.page_size,
                                       offset=page * self.page_size)

    def index_messages(self, messages: list[Message]) -> None:
        """Called after each saved step with its new messages (for search indexes beyond SQL full-text)."""

    def recall_count(self) -> int:
        return self.recall.count(self.state.id)
