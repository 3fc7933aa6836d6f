"""Archival memory in Milvus, through pymilvus ``MilvusClient``.

One code path serves Milvus Lite (a local file path) and a Milvus server
(``http(s)://host:port``). Each embedding model gets its own collection, named
after the model and its real dimension, so vectors of different models never
meet and nothing is padded.

Filters are built from templates. Where the engine accepts ``filter_params``
(Milvus 2.5+ servers) the values travel separately; Milvus Lite 2.5 rejects
templates, so there the values are rendered in, and only values that match a
strict id pattern are accepted. Values in filters are always ids this program
generated (``user-…``, ``agent-…``, ``source-…``), never names a user typed.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from memgpt.errors import DiskFullError, EmbeddingError, StorageError, StorageLockedError
from memgpt.memory.search import DEPTH, Hit, HybridParams, hybrid_rank, lexical_terms
from memgpt.memory.words import search_words
from memgpt.schemas import Passage, ScoredPassage

# Bounds pymilvus's own retry loop, which only honours a timeout given as an int (a float is
# ignored there and it retries 75 times, minutes against a full disk).
TIMEOUT_S = 60
MAX_TEXT_BYTES = 65_535
_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SHARED: dict[tuple[str, str | None, str | None], list[Any]] = {}  # key -> [client, users, templates]
_SHARED_LOCK = threading.Lock()
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


def is_local_uri(uri: str) -> bool:
    return "://" not in uri


class MilvusConnection:
    """One ``MilvusClient`` per URI, opened once (Milvus Lite allows one process per file)."""

    def __init__(self, uri: str, token: str | None = None, db_name: str | None = None,
                 index: str = "auto") -> None:
        self.uri = uri
        self.local = is_local_uri(uri)
        self._token = token
        self._db_name = db_name
        self.index = ("FLAT" if self.local else "HNSW") if index == "auto" else index.upper()
        self._client: Any = None
        self._lock = threading.Lock()
        self.templates = False
        self._ready: set[str] = set()
        self._words: dict[str, bool] = {}  # collection -> has the ``words`` field BM25 reads

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._shared_open()
            return self._client

    def _key(self) -> tuple[str, str | None, str | None]:
        return (str(Path(self.uri).resolve()) if self.local else self.uri, self._token, self._db_name)

    def _shared_open(self) -> Any:
        """pymilvus shares one connection per URI within a process, and closing any client closes it
        for all; so clients are shared here too, and closed when the last user closes."""
        with _SHARED_LOCK:
            entry = _SHARED.get(self._key())
            if entry is None:
                client = self._open()
                _SHARED[self._key()] = [client, 1, self.templates]
                return client
            entry[1] += 1
            self.templates = entry[2]
            return entry[0]

    def _open(self) -> Any:
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from pymilvus import MilvusClient

        # After the import: pymilvus configures its loggers when imported. Its errors reach the
        # user as one line each, not as log records.
        names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("pymilvus", "milvus_lite")]
        for name in {"pymilvus", "pymilvus.decorators", "milvus_lite", *names}:  # some set their own level
            logging.getLogger(name).setLevel(logging.CRITICAL)

        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": TIMEOUT_S}
        if self.local:
            Path(self.uri).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _lite_file_locked(Path(self.uri)):
                raise self._open_error(None, locked=True)
        else:
            if self._token:
                kwargs["token"] = self._token
            if self._db_name:
                kwargs["db_name"] = self._db_name
        try:
            client = MilvusClient(**kwargs)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; each becomes one line
            raise self._open_error(exc) from exc
        if self.local:
            try:
                Path(self.uri).chmod(0o600)  # archival memory is as private as the conversations
            except OSError:
                pass
        self.templates = not self.local and _supports_templates(client)
        return client

    def _open_error(self, exc: Exception | None, locked: bool = False) -> StorageError:
        if self.local:
            return lite_open_error(Path(self.uri), exc, locked=locked)
        detail = str(getattr(exc, "message", "") or exc).strip().splitlines()
        return StorageError(
            f"cannot reach Milvus at {self.uri}: {detail[0] if detail else type(exc).__name__}",
            "check the server is running and the URI/token, or use the embedded default: memgpt configure --milvus-uri ~/.memgpt/milvus.db",
        )

    def close(self) -> None:
        with self._lock:
            if self._client is None:
                return
            with _SHARED_LOCK:
                entry = _SHARED.get(self._key())
                last = entry is None or entry[1] <= 1
                if entry is not None:
                    entry[1] -= 1
                    if last:
                        del _SHARED[self._key()]
            try:
                if last:
                    self._client.close()
            finally:
                self._client = None
                self._ready.clear()

    def has_words(self, name: str) -> bool:
        """Whether BM25 reads the CJK-aware ``words`` field (collections made before it read ``text``)."""
        return self._words.get(name, True)

    def ensure_collection(self, name: str, dim: int) -> None:
        if name in self._ready:
            return
        client = self.client
        if client.has_collection(name, timeout=TIMEOUT_S):
            desc = client.describe_collection(name, timeout=TIMEOUT_S)
            # A collection from before the words field keeps working as it was built
            # (BM25 over ``text``, CJK runs unsplit); new collections get the field.
            self._words[name] = any(f.get("name") == "words" for f in desc.get("fields", []))
            have = _collection_dim(desc)
            if have is not None and have != dim:
                raise StorageError(
                    f"Milvus collection {name} holds {have}-d vectors but the model gives {dim}-d",
                    "use the embedding model this collection was built with, or delete the sources that use it",
                )
        else:
            self._create(name, dim)
        client.load_collection(name, timeout=TIMEOUT_S)
        self._ready.add(name)

    def _create(self, name: str, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        for scalar in ("user_id", "agent_id", "source_id", "document_id"):
            schema.add_field(scalar, DataType.VARCHAR, max_length=80)
        schema.add_field("created_ms", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        # What BM25 reads: the text with CJK runs as character pairs (memgpt.memory.words), through
        # the standard analyzer, which splits them at the spaces; text without CJK is unchanged.
        schema.add_field("words", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        index = client.prepare_index_params()
        params = {"M": 16, "efConstruction": 200} if self.index == "HNSW" else {}
        index.add_index("embedding", index_type=self.index, metric_type="COSINE", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        # Index params go in with the collection: building an index later over
        # existing rows is slow and can trip gRPC keepalive limits on Lite.
        client.create_collection(name, schema=schema, index_params=index, timeout=TIMEOUT_S)
        self._words[name] = True


def _milvus_errors(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a ``MilvusException`` from a store method into a one-line ``StorageError`` naming where."""
    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self: MilvusArchivalStore, *args: Any, **kwargs: Any) -> Any:
            from pymilvus.exceptions import MilvusException

            try:
                return method(self, *args, **kwargs)
            except MilvusException as exc:
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
                client.upsert(self.collection, rows[i:i + 512], **self._write_limits())
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
        # so three quick tries; a server gets pymilvus's retries within TIMEOUT_S.
        return {"timeout": float(TIMEOUT_S), "retry_times": 3} if self.conn.local else {"timeout": TIMEOUT_S}

    def _write_error(self, n: int, exc: Exception) -> StorageError:
        if self.conn.local and _disk_full(Path(self.conn.uri)):
            return DiskFullError(f"disk full: writing {n} passages to {self.conn.uri} failed",
                                 "free space on that disk and run the command again")
        return StorageError(f"writing {n} passages to Milvus failed: {_first_line(exc)}")

    def count_documents(self, user_id: str, document_ids: Sequence[str]) -> int:
        """Rows Milvus holds for these documents (what a load confirms before recording a file)."""
        if not document_ids:
            return 0
        expr = f"user_id == {_literal(user_id)} and document_id in {_literal(list(document_ids))}"
        res = self._client.query(self.collection, filter=expr, output_fields=["count(*)"], timeout=TIMEOUT_S)
        return int(res[0]["count(*)"]) if res else 0

    def delete_documents(self, user_id: str, document_ids: Sequence[str]) -> None:
        if document_ids:
            expr = f"user_id == {_literal(user_id)} and document_id in {_literal(list(document_ids))}"
            self._client.delete(self.collection, filter=expr, timeout=TIMEOUT_S)

    def scan_user(self, user_id: str) -> Iterator[dict[str, str]]:
        """Every row of a user (id, agent_id, source_id, document_id), for consistency checks."""
        it = self._client.query_iterator(self.collection, batch_size=4096, timeout=TIMEOUT_S,
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
            stats = self._client.get_collection_stats(self.collection, timeout=TIMEOUT_S)
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
            limit=limit, offset=offset, output_fields=_OUTPUT, search_params={"metric_type": "COSINE"},
            timeout=TIMEOUT_S, **kwargs)
        return [ScoredPassage(_passage(h["id"], h["entity"]), float(h["distance"])) for h in hits[0]]

    @_milvus_errors("full-text search")
    def search_text(self, query: str, scope: Scope, *, limit: int, offset: int = 0,
                    with_vectors: bool = False) -> list[ScoredPassage]:
        """BM25 full-text search over the same passages (Milvus's built-in analyzer).

        ``with_vectors`` also returns each passage's embedding (in ``Passage.embedding``), in the
        same round trip.
        """
        expr, params = self._filter(scope)
        if expr is None or not query.strip() or not self._has_rows():
            return []
        hits = self._client.search(
            self.collection, data=[query], anns_field="sparse", limit=limit, offset=offset,
            output_fields=[*_OUTPUT, "embedding"] if with_vectors else _OUTPUT,
            search_params={"metric_type": "BM25"}, timeout=TIMEOUT_S, **self._filter_kwargs(expr, params))
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
        terms = " ".join(lexical_terms(query, split_cjk=self.has_words))
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
        res = self._client.query(self.collection, output_fields=["count(*)"], timeout=TIMEOUT_S,
                                 **self._filter_kwargs(expr, params))
        return int(res[0]["count(*)"]) if res else 0

    @_milvus_errors("read")
    def sample_texts(self, scope: Scope, limit: int = 64) -> list[str]:
        """Texts of up to ``limit`` passages in scope (any of them: to tell what language they are in)."""
        expr, params = self._filter(scope)
        if expr is None:
            return []
        rows = self._client.query(self.collection, output_fields=["text"], limit=limit, timeout=TIMEOUT_S,
                                  **self._filter_kwargs(expr, params))
        return [r["text"] for r in rows]

    @_milvus_errors("read")
    def get(self, ids: Sequence[str]) -> list[Passage]:
        if not ids:
            return []
        rows = self._client.get(self.collection, ids=[_checked(i) for i in ids], output_fields=_OUTPUT,
                                timeout=TIMEOUT_S)
        return [_passage(r["id"], r) for r in rows]

    @_milvus_errors("read")
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored embeddings by passage id (for export)."""
        out: dict[str, list[float]] = {}
        for i in range(0, len(ids), 1000):
            rows = self._client.get(self.collection, ids=[_checked(x) for x in ids[i:i + 1000]],
                                    output_fields=["embedding"], timeout=TIMEOUT_S)
            out.update({r["id"]: [float(x) for x in r["embedding"]] for r in rows})
        return out

    @_milvus_errors("read")
    def list(self, scope: Scope, *, limit: int, offset: int = 0) -> list[Passage]:
        """Passages in the scope, without ranking (for browsing archival memory)."""
        expr, params = self._filter(scope)
        if expr is None:
            return []
        rows = self._client.query(self.collection, output_fields=_OUTPUT, limit=limit, offset=offset,
                                  timeout=TIMEOUT_S, **self._filter_kwargs(expr, params))
        return [_passage(r["id"], r) for r in rows]

    @_milvus_errors("delete")
    def delete(self, scope: Scope) -> None:
        expr, params = self._filter(scope)
        if expr is not None:
            self._client.delete(self.collection, timeout=TIMEOUT_S, **self._filter_kwargs(expr, params))

    @_milvus_errors("delete")
    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._client.delete(self.collection, ids=[_checked(i) for i in ids], timeout=TIMEOUT_S)

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


def _collection_dim(desc: dict[str, Any]) -> int | None:
    for f in desc.get("fields", []):
        if f.get("name") == "embedding":
            dim = (f.get("params") or {}).get("dim")
            return int(dim) if dim is not None else None
    return None


def _supports_templates(client: Any) -> bool:
    """Milvus servers accept filter templates from 2.5 on."""
    try:
        version = str(client.get_server_version(timeout=10))
    except Exception:  # noqa: BLE001
        return False
    m = re.search(r"(\d+)\.(\d+)", version)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (2, 5)


def lite_open_error(path: Path, exc: Exception | None, *, locked: bool = False,
                    wait_s: float = 2.0) -> StorageError:
    """Why a Milvus Lite file did not open, claiming damage only when a check proves it.

    Two processes starting at once can each see the other's half-made lock and fail inside
    milvus-lite with a generic error; telling them to move a healthy archive aside would be the
    worst advice. So: a lock held now (or within ``wait_s``) means "in use"; a file that is not
    SQLite (Milvus Lite's format) is "not a Milvus Lite database"; one that fails SQLite's own
    integrity check is "damaged"; anything else is reported as it is, with the file called intact.
    """
    import sqlite3
    import time

    in_use = StorageLockedError(
        f"Milvus Lite file {path} is in use by another process (Milvus Lite allows one process per file)",
        "close the other memgpt process, or use a Milvus server: memgpt configure --milvus-uri http://HOST:19530",
    )
    deadline = time.monotonic() + wait_s
    while True:
        if locked or _lite_file_locked(path):
            return in_use
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    aside = "move it aside to start empty, or point elsewhere: memgpt configure --milvus-uri PATH"
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except FileNotFoundError:
        header = None
    except OSError as exc2:
        return StorageError(f"cannot read Milvus Lite file {path}: {exc2.strerror or exc2}", "check its permissions")
    if header is not None and header and header != b"SQLite format 3\x00":
        return StorageError(f"cannot open Milvus Lite file {path}: not a Milvus Lite database", aside)
    if header:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc2:
            verdict = str(exc2)
        if verdict != "ok":
            return StorageError(f"cannot open Milvus Lite file {path}: damaged ({verdict})", aside)
    why = _first_line(exc) if exc is not None else "the engine did not start"
    return StorageError(f"cannot open Milvus Lite file {path}: {why} (the file itself is intact)",
                        "if another memgpt process was starting, run the command again")


def _lite_file_locked(path: Path) -> bool:
    """Whether another process holds Milvus Lite's lock on ``path``.

    Asked before opening, because when milvus-lite fails to take the lock it
    also deletes the lock file of the process that holds it. Skipped for files
    this process already serves: closing any descriptor of a POSIX-locked file
    drops the whole process's lock.
    """
    import fcntl

    from milvus_lite.server_manager import server_manager_instance

    if str(path.absolute().resolve()) in server_manager_instance._servers:
        return False
    lock = path.parent / f".{path.name}.lock"
    if not lock.exists():
        return False
    with open(lock, "a") as fh:
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fh, fcntl.LOCK_UN)
    return False


def _disk_full(path: Path, need: int = 1 << 20) -> bool:
    """Whether the file system holding ``path`` has (almost) no room left for writes."""
    import os

    try:
        st = os.statvfs(path.parent if not path.is_dir() else path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < need


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
