"""Recall memory: every message an agent has handled, searchable by words, meaning and date.

Word search is ranked full-text search (SQLite FTS5 with BM25; PostgreSQL
``ts_rank_cd`` over a generated ``tsvector``), not substring matching. The
user's query is reduced to word tokens before it reaches either engine, so
nothing they type can change the query's syntax.

Meaning search compares the query's embedding with the stored vectors of the
agent's searchable messages (``message_vectors``) by brute force in numpy,
over the agent's newest ``WINDOW`` (10k) vectors: a 10k x 384 float32 matrix
product takes about a millisecond. The window is cached per process (at most
``CACHE_ROWS`` vectors over all agents) and brought up to date by one indexed
read per search: ``agents.vector_rev`` counts the writes of the agent's
vectors and each vector row carries the revision that wrote it, so vectors
written by any process since are read and appended (a rewritten one reloads
the window).

What a bounded search gives up, for steps that cost the same at 1k or 100k
messages: a message older than the newest 10k embedded ones is found through
its words only (when it is among the word candidates, its meaning then counts
exactly); a query word with more than its share of ``WORD_DEPTH`` matches is
seen in its newest matches only (rare words reach back through the whole
history). See ``search_lexical`` and ``search_dense``.

``search`` fuses both (``memgpt.memory.search``) when it is given the query's
vector, and is plain word search otherwise.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select, text, update

from memgpt.errors import EmbeddingError
from memgpt.memory.search import DEPTH, Hit, HybridParams, hybrid_rank, lexical_terms
from memgpt.schemas import Message
from memgpt.store import tables as t
from memgpt.store.agents import fetch_messages, row_to_message

SEARCHABLE = ("user", "assistant")
_WORD = re.compile(r"\w+", re.UNICODE)


def text_hash(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


WORD_DEPTH = 500  # candidates word search takes over all the query's words (each its newest matches)...
WORD_DEPTH_MIN = 100  # ...but at least this many per word
WINDOW = 10_000  # newest vectors of an agent that meaning search scans (and a process caches)
CACHE_ROWS = 50_000  # vectors a process caches over all agents (about 75 MB at 384-d), least recently used go first
SLACK = 1_024  # rows appended in place before a window is compacted into a new buffer


@dataclass
class _Matrix:
    """A snapshot of one agent's newest vectors: rows ``start:end`` of a shared buffer, oldest first.

    Later steps append rows past ``end`` (never inside a snapshot), so a search holding this snapshot
    reads stable data without a lock. ``positions`` maps ids to buffer rows, which are also the
    messages' positions in the searchable history (consecutive rows are consecutive messages).
    """

    model: str
    rev: int
    ids: list[str]
    seqs: np.ndarray
    buf: np.ndarray
    start: int
    end: int
    positions: dict[str, int]

    @property
    def vectors(self) -> np.ndarray:
        return self.buf[self.start:self.end]

    @property
    def max_seq(self) -> int:
        return int(self.seqs[self.end - 1]) if self.end > self.start else -1

    def row(self, mid: str) -> int | None:
        i = self.positions.get(mid)
        return i if i is not None and self.start <= i < self.end else None


class RecallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: OrderedDict[str, _Matrix] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, agent_id: str) -> int:
        """How many messages the agent's recall memory holds (a counter kept with every insert)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(t.agents.c.message_count).where(t.agents.c.id == agent_id)) or 0

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
        mat = self._matrix(agent_id, model)
        # the word matches are scored exactly on the dense side too (from the window or their stored vectors)
        dense = self._dense(mat, agent_id, vector, model, depth, [h.id for h in lexical])
        order = {} if mat is None else {h.id: mat.positions[h.id] for h in (*dense, *lexical)
                                        if mat.row(h.id) is not None}
        ranked = hybrid_rank(dense, lexical, query, params=params, order=order,
                             lexical_complete=len(lexical) < depth)
        page = [r.id for r in ranked[offset:offset + limit]]
        return self.messages_by_id(page), len(ranked)

    # words ----------------------------------------------------------------------
    def search_text(self, agent_id: str, query: str, *, limit: int = 5,
                    offset: int = 0) -> tuple[list[Message], int]:
        """Messages matching any word of ``query``, best first; returns (page, number of word candidates)."""
        hits, total = self.search_lexical(agent_id, query, limit=limit, offset=offset)
        return self.messages_by_id([h.id for h in hits]), total

    def search_lexical(self, agent_id: str, query: str, *, limit: int, offset: int = 0,
                       count: bool = True) -> tuple[list[Hit], int]:
        """Full-text matches as hits (higher score is better) and how many candidates matched.

        Stop words are dropped from the query unless it has nothing else (so
        "the who" still finds the band), and event notices are not searched.

        The cost does not grow with the history: each query word contributes
        its newest ``WORD_DEPTH`` matching messages (fewer with many words) as
        candidates, so a rare word (a name, an order number) is found however
        old its message, while a word with more matches than that is seen only
        in its newest ones, and an older message that holds it is found through
        its other words (or by meaning) only. The count is the number of those
        candidates: exact when every word has fewer matches than its depth.
        A candidate's score is the sum of its words' scores (BM25 on SQLite,
        which is what FTS5 computes for the whole query; ``ts_rank_cd`` on
        PostgreSQL), each word counted where its candidates reach.
        ``count`` is kept for callers; counting costs nothing more now.
        """
        words = lexical_terms(query)[:32]
        if not words:
            return [], 0
        per = max(WORD_DEPTH_MIN, WORD_DEPTH // len(words), offset + limit)
        with self.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                words = [w for w in (re.sub(r"[^\w]", "", w) for w in words) if w]
                if not words:
                    return [], 0
            scored = self._word_candidates(conn, agent_id, words, per)
            ranked = sorted(scored.items(), key=lambda kv: (-kv[1], -kv[0]))
            page = ranked[offset:offset + limit]
            m = t.messages.c
            rows = {r.seq: r for r in conn.execute(select(m.seq, m.id, m.search_text)
                                                   .where(m.seq.in_([s for s, _ in page])))} if page else {}
        return [Hit(rows[s].id, float(score), rows[s].search_text or "") for s, score in page if s in rows], len(ranked)

    @staticmethod
    def _word_candidates(conn, agent_id: str, words: list[str], per: int) -> dict[int, float]:  # noqa: ANN001
        """seq -> the summed scores of its words, over each word's newest ``per`` matches.

        SQLite: FTS5 walks a word's matches newest first and stops at the limit, and BM25 of an OR
        query is the sum of its words' terms. PostgreSQL: ``ts_rank_cd`` per word; the planner walks
        the agent's messages newest first for a common word and reads a rare word's GIN entries.
        """
        sqlite = conn.dialect.name == "sqlite"
        parts, params = [], {"agent": agent_id, "per": per}
        for i, w in enumerate(words):
            if sqlite:
                params[f"w{i}"] = '"' + w.replace('"', "") + '"'
                parts.append("SELECT * FROM (SELECT f.rowid AS seq, -bm25(messages_fts) AS score "
                             "FROM messages_fts f JOIN messages m ON m.seq = f.rowid "
                             f"WHERE messages_fts MATCH :w{i} AND m.agent_id = :agent "
                             "AND coalesce(m.name, '') != 'event' ORDER BY f.rowid DESC LIMIT :per)")
            else:
                params[f"w{i}"] = w
                parts.append(f"(SELECT seq, ts_rank_cd(content_tsv, to_tsquery('english', :w{i})) AS score "
                             f"FROM messages WHERE agent_id = :agent AND content_tsv @@ to_tsquery('english', :w{i}) "
                             "AND coalesce(name, '') != 'event' ORDER BY seq DESC LIMIT :per)")
        scored: dict[int, float] = {}
        for seq, score in conn.execute(text(" UNION ALL ".join(parts)), params):
            scored[seq] = scored.get(seq, 0.0) + float(score)
        return scored

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
            # first the agent's row (its lock orders concurrent writers, so revisions commit in order)
            rev = conn.scalar(update(t.agents).where(t.agents.c.id == agent_id)
                              .values(vector_rev=t.agents.c.vector_rev + 1).returning(t.agents.c.vector_rev))
            if rev is None:
                return 0  # no such agent: none of its messages are saved
            seqs = dict(conn.execute(select(t.messages.c.id, t.messages.c.seq)
                                     .where(t.messages.c.id.in_(ids), t.messages.c.agent_id == agent_id)).all())
            rows = []
            for m, vec in items:
                if m.id not in seqs:
                    continue  # not saved (or another agent's): nothing to point at
                v = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
                rows.append({"message_id": m.id, "agent_id": agent_id, "user_id": user_id, "seq": seqs[m.id],
                             "model": model, "dim": int(v.shape[0]), "text_hash": text_hash(_text_of(m)),
                             "vector": v.tobytes(), "rev": rev})
            if rows:
                conn.execute(delete(t.message_vectors).where(
                    t.message_vectors.c.message_id.in_([r["message_id"] for r in rows])))
                conn.execute(insert(t.message_vectors), rows)
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

        Only the agent's newest ``WINDOW`` embedded messages are scanned: an older message is found
        by meaning only when it is named in ``also`` (the word matches), which are appended with
        their exact similarity when they are not among the nearest.
        """
        return self._dense(self._matrix(agent_id, model), agent_id, vector, model, limit, also)

    def _dense(self, mat: _Matrix | None, agent_id: str, vector: np.ndarray, model: str, limit: int,
               also: Sequence[str]) -> list[Hit]:
        if mat is None or mat.end <= mat.start:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != mat.buf.shape[1]:
            return []
        # einsum, not ``@``: BLAS splits a matrix-vector product over threads, which on a busy
        # machine made it several times slower (4.5 ms against 1.5 ms for 10k x 384, measured)
        scores = np.einsum("ij,j->i", mat.vectors, q)
        seqs = mat.seqs[mat.start:mat.end]
        k = min(limit, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        # best first; ties by newer message first, like word search
        top = top[np.lexsort((-seqs[top], -scores[top]))]
        hits = [Hit(mat.ids[mat.start + i], float(scores[i])) for i in top]
        have = {h.id for h in hits}
        older = []
        for mid in also:
            if mid in have:
                continue
            i = mat.row(mid)
            if i is None:
                older.append(mid)
            else:
                hits.append(Hit(mid, float(scores[i - mat.start])))
            have.add(mid)
        if older:  # word matches older than the window: their stored vectors, scored exactly
            mv = t.message_vectors
            with self.engine.connect() as conn:
                rows = conn.execute(select(mv.c.message_id, mv.c.agent_id, mv.c.model, mv.c.dim, mv.c.vector)
                                    .where(mv.c.message_id.in_(older))).all()  # by key alone: the planner
            found = {r.message_id: r for r in rows  # would otherwise walk the agent's index
                     if r.agent_id == agent_id and r.model == model and r.dim == q.shape[0]}
            for mid in older:
                if mid in found:
                    hits.append(Hit(mid, float(np.frombuffer(found[mid].vector, dtype="<f4") @ q)))
        return hits

    def _matrix(self, agent_id: str, model: str) -> _Matrix | None:
        """The agent's newest ``WINDOW`` vectors by ``model``: cached, brought up to date by one
        indexed read of ``agents.vector_rev`` (and of the vectors written since, when it moved)."""
        mv = t.message_vectors
        with self.engine.connect() as conn:
            rev = conn.scalar(select(t.agents.c.vector_rev).where(t.agents.c.id == agent_id))
            if rev is None:
                return None
            with self._lock:
                cached = self._cache.get(agent_id)
                if cached is not None:
                    self._cache.move_to_end(agent_id)
            if cached is not None and cached.model == model and cached.rev >= rev:
                return cached
            # the vectors and the revision they add up to, read in one statement (one snapshot)
            agent_rev = select(t.agents.c.vector_rev).where(t.agents.c.id == agent_id).scalar_subquery()
            cols = (mv.c.message_id, mv.c.seq, mv.c.dim, mv.c.vector, agent_rev.label("agent_rev"))
            where = (mv.c.agent_id == agent_id, mv.c.model == model)
            if cached is not None and cached.model == model:
                rows = conn.execute(select(*cols).where(*where, mv.c.rev > cached.rev)
                                    .order_by(mv.c.seq).limit(SLACK + 1)).all()
                mat = self._append(agent_id, cached, rows, rev)
                if mat is not None:
                    return mat
            rows = conn.execute(select(*cols).where(*where).order_by(mv.c.seq.desc()).limit(WINDOW)).all()
        return self._load(agent_id, model, rows[::-1])

    def _append(self, agent_id: str, cached: _Matrix, rows: Sequence, rev: int) -> _Matrix | None:
        """``cached`` with the vectors written since (None: they are not all new, newer messages: reload)."""
        if len(rows) > SLACK:
            return None
        full = cached.end - cached.start >= WINDOW
        low = int(cached.seqs[cached.start]) if cached.end > cached.start else -1
        new = []
        for r in rows:
            if r.seq > cached.max_seq and r.message_id not in cached.positions and r.dim == cached.buf.shape[1]:
                new.append(r)
            elif not (full and r.seq < low):  # a vector older than a full window is not scanned anyway
                return None
        with self._lock:
            if self._cache.get(agent_id) is not cached:  # another thread moved it meanwhile
                return None
            got = max([rev, *(r.agent_rev for r in rows)])
            if not new:
                mat = replace(cached, rev=got)
            elif cached.end + len(new) <= cached.buf.shape[0]:
                end = cached.end + len(new)
                cached.buf[cached.end:end] = _stack(new, cached.buf.shape[1])
                cached.seqs[cached.end:end] = [r.seq for r in new]
                for i, r in enumerate(new):
                    cached.ids.append(r.message_id)
                    cached.positions[r.message_id] = cached.end + i
                mat = replace(cached, rev=got, start=max(cached.start, end - WINDOW), end=end)
            else:  # no room: copy the newest rows into a new buffer (snapshots keep the old one)
                keep = min(cached.end - cached.start, WINDOW - len(new))
                lo = cached.end - keep
                mat = _build(cached.model, got, cached.ids[lo:cached.end] + [r.message_id for r in new],
                             np.concatenate([cached.seqs[lo:cached.end], [r.seq for r in new]]),
                             np.vstack([cached.buf[lo:cached.end], _stack(new, cached.buf.shape[1])]))
            self._put(agent_id, mat)
        return mat

    def _load(self, agent_id: str, model: str, rows: Sequence) -> _Matrix | None:
        if rows and len({r.dim for r in rows}) > 1:
            rows = [r for r in rows if r.dim == rows[-1].dim]  # a changed model dim: keep the newest kind
        with self._lock:
            self._cache.pop(agent_id, None)
            if not rows:
                return None
            mat = _build(model, int(rows[0].agent_rev), [r.message_id for r in rows],
                         np.fromiter((r.seq for r in rows), dtype=np.int64, count=len(rows)),
                         _stack(rows, rows[0].dim))
            self._put(agent_id, mat)
        return mat

    def _put(self, agent_id: str, mat: _Matrix) -> None:
        """Cache ``mat`` (the caller holds the lock), dropping the least recently used past ``CACHE_ROWS``."""
        self._cache[agent_id] = mat
        self._cache.move_to_end(agent_id)
        while len(self._cache) > 1 and sum(m.buf.shape[0] for m in self._cache.values()) > CACHE_ROWS:
            self._cache.popitem(last=False)

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


def _stack(rows: Sequence, dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4").reshape(len(rows), dim)


def _build(model: str, rev: int, ids: list[str], seqs: np.ndarray, vectors: np.ndarray) -> _Matrix:
    """A new buffer holding ``vectors`` (oldest first) with room for ``SLACK`` more rows."""
    n, dim = vectors.shape
    buf = np.empty((n + SLACK, dim), dtype=np.float32)
    buf[:n] = vectors
    seqbuf = np.zeros(n + SLACK, dtype=np.int64)
    seqbuf[:n] = seqs
    return _Matrix(model, rev, list(ids), seqbuf, buf, 0, n, {mid: i for i, mid in enumerate(ids)})


def _text_of(m: Message) -> str:
    from memgpt.store.agents import search_text

    return search_text(m) or ""


def _bound(value: date | datetime, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    day = datetime.combine(value, time.min, tzinfo=timezone.utc)
    return day + timedelta(days=1) if end_of_day else day
