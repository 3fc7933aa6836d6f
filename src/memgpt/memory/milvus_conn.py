"""The connection to Milvus: one client per URI, what the server can do, and bounded failure.

What a server can do is asked of it, once per connection, never read from its
version string (milvus-lite 3.x calls itself ``milvus_lite-3.2.2``):

* BM25 full-text search: a throw-away collection with a sparse field and a BM25
  function is created, described and dropped, never loaded (Milvus 2.3 accepts
  such a schema and then aborts when loading it). The description must echo the
  function back.
* partition keys: the same probe collection carries one.
* filter templates (``filter_params``): one query with a template on the first
  loaded collection.
* index types: the requested dense index is built; with ``auto`` a server that
  refuses HNSW (the Milvus Lite engine served over TCP) gets FLAT.

A dead or unreachable server costs one bounded wait (``SERVER_TIMEOUT_S``, an
int: pymilvus's retry loop ignores a float timeout and retries 75 times, ~210 s)
and one line; the failed connection is then dropped, so a server that comes
back is reached through a new channel instead of one in gRPC's reconnect
back-off (which grows towards two minutes).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memgpt.errors import StorageError, StorageLockedError

LOCAL_TIMEOUT_S = 60  # Milvus Lite in this process: only a full or slow disk makes it slow
# One call to a server, retries included. pymilvus backs off 0.01 s x3 per retry up to 3 s, and checks the
# deadline after each sleep: 9 s ends at ~9.7 s (10 s would end at 12.6 s).
SERVER_TIMEOUT_S = 9
SLOW_TIMEOUT_S = 900  # load_collection and index builds over existing rows (minutes at 1M rows)
EF_MIN = 128  # HNSW search breadth: recall@10 >= 0.95 at 1M agent-filtered passages (bench/scale.py)
CONSISTENCY = "Session"  # an agent sees what it just wrote (Bounded hid new rows for ~0.3 s)
INDEXES = ("AUTO", "FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "DISKANN", "SCANN", "AUTOINDEX")
_SHARED: dict[tuple[str, str | None, str | None], _Shared] = {}
_SHARED_LOCK = threading.Lock()
_CONNECTION_TROUBLE = re.compile(r"UNAVAILABLE|DEADLINE_EXCEEDED|failed to connect|Fail connecting|"
                                 r"Socket closed|Connection reset|connection refused|server unavailable",
                                 re.IGNORECASE)


@dataclass
class Caps:
    """What one server can do, asked of it (see the module docstring)."""

    bm25: bool = True
    partition_key: bool = False
    upsert: bool = True  # an upsert keeps its rows (not into a partition-key collection on Milvus 2.3.5)
    templates: bool = False  # takes filter_params
    index: str | None = None  # the dense index type it accepted
    version: str = ""  # for messages only


class _Shared:
    """One client (and what its server can do) per URI, shared by every connection in the process."""

    def __init__(self) -> None:
        self.client: Any = None
        self.users = 0
        self.caps: Caps | None = None
        self.lock = threading.Lock()


def is_local_uri(uri: str) -> bool:
    return "://" not in uri


def normalise_index(index: str) -> str:
    """``index`` as stored and used ("auto" or an upper-case Milvus index type); ValueError if unknown."""
    value = (index or "auto").strip().upper()
    if value not in INDEXES:
        raise ValueError(f"unknown Milvus index {index!r}: use one of auto, {', '.join(INDEXES[1:])}")
    return "auto" if value == "AUTO" else value


def notice(message: str) -> None:
    """A one-line notice on stderr (once per message per process)."""
    if message not in _NOTICES:
        _NOTICES.add(message)
        print(f"notice: {message}", file=sys.stderr)


_NOTICES: set[str] = set()


class MilvusConnection:
    """One ``MilvusClient`` per URI, opened once (Milvus Lite allows one process per file)."""

    def __init__(self, uri: str, token: str | None = None, db_name: str | None = None,
                 index: str = "auto") -> None:
        self.uri = uri
        self.local = is_local_uri(uri)
        self._token = token
        self._db_name = db_name
        self.index = normalise_index(index)  # what was asked for; ``dense_index`` is what is built
        self.timeout = LOCAL_TIMEOUT_S if self.local else SERVER_TIMEOUT_S
        self._shared: _Shared | None = None
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        self._words: dict[str, bool] = {}  # collection -> has the ``words`` field BM25 reads
        self._bm25: dict[str, bool] = {}  # collection -> has the sparse field and BM25 function

    # the client ---------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._lock:
            if self._shared is None:
                with _SHARED_LOCK:
                    self._shared = _SHARED.setdefault(self._key(), _Shared())
                    self._shared.users += 1
            shared = self._shared
        with shared.lock:
            if shared.client is None:
                client = self._open()
                if shared.caps is None:
                    try:
                        shared.caps = self._probe(client)
                    except BaseException:
                        client.close()
                        raise
                shared.client = client
            return shared.client

    @property
    def caps(self) -> Caps:
        self.client  # noqa: B018 - opens and probes
        assert self._shared is not None and self._shared.caps is not None
        return self._shared.caps

    @property
    def templates(self) -> bool:
        return bool(self.caps.templates)

    def _key(self) -> tuple[str, str | None, str | None]:
        return (str(Path(self.uri).resolve()) if self.local else self.uri, self._token, self._db_name)

    def _open(self) -> Any:
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from pymilvus import MilvusClient

        # After the import: pymilvus configures its loggers when imported. Its errors reach the
        # user as one line each, not as log records.
        names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("pymilvus", "milvus_lite")]
        for name in {"pymilvus", "pymilvus.decorators", "milvus_lite", *names}:  # some set their own level
            logging.getLogger(name).setLevel(logging.CRITICAL)

        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": self.timeout}
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
        return client

    def _open_error(self, exc: Exception | None, locked: bool = False) -> StorageError:
        if self.local:
            return lite_open_error(Path(self.uri), exc, locked=locked)
        detail = _first_line(exc) if exc is not None else "no answer"
        if "Fail connecting" in detail:
            detail = f"no answer within {self.timeout} s"
        return StorageError(
            f"cannot reach Milvus at {self.uri}: {detail}",
            "check the server is running and the URI/token, or use the embedded default: memgpt configure --milvus-uri ~/.memgpt/milvus.db",
        )

    def reset(self) -> None:
        """Drop the shared client after a connection failure: the next call connects afresh."""
        if self.local or self._shared is None:
            return
        with self._shared.lock:
            client, self._shared.client = self._shared.client, None
        self._ready.clear()
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass

    def trouble(self, exc: BaseException) -> StorageError | None:
        """A one-line error when ``exc`` means the server is dead or unreachable (and drop the client)."""
        if self.local or not _CONNECTION_TROUBLE.search(str(exc)):
            return None
        self.reset()
        return StorageError(f"Milvus at {self.uri} did not answer within {self.timeout} s",
                            "check the server is running; memgpt connects again on the next call")

    def close(self) -> None:
        with self._lock:
            shared, self._shared = self._shared, None
        if shared is None:
            return
        with _SHARED_LOCK:
            shared.users -= 1
            last = shared.users <= 0
            if last and _SHARED.get(self._key()) is shared:
                del _SHARED[self._key()]
        self._ready.clear()
        if last:
            with shared.lock:
                client, shared.client = shared.client, None
            if client is not None:
                client.close()

    # what the server can do ---------------------------------------------------------
    def _probe(self, client: Any) -> Caps:
        if self.local:  # the pinned Milvus Lite 2.5 engine: BM25 yes, templates and HNSW no
            return Caps(bm25=True, partition_key=False, templates=False,
                        index="FLAT" if self.index == "auto" else self.index, version="lite")
        try:
            version = str(client.get_server_version(timeout=self.timeout))
        except Exception:  # noqa: BLE001
            version = "unknown"
        caps = Caps(version=version)
        name = f"memgpt_probe_{os.getpid()}_{threading.get_ident() % 100000}"
        caps.bm25 = self._probe_bm25(client, name)
        for with_key in (True, False):
            try:
                self._probe_main(client, name, caps, with_key)
                return caps
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - refused: try without a partition key
                if _CONNECTION_TROUBLE.search(str(exc)):
                    raise self._open_error(exc) from exc
                last = exc
            finally:
                self._drop_quietly(client, name)
        raise StorageError(f"Milvus at {self.uri} (version {version}) refused a plain collection: {_first_line(last)}",
                           "check the server's logs and that this user may create collections")

    def _drop_quietly(self, client: Any, name: str) -> None:
        try:
            client.drop_collection(name, timeout=self.timeout)
        except Exception:  # noqa: BLE001
            pass

    def _kept(self, client: Any, name: str, owners: list[str], write: Callable[[], Any]) -> bool:
        """Whether rows written by ``write`` are found again by a filter on their partition key."""
        write()
        return all(client.query(name, filter=f'owner == "{o}"', output_fields=["id"], limit=1, timeout=self.timeout,
                                consistency_level=CONSISTENCY) for o in owners)

    def _probe_bm25(self, client: Any, name: str) -> bool:
        """A collection with a BM25 function, created, described and dropped; never loaded."""
        from pymilvus import DataType, Function, FunctionType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
        schema.add_field("words", DataType.VARCHAR, max_length=64, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="probe_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        try:
            self._drop_quietly(client, name)
            client.create_collection(name, schema=schema, timeout=self.timeout)
            return _has_bm25(client.describe_collection(name, timeout=self.timeout))
        except Exception as exc:  # noqa: BLE001 - refused: no full-text search here
            if _CONNECTION_TROUBLE.search(str(exc)):
                raise self._open_error(exc) from exc
            return False
        finally:
            self._drop_quietly(client, name)

    def _probe_main(self, client: Any, name: str, caps: Caps, with_key: bool) -> None:
        """A plain collection (partition key, the dense index), loaded and queried with a template."""
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
        schema.add_field("owner", DataType.VARCHAR, max_length=16, is_partition_key=with_key)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
        client.create_collection(name, schema=schema, timeout=self.timeout)
        self._dense_index(name, client=client, caps=caps, field="vec")
        client.load_collection(name, timeout=self.timeout)
        # The Milvus Lite engine takes a partition key and then refuses every filter on it.
        client.query(name, filter='owner == "probe"', output_fields=["id"], limit=1, timeout=float(self.timeout),
                     retry_times=1)
        if with_key:
            # Milvus 2.3.5 files an upserted row by its primary key, where a filter on the partition key
            # never looks: there memgpt deletes and inserts instead (``Caps.upsert``).
            owners = [f"o{i}" for i in range(4)]
            rows = [{"id": f"row-{o}", "owner": o, "vec": [1.0, 0.0]} for o in owners]
            caps.upsert = self._kept(client, name, owners, lambda: client.upsert(name, rows, timeout=self.timeout))
            if not caps.upsert:
                client.delete(name, ids=[r["id"] for r in rows], timeout=self.timeout)
                if not self._kept(client, name, owners, lambda: client.insert(name, rows, timeout=self.timeout)):
                    raise ValueError("rows inserted into a partition-key collection were lost")
        caps.partition_key = with_key
        try:
            # A float timeout and one try: a refusal is an answer, not a reason to retry.
            client.query(name, filter="owner == {probe}", filter_params={"probe": "probe"}, output_fields=["id"],
                         limit=1, timeout=float(self.timeout), retry_times=1)
            caps.templates = True
        except Exception as exc:  # noqa: BLE001 - rejected: values are rendered into filters instead
            if _CONNECTION_TROUBLE.search(str(exc)):
                raise
            caps.templates = False

    # collections --------------------------------------------------------------
    def has_words(self, name: str) -> bool:
        """Whether BM25 reads the CJK-aware ``words`` field (collections made before it read ``text``)."""
        return self._words.get(name, True)

    def has_bm25(self, name: str) -> bool:
        """Whether the collection has the sparse field fed by BM25 (not on servers without full-text search)."""
        return self._bm25.get(name, True)

    def ensure_collection(self, name: str, dim: int) -> None:
        if name in self._ready:
            return
        try:
            self._ensure(name, dim)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; each becomes one line
            trouble = self.trouble(exc)
            if trouble is not None:
                raise trouble from exc
            raise StorageError(f"Milvus collection {name} at {self.uri} could not be opened: {_first_line(exc)}",
                               "check the server's health and logs (run with --debug for details)") from exc

    def _ensure(self, name: str, dim: int) -> None:
        client = self.client
        caps = self.caps
        if client.has_collection(name, timeout=self.timeout):
            desc = client.describe_collection(name, timeout=self.timeout)
            fields = {f.get("name"): f for f in desc.get("fields", [])}
            # A collection from before the words field keeps working as it was built
            # (BM25 over ``text``, CJK runs unsplit); new collections get the field.
            self._words[name] = "words" in fields
            self._bm25[name] = "sparse" in fields
            have = _collection_dim(desc)
            if have is not None and have != dim:
                raise StorageError(
                    f"Milvus collection {name} holds {have}-d vectors but the model gives {dim}-d",
                    "use the embedding model this collection was built with, or delete the sources that use it",
                )
            if self._bm25[name] and not caps.bm25:
                raise StorageError(
                    f"Milvus collection {name} at {self.uri} has a BM25 full-text field that this server "
                    f"(version {caps.version}) cannot load",
                    "use Milvus 2.5 or newer, or drop that collection on the server and load the sources again",
                )
            self._index_missing(name, fields)
        else:
            self._create(name, dim)
        client.load_collection(name, timeout=SLOW_TIMEOUT_S)
        if not self._bm25[name]:
            notice(f"Milvus at {self.uri} (version {caps.version}) has no BM25 full-text search: archival "
                   "search there is by meaning only (words, names and Chinese text match far worse); "
                   "use Milvus 2.5 or newer, or Milvus Lite, for hybrid search")
        self._ready.add(name)

    def _index_missing(self, name: str, fields: dict[str, Any]) -> None:
        """Build the indexes a collection lacks (one left without them by a failed create, for instance)."""
        client = self.client
        dense = not client.list_indexes(name, field_name="embedding", timeout=self.timeout)
        sparse = "sparse" in fields and not client.list_indexes(name, field_name="sparse", timeout=self.timeout)
        if not (dense or sparse):
            return
        try:
            client.release_collection(name, timeout=self.timeout)
        except Exception:  # noqa: BLE001 - not loaded is fine
            pass
        if dense:
            self._dense_index(name, existing=True)
        if sparse:
            self._sparse_index(name)

    def dense_index(self) -> str:
        """The dense index type this connection builds."""
        return self.caps.index or ("FLAT" if self.local else "HNSW")

    def _dense_index(self, name: str, existing: bool = False, *, client: Any = None, caps: Caps | None = None,
                     field: str = "embedding") -> None:
        client = client or self.client
        caps = caps or self.caps
        first = caps.index or ("FLAT" if self.local else "HNSW")
        candidates = [first] if self.index != "auto" else list(dict.fromkeys([first, "HNSW", "FLAT"]))
        last: Exception | None = None
        for kind in candidates:
            params = {"M": 16, "efConstruction": 200} if kind == "HNSW" else (
                {"nlist": 1024} if kind.startswith("IVF") else {})
            index = client.prepare_index_params()
            index.add_index(field, index_type=kind, metric_type="COSINE", params=params)
            try:
                client.create_index(name, index, timeout=SLOW_TIMEOUT_S if existing else self.timeout)
            except Exception as exc:  # noqa: BLE001 - refused: try the next kind (auto) or say so
                if _CONNECTION_TROUBLE.search(str(exc)):
                    raise
                last = exc
                continue
            caps.index = kind
            return
        raise StorageError(f"Milvus at {self.uri} (version {caps.version}) refused a {first} index: "
                           f"{_first_line(last) if last else 'no reason given'}",
                           "pick one it builds: memgpt configure --milvus-index auto (or FLAT)")

    def _sparse_index(self, name: str) -> None:
        client = self.client
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_index(name, index, timeout=self.timeout)

    def _create(self, name: str, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client, caps = self.client, self.caps
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        # Tenants: on a server every search names its user, so the user is the partition key and a
        # search reads only that user's partition (not on Milvus Lite, which keeps its layout).
        schema.add_field("user_id", DataType.VARCHAR, max_length=80, is_partition_key=caps.partition_key)
        for scalar in ("agent_id", "source_id", "document_id"):
            schema.add_field(scalar, DataType.VARCHAR, max_length=80)
        schema.add_field("created_ms", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        if caps.bm25:
            # What BM25 reads: the text with CJK runs as character pairs (memgpt.memory.words), through
            # the standard analyzer, which splits them at the spaces; text without CJK is unchanged.
            schema.add_field("words", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        if caps.bm25:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                         input_field_names=["words"], output_field_names=["sparse"]))
        client.create_collection(name, schema=schema, consistency_level=CONSISTENCY, timeout=self.timeout)
        # Indexes right after, on the empty collection (building them later over rows is slow and can
        # trip gRPC keepalive limits on Lite); one the server refuses leaves no index-less collection.
        try:
            self._dense_index(name)
            if caps.bm25:
                self._sparse_index(name)
        except Exception:
            try:
                client.drop_collection(name, timeout=self.timeout)
            except Exception:  # noqa: BLE001 - the refusal is the error to report
                pass
            raise
        self._words[name] = caps.bm25
        self._bm25[name] = caps.bm25

    def search_params(self, limit: int) -> dict[str, Any]:
        """Dense search parameters: breadth enough for recall@10 >= 0.95 under a tenant filter."""
        kind = self.caps.index or ""
        if kind == "HNSW":
            return {"metric_type": "COSINE", "params": {"ef": max(EF_MIN, limit)}}
        if kind.startswith("IVF"):
            return {"metric_type": "COSINE", "params": {"nprobe": 64}}
        return {"metric_type": "COSINE"}


MAX_TEXT_BYTES = 65_535


def _has_bm25(desc: dict[str, Any]) -> bool:
    """Whether a described collection kept its BM25 function and sparse field.

    Servers that know functions echo them (the Milvus Lite engine only marks the field as a
    function's output); Milvus 2.3 knows neither and drops both.
    """
    from pymilvus import DataType

    sparse = {f.get("name"): f for f in desc.get("fields", [])}.get("sparse", {})
    made = bool(desc.get("functions")) or bool(sparse.get("is_function_output"))
    return made and sparse.get("type") == DataType.SPARSE_FLOAT_VECTOR


def _collection_dim(desc: dict[str, Any]) -> int | None:
    for f in desc.get("fields", []):
        if f.get("name") == "embedding":
            dim = (f.get("params") or {}).get("dim")
            return int(dim) if dim is not None else None
    return None


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
    try:
        st = os.statvfs(path.parent if not path.is_dir() else path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < need


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
