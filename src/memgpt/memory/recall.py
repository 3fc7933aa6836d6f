"""Recall memory: every message an agent has handled, searchable by words, meaning and date.

Word search is ranked full-text search (SQLite FTS5 with BM25; PostgreSQL
``ts_rank_cd`` over a generated ``tsvector``), not substring matching. The
user's query is reduced to word tokens before it reaches either engine, so
nothing they type can change the query's syntax.

Meaning search compares the query's embedding with the stored vectors of the
agent's searchable messages (``message_vectors``) by brute force in numpy: an
agent holds thousands of messages, not millions, and a 10k x 384 float32
matrix product takes about a millisecond. The matrix is cached per agent and
topped up with rows newer than the ones it holds.

``search`` fuses both (``memgpt.memory.search``) when it is given the query's
vector, and is plain word search otherwise.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select, text

from memgpt.errors import EmbeddingError
from memgpt.memory.search import DEPTH, Hit, HybridParams, hybrid_rank, lexical_terms
from memgpt.schemas import Message
from memgpt.store import tables as t
from memgpt.store.agents import fetch_messages, row_to_message

SEARCHABLE = ("user", "assistant")
_WORD = re.compile(r"\w+", re.UNICODE)


def text_hash(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


@dataclass
class _Matrix:
    """One agent's message vectors in memory: ids, seqs and a (n, dim) float32 matrix."""

    model: str
    ids: list[str]
    seqs: np.ndarray
    vectors: np.ndarray
    count: int
    max_seq: int
    positions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = {mid: i for i, mid in enumerate(self.ids)}


class RecallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, _Matrix] = {}
        self._lock = threading.Lock()

    def count(self, agent_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t.messages)
                               .where(t.messages.c.agent_id == agent_id)) or 0

    # hybrid ---------------------------------------------------------------------
    def search(self, agent_id: str, query: str, *, limit: int = 5, offset: int = 0,
               vector: np.ndarray | None = None, model: str | None = None,
               params: HybridParams | None = None) -> tuple[list[Message], int]:
        """Messages best matching ``query``; returns (page, total ranked).

        With ``vector`` (the query's embedding by ``model``) the ranking fuses
        word and meaning search; without it, it is word search alone. The
        ranking is computed over a fixed candidate depth, so pages are slices of
        one stable order.
        """
        if vector is None or model is None:
            return self.search_text(agent_id, query, limit=limit, offset=offset)
        depth = max(DEPTH, offset + limit)
        lexical, _ = self.search_lexical(agent_id, query, limit=depth, count=False)
        # every similarity is at hand (brute force): score the word matches exactly too
        dense = self.search_dense(agent_id, vector, model, limit=depth, also=[h.id for h in lexical])
        ranked = hybrid_rank(dense, lexical, query, params=params, order=self._positions(agent_id, model),
                             lexical_complete=len(lexical) < depth)
        page = [r.id for r in ranked[offset:offset + limit]]
        return self.messages_by_id(page), len(ranked)

    # words ----------------------------------------------------------------------
    def search_text(self, agent_id: str, query: str, *, limit: int = 5,
                    offset: int = 0) -> tuple[list[Message], int]:
        """Messages matching any word of ``query``, best first; returns (page, total matches)."""
        hits, total = self.search_lexical(agent_id, query, limit=limit, offset=offset)
        return self.messages_by_id([h.id for h in hits]), total

    def search_lexical(self, agent_id: str, query: str, *, limit: int, offset: int = 0,
                       count: bool = True) -> tuple[list[Hit], int]:
        """Full-text matches as hits (higher score is better) and the number of matches.

        Stop words are dropped from the query unless it has nothing else (so
        "the who" still finds the band), and event notices are not searched.
        """
        words = lexical_terms(query)[:32]
        if not words:
            return [], 0
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
                base = ("FROM messages_fts f JOIN messages m ON m.seq = f.rowid "
                        "WHERE messages_fts MATCH :match AND m.agent_id = :agent "
                        "AND coalesce(m.name, '') != 'event'")
                params = {"match": match, "agent": agent_id}
                score = "-bm25(messages_fts)"
            else:
                tsq = " | ".join(w for w in (re.sub(r"[^\w]", "", w) for w in words) if w)
                if not tsq:
                    return [], 0
                base = ("FROM messages m WHERE m.agent_id = :agent "
                        "AND m.content_tsv @@ to_tsquery('english', :tsq) "
                        "AND coalesce(m.name, '') != 'event'")
                params = {"agent": agent_id, "tsq": tsq}
                score = "ts_rank_cd(m.content_tsv, to_tsquery('english', :tsq))"
            total = (conn.scalar(text(f"SELECT count(*) {base}"), params) or 0) if count else -1
            rows = conn.execute(text(f"SELECT m.id, m.search_text, {score} AS score {base} "
                                     "ORDER BY score DESC, m.seq DESC LIMIT :limit OFFSET :offset"),
                                {**params, "limit": limit, "offset": offset})
            return [Hit(r.id, float(r.score), r.search_text or "") for r in rows], int(total)

    # meaning --------------------------------------------------------------------
    def add_vectors(self, agent_id: str, user_id: str, model: str,
                    items: Sequence[tuple[Message, np.ndarray]]) -> int:
        """Store the vectors of embedded messages (replacing older ones); returns how many were stored."""
        if not items:
            return 0
        for m, vec in items:
            if not np.isfinite(np.asarray(vec, dtype=np.float32)).all():
                raise EmbeddingError(f"refusing to store the vector of message {m.id}: its embedding by {model} "
                                     "holds NaN or Inf", "the embedding model is broken for this text; nothing was stored")
        ids = [m.id for m, _ in items]
        with self.engine.begin() as conn:
            seqs = dict(conn.execute(select(t.messages.c.id, t.messages.c.seq)
                                     .where(t.messages.c.id.in_(ids), t.messages.c.agent_id == agent_id)).all())
            rows = []
            for m, vec in items:
                if m.id not in seqs:
                    continue  # not saved (or another agent's): nothing to point at
                v = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
                rows.append({"message_id": m.id, "agent_id": agent_id, "user_id": user_id, "seq": seqs[m.id],
                             "model": model, "dim": int(v.shape[0]), "text_hash": text_hash(_text_of(m)),
                             "vector": v.tobytes()})
            if rows:
                conn.execute(delete(t.message_vectors).where(
                    t.message_vectors.c.message_id.in_([r["message_id"] for r in rows])))
                conn.execute(insert(t.message_vectors), rows)
        with self._lock:
            cached = self._cache.get(agent_id)
            if cached is not None and any(r["seq"] <= cached.max_seq for r in rows):
                del self._cache[agent_id]  # a replaced vector: reload rather than patch
        return len(rows)

    def unindexed(self, agent_id: str, model: str, limit: int = 64) -> list[Message]:
        """Searchable messages of the agent without a current vector by ``model``, newest first."""
        mv = t.message_vectors
        j = t.messages.outerjoin(mv, and_(mv.c.message_id == t.messages.c.id, mv.c.model == model))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.messages).select_from(j).where(
                    t.messages.c.agent_id == agent_id, t.messages.c.role.in_(SEARCHABLE),
                    t.messages.c.search_text.is_not(None), or_(t.messages.c.name.is_(None), t.messages.c.name != "event"),
                    mv.c.message_id.is_(None))
                .order_by(t.messages.c.seq.desc()).limit(limit)).all()
        return [row_to_message(r) for r in rows]

    def search_dense(self, agent_id: str, vector: np.ndarray, model: str, *, limit: int,
                     also: Sequence[str] = ()) -> list[Hit]:
        """The ``limit`` messages nearest to ``vector`` by cosine (vectors are unit length), best first.

        Messages named in ``also`` are appended with their exact similarity when they are not among them.
        """
        mat = self._matrix(agent_id, model)
        if mat is None or not mat.ids:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != mat.vectors.shape[1]:
            return []
        scores = mat.vectors @ q
        k = min(limit, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        # best first; ties by newer message first, like word search
        top = top[np.lexsort((-mat.seqs[top], -scores[top]))]
        hits = [Hit(mat.ids[i], float(scores[i])) for i in top]
        if also:
            have = {h.id for h in hits}
            for mid in also:
                i = mat.positions.get(mid)
                if i is not None and mid not in have:
                    hits.append(Hit(mid, float(scores[i])))
                    have.add(mid)
        return hits

    def _positions(self, agent_id: str, model: str) -> dict[str, int]:
        """Each embedded message's position in the agent's searchable history (for neighbour context)."""
        mat = self._matrix(agent_id, model)
        return {} if mat is None else mat.positions

    def _matrix(self, agent_id: str, model: str) -> _Matrix | None:
        mv = t.message_vectors
        where = (mv.c.agent_id == agent_id, mv.c.model == model)
        with self.engine.connect() as conn:
            n, max_seq = conn.execute(select(func.count(), func.max(mv.c.seq)).where(*where)).one()
            n, max_seq = int(n or 0), int(max_seq or -1)
            with self._lock:
                cached = self._cache.get(agent_id)
            if cached and cached.model == model and cached.count == n and cached.max_seq == max_seq:
                return cached
            if n == 0:
                return None
            grow = cached is not None and cached.model == model and cached.max_seq < max_seq and cached.count < n
            lo = cached.max_seq if grow and cached else -1
            rows = conn.execute(select(mv.c.message_id, mv.c.seq, mv.c.dim, mv.c.vector)
                                .where(*where, mv.c.seq > lo).order_by(mv.c.seq)).all()
        dims = {r.dim for r in rows}
        if len(dims) > 1:
            rows = [r for r in rows if r.dim == rows[-1].dim]  # a changed model dim: keep the newest kind
        ids = [r.message_id for r in rows]
        seqs = np.fromiter((r.seq for r in rows), dtype=np.int64, count=len(rows))
        vecs = (np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4").reshape(len(rows), -1)
                if rows else np.zeros((0, 0), np.float32))
        if grow and cached is not None and cached.count + len(rows) == n and vecs.shape[1] == cached.vectors.shape[1]:
            ids = cached.ids + ids
            seqs = np.concatenate([cached.seqs, seqs])
            vecs = np.vstack([cached.vectors, vecs])
        elif grow:
            return self._reload(agent_id, model)
        mat = _Matrix(model, ids, seqs, np.ascontiguousarray(vecs, dtype=np.float32), len(ids), int(seqs.max()))
        with self._lock:
            self._cache[agent_id] = mat
        return mat

    def _reload(self, agent_id: str, model: str) -> _Matrix | None:
        with self._lock:
            self._cache.pop(agent_id, None)
        return self._matrix(agent_id, model)

    # rows -----------------------------------------------------------------------
    def messages_by_id(self, ids: Sequence[str]) -> list[Message]:
        """Messages by id, in the order of ``ids``."""
        return fetch_messages(self.engine, ids)

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

    def page(self, agent_id: str, *, before: str | None = None, after: str | None = None,
             limit: int = 50) -> tuple[list[Message], bool]:
        """Every message of the agent, oldest first, paged by message id: the newest ``limit`` messages
        before ``before`` (or the oldest after ``after``, or the newest of all); True when more exist."""
        m = t.messages.c
        where = [m.agent_id == agent_id]
        with self.engine.connect() as conn:
            for cursor, op in ((before, "lt"), (after, "gt")):
                if cursor:
                    seq = conn.scalar(select(m.seq).where(m.id == cursor, m.agent_id == agent_id))
                    if seq is None:
                        return [], False
                    where.append(m.seq < seq if op == "lt" else m.seq > seq)
            forward = bool(after) and not before
            order = m.seq.asc() if forward else m.seq.desc()
            rows = conn.execute(select(t.messages).where(*where).order_by(order).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        if not forward:
            rows.reverse()
        return [row_to_message(r) for r in rows], more


def _text_of(m: Message) -> str:
    from memgpt.store.agents import search_text

    return search_text(m) or ""


def _bound(value: date | datetime, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    day = datetime.combine(value, time.min, tzinfo=timezone.utc)
    return day + timedelta(days=1) if end_of_day else day
