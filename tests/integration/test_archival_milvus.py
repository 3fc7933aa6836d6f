"""Archival store against real Milvus Lite files (and the same engine served over gRPC/TCP)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memgpt.errors import StorageError, StorageLockedError
from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope, collection_name
from memgpt.schemas import Passage, new_id, stable_id

DIM = 16


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _passages(user: str, n: int, *, source: str = "", agent: str = "", seed0: int = 0,
              user_is_first: bool = True) -> list[Passage]:
    owner = source or agent
    return [Passage(id=stable_id("passage", owner, str(i)) if user_is_first else stable_id("passage", user, owner, str(i)), user_id=user, text=f"passage {i} of {owner}",
                    embedding=_vec(seed0 + i), source_id=source, agent_id=agent, metadata={"chunk_index": i})
            for i in range(n)]


@pytest.fixture
def conn(tmp_path: Path):
    c = MilvusConnection(str(tmp_path / "milvus.db"))
    yield c
    c.close()


def test_insert_search_count_and_scope(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    user, other = new_id("user"), new_id("user")
    src, agent = new_id("source"), new_id("agent")
    store.insert(_passages(user, 20, source=src))
    store.insert(_passages(user, 5, agent=agent, seed0=100))
    store.insert(_passages(other, 7, source=src, seed0=200, user_is_first=False))  # same source id, other user: must stay invisible
    assert store.count(Scope(user, source_ids=[src])) == 20
    assert store.count(Scope(user, agent_id=agent)) == 5
    assert store.count(Scope(user, agent_id=agent, source_ids=[src])) == 25
    assert store.count(Scope(user)) == 0  # no agent, no source: nothing

    hits = store.search(_vec(3), Scope(user, source_ids=[src]), limit=5)
    assert hits[0].passage.id == stable_id("passage", src, "3")
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(h.passage.user_id == user and h.passage.source_id == src for h in hits)
    assert hits[0].passage.created_at.year >= 2026

    page2 = store.search(_vec(3), Scope(user, source_ids=[src]), limit=5, offset=5)
    assert not {h.passage.id for h in hits} & {h.passage.id for h in page2}

    text_hits = store.search_text("passage 7", Scope(user, source_ids=[src]), limit=3)
    assert text_hits and text_hits[0].passage.text.startswith("passage 7 ")


def test_reinsert_is_idempotent_and_delete_scopes(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    user, src = new_id("user"), new_id("source")
    store.insert(_passages(user, 10, source=src))
    store.insert(_passages(user, 10, source=src))
    assert store.count(Scope(user, source_ids=[src])) == 10
    store.delete_ids([stable_id("passage", src, "0")])
    assert store.count(Scope(user, source_ids=[src])) == 9
    store.delete(Scope(user, source_ids=[src]))
    assert store.count(Scope(user, source_ids=[src])) == 0


def test_hostile_values_never_reach_a_filter(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    user, src = new_id("user"), new_id("source")
    store.insert(_passages(user, 3, source=src))
    for bad in ['x" or user_id != "', "a' or 1==1", 'src"]) or (true']:
        with pytest.raises(ValueError, match="not a generated id"):
            store.search(_vec(0), Scope(user, source_ids=[bad]), limit=3)
        with pytest.raises(ValueError, match="not a generated id"):
            store.count(Scope(bad, agent_id="agent-1"))


def test_dimension_mismatch_is_refused(conn: MilvusConnection) -> None:
    MilvusArchivalStore(conn, "test/model", DIM).insert(_passages(new_id("user"), 1, source=new_id("source")))
    # Same collection name, different dimension: only possible by hand, but refuse it clearly.
    name = collection_name("test/model", DIM)
    conn._ready.discard(name)
    with pytest.raises(StorageError, match="16-d vectors but the model gives 32-d"):
        conn.ensure_collection(name, 32)
    assert collection_name("other/model", 32) != name


def test_second_process_gets_one_clear_line(conn: MilvusConnection, tmp_path: Path) -> None:
    MilvusArchivalStore(conn, "test/model", DIM).count(Scope(new_id("user"), agent_id=new_id("agent")))
    code = textwrap.dedent(f"""
        from memgpt.memory.archival import MilvusConnection
        from memgpt.errors import StorageLockedError
        try:
            MilvusConnection({str(tmp_path / "milvus.db")!r}).client
        except StorageLockedError as exc:
            print("LOCKED:", exc.one_line())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOCKED:" in out.stdout, out.stderr
    assert "milvus.db is in use by another process" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"this is not a milvus lite database" * 100)
    conn = MilvusConnection(str(bad))
    with pytest.raises(StorageError) as err:
        MilvusArchivalStore(conn, "test/model", DIM).count(Scope(new_id("user"), agent_id=new_id("agent")))
    assert "broken.db" in err.value.one_line()
    assert not isinstance(err.value, StorageLockedError)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_path_over_grpc(tmp_path: Path) -> None:
    """The http:// code path, against the Milvus Lite engine serving gRPC on a local port."""
    from milvus_lite.server import Server

    port = _free_port()
    server = Server(str(tmp_path / "served.db"), f"127.0.0.1:{port}")
    assert server.start()
    try:
        conn = MilvusConnection(f"http://127.0.0.1:{port}")  # index auto: the engine refuses HNSW, so FLAT
        store = MilvusArchivalStore(conn, "test/model", DIM)
        user, src = new_id("user"), new_id("source")
        store.insert(_passages(user, 12, source=src))
        assert store.count(Scope(user, source_ids=[src])) == 12
        assert store.search(_vec(4), Scope(user, source_ids=[src]), limit=1)[0].passage.id == stable_id(
            "passage", src, "4")
        assert conn.dense_index() == "FLAT"
        conn.close()
    finally:
        server.stop()


def test_unreachable_server_is_one_line() -> None:
    conn = MilvusConnection(f"http://127.0.0.1:{_free_port()}")
    conn.timeout = 2
    with pytest.raises(StorageError, match=r"cannot reach Milvus at http://127\.0\.0\.1"):
        conn.client


def test_two_connections_to_one_file_in_one_process(tmp_path: Path) -> None:
    """Closing one user of a Milvus Lite file must not break another in the same process."""
    path = str(tmp_path / "shared.db")
    a, b = MilvusConnection(path), MilvusConnection(path)
    user, src = new_id("user"), new_id("source")
    MilvusArchivalStore(a, "test/model", DIM).insert(_passages(user, 4, source=src))
    store_b = MilvusArchivalStore(b, "test/model", DIM)
    assert store_b.count(Scope(user, source_ids=[src])) == 4
    a.close()
    assert store_b.count(Scope(user, source_ids=[src])) == 4
    b.close()
    c = MilvusConnection(path)  # reopens after the last close
    assert MilvusArchivalStore(c, "test/model", DIM).count(Scope(user, source_ids=[src])) == 4
    c.close()


def test_searching_an_empty_collection_finds_nothing(conn: MilvusConnection) -> None:
    """BM25 over a collection with no rows makes Milvus fail (0/0 average length): an empty memory is normal."""
    store = MilvusArchivalStore(conn, "test/model", DIM)
    scope = Scope(new_id("user"), agent_id=new_id("agent"))
    assert store.search_text("anything at all", scope, limit=5) == []
    assert store.search_hybrid("anything at all", _vec(1), scope, limit=5) == []
    store.insert(_passages(scope.user_id, 3, agent=scope.agent_id))
    fresh = MilvusArchivalStore(conn, "test/model", DIM)  # a new store sees the rows another one wrote
    assert [h.passage.text for h in fresh.search_text("passage 1", scope, limit=1)] == [f"passage 1 of {scope.agent_id}"]


def test_a_milvus_failure_is_one_storage_error_naming_collection_and_file(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    with pytest.raises(StorageError) as err:
        store.search(np.ones(DIM + 3, dtype=np.float32), Scope(new_id("user"), agent_id=new_id("agent")), limit=3)
    line = err.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"Milvus search on collection {store.collection} at {conn.uri} failed: ")
    assert "dimension" in line and f"move {conn.uri} aside" in line
