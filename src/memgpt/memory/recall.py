"""Recall memory: every message an agent has handled, searchable by words and by date.

Word search is ranked full-text search (SQLite FTS5 with BM25; PostgreSQL
``ts_rank_cd`` over a generated ``tsvector``), not substring matching. The
user's query is reduced to word tokens before it reaches either engine, so
nothing they type can change the query's syntax.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Engine, bindparam, func, select, text

from memgpt.schemas import Message
from memgpt.store import tables as t
from memgpt.store.agents import row_to_message

SEARCHABLE = ("user", "assistant")
_WORD = re.compile(r"\w+", re.UNICODE)


class RecallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, agent_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t.messages)
                               .where(t.messages.c.agent_id == agent_id)) or 0

    def search(self, agent_id: str, query: str, *, limit: int = 5, offset: int = 0) -> tuple[list[Message], int]:
        """Messages matching any word of ``query``, best first; returns (page, total matches)."""
        words = [w.lower() for w in _WORD.findall(query)][:32]
        if not words:
            return [], 0
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
                base = ("FROM messages_fts f JOIN messages m ON m.seq = f.rowid "
                        "WHERE messages_fts MATCH :match AND m.agent_id = :agent")
                params = {"match": match, "agent": agent_id}
                total = conn.scalar(text(f"SELECT count(*) {base}"), params) or 0
                rows = conn.execute(text(f"SELECT m.* {base} ORDER BY bm25(messages_fts), m.seq DESC "
                                         "LIMIT :limit OFFSET :offset"), {**params, "limit": limit, "offset": offset})
            else:
                tsq = " | ".join(re.sub(r"[^\w]", "", w) for w in words)
                base = ("FROM messages m WHERE m.agent_id = :agent "
                        "AND m.content_tsv @@ to_tsquery('english', :tsq)")
                params = {"agent": agent_id, "tsq": tsq}
                total = conn.scalar(text(f"SELECT count(*) {base}"), params) or 0
                rows = conn.execute(text(
                    f"SELECT m.* {base} ORDER BY ts_rank_cd(m.content_tsv, to_tsquery('english', :tsq)) DESC, "
                    "m.seq DESC LIMIT :limit OFFSET :offset"), {**params, "limit": limit, "offset": offset})
            return [row_to_message(r) for r in rows], int(total)

    def search_date(self, agent_id: str, start: date | datetime, end: date | datetime, *, limit: int = 5,
                    offset: int = 0) -> tuple[list[Message], int]:
        """Searchable messages from ``start`` through ``end`` (whole days when given dates), oldest first."""
        lo, hi = _bound(start, end_of_day=False), _bound(end, end_of_day=True)
        where = (t.messages.c.agent_id == agent_id, t.messages.c.role.in_(SEARCHABLE),
                 t.messages.c.created_at >= bindparam("lo"), t.messages.c.created_at < bindparam("hi"))
        with self.engine.connect() as conn:
            params = {"lo": lo, "hi": hi}
            total = conn.scalar(select(func.count()).select_from(t.messages).where(*where), params) or 0
            rows = conn.execute(select(t.messages).where(*where).order_by(t.messages.c.seq)
                                .limit(limit).offset(offset), params)
            return [row_to_message(r) for r in rows], int(total)

    def recent(self, agent_id: str, limit: int = 20) -> list[Message]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.messages).where(t.messages.c.agent_id == agent_id)
                                .order_by(t.messages.c.seq.desc()).limit(limit))
            return [row_to_message(r) for r in reversed(rows.all())]


def _bound(value: date | datetime, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    day = datetime.combine(value, time.min, tzinfo=timezone.utc)
    return day + timedelta(days=1) if end_of_day else day
