"""Internal records (``memgpt.schemas``) to the service's public models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from memgpt.service.models import (
    AgentInfo,
    AgentMemory,
    MemoryBlock,
    MessageInfo,
    PassageInfo,
    SourceInfo,
    ToolCallInfo,
)

if TYPE_CHECKING:
    from memgpt.agent.memory import AgentMemory as Tiers
    from memgpt.schemas import AgentState, Message, Passage, Source
    from memgpt.store.metadata import MetadataStore, SourceStats


def iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def agent_info(a: AgentState) -> AgentInfo:
    cfg = a.llm_config
    return AgentInfo(id=a.id, name=a.name, persona=a.persona, human=a.human, preset=a.preset, model=cfg.get("model"),
                     context_window=cfg.get("context_window"), endpoint=cfg.get("endpoint"),
                     embedding_model=a.embedding_model, embedding_dim=a.embedding_dim, sources=list(a.source_names),
                     created_at=iso(a.created_at), updated_at=iso(a.updated_at))


def source_stats_info(s: SourceStats) -> SourceInfo:
    src = s.source
    return SourceInfo(id=src.id, name=src.name, embedding_model=src.embedding_model, embedding_dim=src.embedding_dim,
                      description=src.description, n_documents=s.n_documents, n_passages=s.n_passages,
                      created_at=iso(src.created_at))


def source_info(src: Source, meta: MetadataStore) -> SourceInfo:
    return SourceInfo(id=src.id, name=src.name, embedding_model=src.embedding_model, embedding_dim=src.embedding_dim,
                      description=src.description, n_documents=meta.count_documents(src.id),
                      n_passages=meta.count_passages(src.id), created_at=iso(src.created_at))


def passage_info(p: Passage, score: float | None = None, source_names: dict[str, str] | None = None) -> PassageInfo:
    page = p.metadata.get("page")
    return PassageInfo(id=p.id, text=p.text, agent_id=p.agent_id or None, source_id=p.source_id or None,
                       source=(source_names or {}).get(p.source_id) if p.source_id else None,
                       document_id=p.document_id or None, file_name=p.metadata.get("file_name"),
                       page=int(page) if page is not None else None, score=score, created_at=iso(p.created_at))


def message_info(m: Message, in_context: bool = False) -> MessageInfo:
    return MessageInfo(id=m.id, role=m.role, content=m.content,
                       tool_calls=[ToolCallInfo(c.id, c.name, c.arguments) for c in m.tool_calls],
                       tool_call_id=m.tool_call_id, name=m.name, created_at=iso(m.created_at), in_context=in_context)


def memory_view(memory: Tiers) -> AgentMemory:
    state = memory.state
    names = [s.name for s in memory.agents.attached_sources(state.id)]
    return AgentMemory(core={b.label: MemoryBlock(b.label, b.value, b.limit) for b in state.blocks.values()},
                       recall_count=memory.recall_count(), archival_count=memory.archival_count(), sources=names)
