"""Agents, their core-memory blocks, attached sources and messages, in SQL.

``save_step`` is the one write an agent step makes: new messages, blocks and
the in-context list go in one transaction, so a process killed mid-step loses
at most the step in flight and never leaves half of one behind. The same
transaction adds the step's messages to ``agents.message_count`` (``create``
sets it), which is how recall memory counts without reading the history;
these two are the only inserts of messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Engine, delete, insert, select, update

from memgpt.errors import AgentConflictError
from memgpt.schemas import AgentState, Block, Message, Source, ToolCall, utcnow
from memgpt.store import tables as t
from memgpt.store.metadata import _source, aware
from memgpt.store.sql import upsert, writing


class AgentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, agent: AgentState, messages: Sequence[Message] = ()) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(t.agents).values(
                id=agent.id, user_id=agent.user_id, name=agent.name, persona=agent.persona, human=agent.human,
                preset=agent.preset, system_prompt=agent.system_prompt, llm_config=agent.llm_config,
                embedding_model=agent.embedding_model, embedding_dim=agent.embedding_dim,
                in_context=agent.in_context, state=agent.state, created_at=agent.created_at,
                updated_at=agent.updated_at, message_count=len(messages)))
            self._write_blocks(conn, agent)
            self._insert_messages(conn, agent, messages)

    def save_step(self, agent: AgentState, new_messages: Sequence[Message] = ()) -> None:
        """Save a step, but only over the version this state was read at (``agent.version``).

        The version check is the transaction's first write: it takes the row (or, on SQLite, the
        database) lock, so a second writer either sees the bumped version and refuses, or waits.
        """
        updated_at = utcnow()
        with writing(self.engine, f"agent {agent.name!r}'s step") as conn:
            res = conn.execute(update(t.agents).where(t.agents.c.id == agent.id, t.agents.c.version == agent.version)
                               .values(in_context=list(agent.in_context), state=dict(agent.state),
                                       llm_config=dict(agent.llm_config), system_prompt=agent.system_prompt,
                                       updated_at=updated_at, version=agent.version + 1,
                                       message_count=t.agents.c.message_count + len(new_messages)))
            if res.rowcount != 1:
                raise AgentConflictError(
                    f"agent {agent.name!r} was changed by another process since this one loaded it; "
                    "nothing of this step was saved over it",
                    f"close the other process and resume: memgpt run --agent {agent.name}")
            self._insert_messages(conn, agent, new_messages)
            conn.execute(delete(t.blocks).where(t.blocks.c.agent_id == agent.id,
                                                t.blocks.c.label.not_in(list(agent.blocks))))
            self._write_blocks(conn, agent)
        agent.updated_at = updated_at
        agent.version += 1

    @staticmethod
    def _write_blocks(conn, agent: AgentState) -> None:  # noqa: ANN001
        upsert(conn, t.blocks, [
            {"agent_id": agent.id, "label": b.label, "user_id": agent.user_id, "value": b.value,
             "char_limit": b.limit} for b in agent.blocks.values()], keys=["agent_id", "label"])

    @staticmethod
    def _insert_messages(conn, agent: AgentState, messages: Sequence[Message]) -> None:  # noqa: ANN001
        if messages:
            conn.execute(insert(t.messages), [
                {"id": m.id, "user_id": agent.user_id, "agent_id": agent.id, "role": m.role, "content": m.content,
                 **_search_columns(m),
                 "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]
                 or None, "tool_call_id": m.tool_call_id, "name": m.name, "created_at": m.created_at}
                for m in messages])

    def update_message(self, agent: AgentState, m: Message) -> None:
        """Rewrite a stored message in place (used by /rethink and /rewrite)."""
        with self.engine.begin() as conn:
            conn.execute(update(t.messages).where(t.messages.c.id == m.id, t.messages.c.agent_id == agent.id).values(
                content=m.content, **_search_columns(m),
                tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls] or None))

    def find(self, user_id: str, name: str) -> AgentState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.agents).where(t.agents.c.user_id == user_id, t.agents.c.name == name)).first()
            return self._load(conn, row) if row else None

    def get(self, agent_id: str) -> AgentState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.agents).where(t.agents.c.id == agent_id)).first()
            return self._load(conn, row) if row else None

    def list(self, user_id: str) -> list[AgentState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.agents).where(t.agents.c.user_id == user_id).order_by(t.agents.c.created_at))
            return [self._load(conn, r) for r in rows.all()]

    def _load(self, conn, row) -> AgentState:  # noqa: ANN001
        blocks = {
            b.label: Block(label=b.label, value=b.value, limit=b.char_limit)
            for b in conn.execute(select(t.blocks).where(t.blocks.c.agent_id == row.id).order_by(t.blocks.c.label))
        }
        names = list(conn.scalars(
            select(t.sources.c.name).join(t.agent_sources, t.agent_sources.c.source_id == t.sources.c.id)
            .where(t.agent_sources.c.agent_id == row.id).order_by(t.sources.c.name)))
        return AgentState(
            id=row.id, user_id=row.user_id, name=row.name, persona=row.persona, human=row.human, preset=row.preset,
            system_prompt=row.system_prompt, llm_config=dict(row.llm_config), embedding_model=row.embedding_model,
            embedding_dim=row.embedding_dim, blocks=blocks, in_context=list(row.in_context), state=dict(row.state),
            created_at=aware(row.created_at), updated_at=aware(row.updated_at), source_names=names,
            version=row.version)

    def rename(self, agent_id: str, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.agents).where(t.agents.c.id == agent_id).values(name=name, updated_at=utcnow()))

    def delete(self, agent_id: str) -> None:
        with self.engine.begin() as conn:
            for table in (t.messages, t.blocks, t.agent_sources):
                conn.execute(delete(table).where(table.c.agent_id == agent_id))
            conn.execute(delete(t.passages).where(t.passages.c.agent_id == agent_id))
            conn.execute(delete(t.agents).where(t.agents.c.id == agent_id))

    # sources ---------------------------------------------------------------
    def attach(self, agent: AgentState, source: Source) -> bool:
        """Link a source's passages into the agent's archival memory; False if already attached."""
        with self.engine.begin() as conn:
            exists = conn.scalar(select(t.agent_sources.c.source_id).where(
                t.agent_sources.c.agent_id == agent.id, t.agent_sources.c.source_id == source.id))
            if exists:
                return False
            conn.execute(insert(t.agent_sources).values(agent_id=agent.id, source_id=source.id,
                                                        user_id=agent.user_id, attached_at=utcnow()))
            return True

    def detach(self, agent: AgentState, source: Source) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(delete(t.agent_sources).where(
                t.agent_sources.c.agent_id == agent.id, t.agent_sources.c.source_id == source.id))
            return res.rowcount > 0

    def attached_sources(self, agent_id: str) -> list[Source]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.sources).join(t.agent_sources, t.agent_sources.c.source_id == t.sources.c.id)
                                .where(t.agent_sources.c.agent_id == agent_id).order_by(t.sources.c.name))
            return [_source(r) for r in rows]

    # messages --------------------------------------------------------------
    def messages(self, ids: Sequence[str]) -> list[Message]:
        """Messages by id, in the order of ``ids``."""
        return fetch_messages(self.engine, ids)


def fetch_messages(engine: Engine, ids: Sequence[str]) -> list[Message]:
    """Messages by id, in the order of ``ids`` (unknown ids are skipped)."""
    if not ids:
        return []
    with engine.connect() as conn:
        rows = conn.execute(select(t.messages).where(t.messages.c.id.in_(list(ids))))
        by_id = {r.id: row_to_message(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def _search_columns(m: Message) -> dict[str, str | None]:
    """``search_text`` and, for text with CJK runs, the character-pair words the full-text index reads."""
    from memgpt.memory.words import has_cjk, search_words

    st = search_text(m)
    return {"search_text": st, "search_words": search_words(st) if st and has_cjk(st) else None}


def search_text(m: Message) -> str | None:
    """The words recall search should find a message by (None: not searchable)."""
    if m.role == "user":
        return m.content
    if m.role == "assistant":
        said = []
        for call in m.tool_calls:
            if call.name == "send_message":
                try:
                    said.append(str(json.loads(call.arguments).get("message", "")))
                except (ValueError, AttributeError):
                    said.append(call.arguments)
        return " ".join(x for x in [m.content or "", *said] if x) or None
    return None


def row_to_message(r) -> Message:  # noqa: ANN001
    return Message(role=r.role, content=r.content, id=r.id, tool_call_id=r.tool_call_id, name=r.name,
                   tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for c in (r.tool_calls or [])],
                   created_at=aware(r.created_at))
