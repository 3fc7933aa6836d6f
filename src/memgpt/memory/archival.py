"""Archival memory in Milvus, through pymilvus ``MilvusClient``.

One code path serves Milvus Lite (a local file path) and a Milvus server
(``http(s)://host:port``). Each embedding model gets its own collection, named
after the model and its real dimension, so vectors of different models never
meet and nothing is padded.

Filters are built from templates. Where the server accepts ``filter_params``
(asked of it: ``memgpt.memory.milvus_conn``) the values travel separately;
Milvus Lite and milvus-lite 3.x reject templates, so there the values are
rendered in, and only values that match a strict id pattern are accepted. Values in filters are always ids this program
generated (``user-…``, ``agent-…``, ``source-…``), never names a user typed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from memgpt.errors import DiskFullError, EmbeddingError, StorageError
from memgpt.memory.milvus_conn import (  # noqa: F401 - re-exported: the connection lived here
    CONSISTENCY, MAX_TEXT_BYTES, MilvusConnection, _disk_full, _first_line, is_local_uri, lite_open_error)
from memgpt.memory.search import DEPTH, Hit, HybridParams, hybrid_rank, lexical_terms
from memgpt.memory.words import search_words
from memgpt.schemas import Passage, ScoredPassage

_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="memgpt-milvus")
_OUTPUT = ["text", "user_id", "agent_id", "source_id", "document_id", "created_ms", "metadata"]


@dataclass
class Scope:
    """Which passages a query may see: the user's, of one agent and/or some sources."""

    user_id: str
    agent_id: str | None = None
    source_ids: Sequence[str] = field(default_factory=tuple)


class ArchivalStore(Protocol):
    """What agents and the service need from archival storage (``MilvusArchivalStore`` is the one we ship)."""

    model_id: str
    dim: int

    @property
    def has_words(self) -> bool:
        """Whether this collection's BM25 reads CJK-aware words (see ``MilvusConnection.has_words``)."""
        self.conn.ensure_collection(self.collection, self.dim)
        return self.conn.has_words(self.collection)

    def insert(self, passages: Sequence[Passage]) -> None: ...
    def search_hybrid(self, query: str, vector: np.ndarray, scope: Scope, *, limit: int, offset: int = 0,
                      params: HybridParams | None = None) -> list[ScoredPassage]: ...
    def count(self, scope: Scope) -> int: ...
    def list(self, scope: Scope, *, limit: int, offset: int = 0) -> list[Passage]: ...
    def get(self, ids: Sequence[str]) -> list[Passage]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...
    def delete(self, scope: Scope) -> None: ...
    def delete_ids(self, ids: Sequence[str]) -> None: ...


def collection_name(model_id: str, dim: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model_id).strip("_").lower()
    return f"passages_{slug}_{dim}"[:255]


def _milvus_errors(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a ``MilvusException`` from a store method into a one-line ``StorageError`` naming where."""
    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self: MilvusArchivalStore, *args: Any, **kwargs: Any) -> Any:
            import grpc
            from pymilvus.exceptions import MilvusException

            try:
                return method(self, *args, **kwargs)
            except (MilvusException, grpc.RpcError) as exc:
                trouble = self.conn.trouble(exc)
                if trouble is not None:
                    raise trouble from exc
                if self.conn.local and _disk_full(Path(self.conn.uri)):
                    raise DiskFullError(f"disk full: Milvus {action} on {self.conn.uri} failed",
                                        "free space on that disk and run the command again") from exc
                where = f"collection {self.collection} at {self.conn.uri}"
                fix = (f"if it persists, move {self.conn.uri} aside to start empty (run with --debug for details)"
                       if self.conn.local else "check the Milvus server's health and logs")
                raise StorageError(f"Milvus {action} on {where} failed: {_first_line(exc)}", fix) from exc
        return run
    return wrap


class MilvusArchivalStore:
    """Passages of one embedding model in one Milvus collection."""

    def __init__(self, conn: MilvusConnection, model_id: str, dim: int) -> None:
        self.conn = conn
        self.model_id = model_id
        self.dim = dim
        self.collection = collection_name(model_id, dim)
        self._seen_rows = False  # once rows were seen, BM25 is safe (deleting them all is rare enough to miss)

    @property
    def _client(self) -> Any:
        self.conn.ensure_collection(self.collection, self.dim)
        return self.conn.client

    @property
    def has_words(self) -> bool:
        """Whether this collection's BM25 reads CJK-aware words (see ``MilvusConnection.has_words``)."""
        self.conn.ensure_collection(self.collection, self.dim)
        return self.conn.has_words(self.collection)

    @property
    def has_bm25(self) -> bool:
        """Whether this collection has BM25 full-text search (not on servers without it: dense only)."""
        self.conn.ensure_collection(self.collection, self.dim)
        return self.conn.has_bm25(self.collection)

    def insert(self, passages: Sequence[Passage], *, flush: bool = False) -> None:
        """Write ``passages`` (all or none); ``flush`` also waits until Milvus has persisted them."""
        if not passages:
            return
        words = self.has_words
        rows = [self._row(p, words) for p in passages]
        client = self._client
        try:
            for i in range(0, len(rows), 512):
                # upsert: stable ids make a repeated insert a no-op instead of a duplicate
                batch = rows[i:i + 512]
                if self.conn.caps.upsert:
                    client.upsert(self.collection, batch, **self._write_limits())
                else:  # what upsert does, where the server's own upsert loses rows (see Caps.upsert)
                    client.delete(self.collection, ids=[r["id"] for r in batch], **self._write_limits())
                    client.insert(self.collection, batch, **self._write_limits())
            self._seen_rows = True
            if flush:
                client.flush(self.collection, **self._write_limits())
        except Exception as exc:
            try:
                client.delete(self.collection, ids=[r["id"] for r in rows], **self._write_limits())  # all or none
            except Exception:  # noqa: BLE001 - the write's own error is the one to report
                pass
            raise self._write_error(len(rows), exc) from exc

    def _write_limits(self) -> dict[str, Any]:
        # Milvus Lite answers locally: a failing write (a full disk) is not helped by retrying,
        # so three quick tries; a server gets pymilvus's retries within its timeout (an int: pymilvus
        # ignores a float there).
        if self.conn.local:
            return {"timeout": float(self.conn.timeout), "retry_times": 3}
        return {"timeout": self.conn.timeout}

    def _read(self) -> dict[str, Any]:
        """Keywords of every read: bounded, and seeing this process's own writes (Session consistency)."""
        return {"timeout": self.conn.timeout, "consistency_level": CONSISTENCY}

    def _write_error(self, n: int, exc: Exception) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        trouble = self.conn.trouble(exc)
        if trouble is not None:
            return trouble
        if self.conn.local and _disk_full(Path(self.conn.uri)):
            return DiskFullError(f"disk full: writing {n} passages to {self.conn.uri} failed",
                                 "free space on that disk and run the command again")
        return StorageError(f"writing {n} passages to Milvus failed: {_first_line(exc)}")

    def count_documents(self, user_id: str, document_ids: Sequence[str]) -> int:
        """Rows Milvus holds for these documents (what a load confirms before recording a file)."""
        if not document_ids:
            return 0
        expr = f"user_id == {_literal(user_id)} and document_id in {_literal(list(document_ids))}"
        res = self._client.query(self.collection, filter=expr, output_fields=["count(*)"], **self._read())
        return int(res[0]["count(*)"]) if res else 0

    def delete_documents(self, user_id: str, document_ids: Sequence[str]) -> None:
        if document_ids:
            expr = f"user_id == {_literal(user_id)} and document_id in {_literal(list(document_ids))}"
            self._client.delete(self.collection, filter=expr, timeout=self.conn.timeout)

    def scan_user(self, user_id: str) -> Iterator[dict[str, str]]:
        """Every row of a user (id, agent_id, source_id, document_id), for consistency checks."""
        it = self._client.query_iterator(self.collection, batch_size=4096, timeout=self.conn.timeout,
                                         output_fields=["id", "agent_id", "source_id", "document_id"],
                                         filter=f"user_id == {_literal(user_id)}")
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def _has_rows(self) -> bool:
        """Whether the collection holds any rows: BM25 over an empty one fails (its average length is 0/0)."""
        if not self._seen_rows:
            stats = self._client.get_collection_stats(self.collection, timeout=self.conn.timeout)
            self._seen_rows = int(stats.get("row_count", 0)) > 0
        return self._seen_rows

    def _row(self, p: Passage, words: bool = True) -> dict[str, Any]:
        vec = np.asarray(p.embedding, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise StorageError(f"passage {p.id} has a {vec.shape}-shaped vector, expected ({self.dim},)")
        if not np.isfinite(vec).all():
            raise EmbeddingError(f"refusing to store passage {p.id}: its embedding by {self.model_id} holds NaN or Inf",
                                 "the embedding model is broken for this text; nothing was stored")
        text = _clip(p.text)
        extra = {"words": _clip(search_words(text))} if words else {}
        return {**extra, 
            "id": _checked(p.id), "user_id": _checked(p.user_id), "agent_id": _checked(p.agent_id, empty=True),
            "source_id": _checked(p.source_id, empty=True), "document_id": _checked(p.document_id, empty=True),
            "created_ms": int(p.created_at.timestamp() * 1000), "text": text, "metadata": p.metadata or {},
            "embedding": vec.tolist(),
        }

    @_milvus_errors("search")
    def search(self, vector: np.ndarray, scope: Scope, *, limit: int, offset: int = 0) -> list[ScoredPassage]:
        expr, params = self._filter(scope)
        if expr is None:
            return []
        kwargs = self._filter_kwargs(expr, params)
        hits = self._client.search(
            self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="embedding",
            limit=limit, offset=offset, output_fields=_OUTPUT, search_params=self.conn.search_params(limit + offset),
            **self._read(), **kwargs)
        return [ScoredPassage(_passage(h["id"], h["entity"]), float(h["distance"])) for h in hits[0]]

    @_milvus_errors("full-text search")
    def search_text(self, query: str, scope: Scope, *, limit: int, offset: int = 0,
                    with_vectors: bool = False) -> list[ScoredPassage]:
        """BM25 full-text search over the same passages (Milvus's built-in analyzer).

        ``with_vectors`` also returns each passage's embedding (in ``Passage.embedding``), in the
        same round trip.
        """
        expr, params = self._filter(scope)
        if expr is None or not query.strip() or not self.has_bm25 or not self._has_rows():
            return []
        hits = self._client.search(
            self.collection, data=[query], anns_field="sparse", limit=limit, offset=offset,
            output_fields=[*_OUTPUT, "embedding"] if with_vectors else _OUTPUT,
            search_params={"metric_type": "BM25"}, **self._read(), **self._filter_kwargs(expr, params))
        out = []
        for h in hits[0]:
            passage = _passage(h["id"], h["entity"])
            if with_vectors:
                passage.embedding = np.asarray(h["entity"]["embedding"], dtype=np.float32)
            out.append(ScoredPassage(passage, float(h["distance"])))
        return out

    def search_hybrid(self, query: str, vector: np.ndarray, scope: Scope, *, limit: int, offset: int = 0,
                      params: HybridParams | None = None) -> list[ScoredPassage]:
        """Dense and BM25 search fused (``memgpt.memory.search``); pages are slices of one ranking.

        Both sides are fetched to a fixed depth (``DEPTH``, more for deep pages)
        so page n+1 continues page n. Word matches the dense side did not
        return are scored exactly from their stored vectors before fusing.
        """
        depth = max(DEPTH, 2 * (offset + limit))
        q = np.asarray(vector, dtype=np.float32)
        terms = " ".join(lexical_terms(query, split_cjk=self.has_words)) if self.has_bm25 else ""
        # The two searches are independent round trips: run them side by side.
        words = _POOL.submit(self.search_text, terms, scope, limit=depth, with_vectors=True) if terms else None
        dense = self.search(q, scope, limit=depth)
        lexical = words.result() if words else []
        by_id = {h.passage.id: h.passage for h in [*dense, *lexical]}
        d_hits = [Hit(h.passage.id, h.score) for h in dense]
        have = {h.id for h in d_hits}
        q_norm = float(np.linalg.norm(q)) or 1.0
        for h in lexical:  # word matches the dense side missed: score them exactly from their vectors
            if h.passage.id not in have:
                v = h.passage.embedding
                d_hits.append(Hit(h.passage.id, float(v @ q) / ((float(np.linalg.norm(v)) or 1.0) * q_norm)))
            h.passage.embedding = None
        ranked = hybrid_rank(d_hits, [Hit(h.passage.id, h.score) for h in lexical], query, params=params,
                             lexical_complete=len(lexical) < depth)
        return [ScoredPassage(by_id[r.id], r.score) for r in ranked[offset:offset + limit]]

    @_milvus_errors("count")
    def count(self, scope: Scope) -> int:
        expr, params = self._filter(scope)
        if expr is None:
            return 0
        res = self._client.query(self.collection, output_fields=["count(*)"], **self._read(),
                                 **self._filter_kwargs(expr, params))
        return int(res[0]["count(*)"]) if res else 0

    @_milvus_errors("read")
    def sample_texts(self, scope: Scope, limit: int = 64) -> list[str]:
        """Texts of up to ``limit`` passages in scope (any of them: to tell what language they are in)."""
        expr, params = self._filter(scope)
        if expr is None:
            return []
        rows = self._client.query(self.collection, output_fields=["text"], limit=limit, **self._read(),
                                  **self._filter_kwargs(expr, params))
        return [r["text"] for r in rows]

    @_milvus_errors("read")
    def get(self, ids: Sequence[str]) -> list[Passage]:
        if not ids:
            return []
        rows = self._client.get(self.collection, ids=[_checked(i) for i in ids], output_fields=_OUTPUT,
                                **self._read())
        return [_passage(r["id"], r) for r in rows]

    @_milvus_errors("read")
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored embeddings by passage id (for export)."""
        out: dict[str, list[float]] = {}
        for i in range(0, len(ids), 1000):
            rows = self._client.get(self.collection, ids=[_checked(x) for x in ids[i:i + 1000]],
                                    output_fields=["embedding"], **self._read())
            out.update({r["id"]: [float(x) for x in r["embedding"]] for r in rows})
        return out

    @_milvus_errors("read")
    def list(self, scope: Scope, *, limit: int, offset: int = 0) -> list[Passage]:
        """Passages in the scope, without ranking (for browsing archival memory)."""
        expr, params = self._filter(scope)
        if expr is None:
            return []
        rows = self._client.query(self.collection, output_fields=_OUTPUT, limit=limit, offset=offset,
                                  **self._read(), **self._filter_kwargs(expr, params))
        return [_passage(r["id"], r) for r in rows]

    @_milvus_errors("delete")
    def delete(self, scope: Scope) -> None:
        expr, params = self._filter(scope)
        if expr is not None:
            self._client.delete(self.collection, timeout=self.conn.timeout, **self._filter_kwargs(expr, params))

    @_milvus_errors("delete")
    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._client.delete(self.collection, ids=[_checked(i) for i in ids], timeout=self.conn.timeout)

    # filters ---------------------------------------------------------------
    @staticmethod
    def _filter(scope: Scope) -> tuple[str | None, dict[str, Any]]:
        """A filter template and its values; (None, {}) when the scope can match nothing."""
        params: dict[str, Any] = {"user_id": _checked(scope.user_id)}
        parts = []
        if scope.agent_id:
            params["agent_id"] = _checked(scope.agent_id)
            parts.append("agent_id == {agent_id}")
        if scope.source_ids:
            params["source_ids"] = [_checked(s) for s in scope.source_ids]
            parts.append("source_id in {source_ids}")
        if not parts:
            return None, {}
        return f"user_id == {{user_id}} and ({' or '.join(parts)})", params

    def _filter_kwargs(self, expr: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.conn.templates:
            return {"filter": expr, "filter_params": params}
        return {"filter": expr.format(**{k: _literal(v) for k, v in params.items()})}


def _clip(text: str) -> str:
    """``text`` cut to what a VARCHAR field holds (whole characters)."""
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        return text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
    return text


def is_generated_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id memgpt generates (the only values filters may hold)."""
    return bool(_ID.match(value))


def _checked(value: str, empty: bool = False) -> str:
    if (empty and value == "") or is_generated_id(value):
        return value
    raise ValueError(f"refusing a value that is not a generated id in a Milvus field or filter: {value!r}")


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return f'"{_checked(value)}"'  # ids only: letters, digits, '-' and '_', nothing to escape


def _passage(pid: str, e: dict[str, Any]) -> Passage:
    return Passage(id=pid, user_id=e.get("user_id", ""), text=e.get("text", ""), agent_id=e.get("agent_id", ""),
                   source_id=e.get("source_id", ""), document_id=e.get("document_id", ""),
                   metadata=e.get("metadata") or {},
                   created_at=datetime.fromtimestamp(e.get("created_ms", 0) / 1000, tz=timezone.utc))


