"""The README's flow and archival memory against real Milvus servers, each on 127.0.0.1, started and stopped here.

* the Milvus Lite 2.5 engine served on TCP (BM25 yes, HNSW no, filter templates no);
* milvus-lite 3.x ``milvus-lite server`` (its own venv, built once from PyPI; BM25 and HNSW yes, templates no);
* the Milvus 2.3 standalone (PyPI ``milvus``; no BM25, and an upsert into a partition-key collection is
  lost): only with MEMGPT_TEST_SERVER=1 (``make test-server``), as it takes 10-16 s to start and needs
  ``unshare`` to keep it off the network.

Also: a server killed mid-session is reported in one line within ~10 s (exit 5), an unreachable one
too, and a server back on the same port is used again at once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memgpt.errors import StorageError
from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope
from memgpt.schemas import Passage
from memgpt.testing import milvus_servers as ms

ROOT = Path(__file__).resolve().parents[2]
DIM = 16
KINDS = ["lite_tcp", "lite3",
         pytest.param("milvus23", marks=pytest.mark.skipif(
             os.environ.get("MEMGPT_TEST_SERVER") != "1", reason="the Milvus 2.3 standalone: make test-server"))]


def _start(kind: str, folder: Path) -> object:
    if kind == "lite_tcp":
        return ms.LiteTcpServer(folder)
    if kind == "lite3":
        return ms.Lite3Server(folder)
    why = ms.can_isolate()
    if why:
        pytest.skip(f"cannot keep Milvus 2.3 on 127.0.0.1 only: {why}")
    return ms.Milvus23Server(folder)


@pytest.fixture(params=KINDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    srv = _start(request.param, tmp_path)
    srv.kind = request.param  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()  # type: ignore[attr-defined]


def _passages(user: str, agent: str, n: int, seed: int = 0) -> list[Passage]:
    rng = np.random.default_rng(seed)
    texts = ["the harbour pilot guides ships at dawn", "茶园里的老人每天早上采茶", "quarterly budget review notes"]
    return [Passage(id=f"passage-{agent}-{i}", user_id=user, agent_id=agent, text=f"{texts[i % 3]} {i}",
                    embedding=rng.normal(size=DIM).astype(np.float32)) for i in range(n)]


def _listening_on_loopback_only(port: int) -> None:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    found = [line.split()[3] for line in out.splitlines() if line.split()[3].rsplit(":", 1)[-1] == str(port)]
    assert found, f"nothing listens on port {port}"
    assert all(local.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]") for local in found), found


def test_archival_on_server(server: object) -> None:
    """Insert, read back at once, hybrid search (words where the server has BM25), count, delete."""
    _listening_on_loopback_only(server.port)  # type: ignore[attr-defined]
    conn = MilvusConnection(server.uri)  # type: ignore[attr-defined]
    try:
        store = MilvusArchivalStore(conn, "test/model", DIM)
        user, a, b = "user-1", "agent-a", "agent-b"
        pa, pb = _passages(user, a, 30), _passages(user, b, 5, seed=1)
        store.insert(pa)
        assert store.count(Scope(user, agent_id=a)) == 30  # Session consistency: our own writes, at once
        store.insert(pb)
        hits = store.search(pa[7].embedding, Scope(user, agent_id=a), limit=3)
        assert hits[0].passage.id == pa[7].id and all(h.passage.agent_id == a for h in hits)
        hybrid = store.search_hybrid("harbour pilot", pa[3].embedding, Scope(user, agent_id=a), limit=5)
        assert hybrid[0].passage.id == pa[3].id
        if server.kind == "milvus23":  # type: ignore[attr-defined]
            assert not conn.caps.bm25 and not store.has_bm25
        else:
            assert conn.caps.bm25
            words = store.search_text("采茶", Scope(user, agent_id=a), limit=20)
            assert words and all("采茶" in h.passage.text for h in words)
        assert conn.dense_index() == ("FLAT" if server.kind == "lite_tcp" else "HNSW")  # type: ignore[attr-defined]
        assert not conn.templates  # none of these three takes filter_params
        store.delete(Scope(user, agent_id=b))
        assert store.count(Scope(user, agent_id=a)) == 30
    finally:
        conn.close()


def test_collection_without_index_gets_one(tmp_path: Path) -> None:
    """What a failed create used to leave behind (rows, no index, every search "No index found") is repaired."""
    from pymilvus import DataType, MilvusClient

    srv = ms.LiteTcpServer(tmp_path)
    try:
        conn = MilvusConnection(srv.uri)
        store = MilvusArchivalStore(conn, "test/model", DIM)
        raw = MilvusClient(uri=srv.uri)
        schema = raw.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        for f in ("user_id", "agent_id", "source_id", "document_id"):
            schema.add_field(f, DataType.VARCHAR, max_length=80)
        schema.add_field("created_ms", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=DIM)
        raw.create_collection(store.collection, schema=schema)
        ps = _passages("user-1", "agent-a", 10)
        raw.insert(store.collection, [store._row(p, words=False) for p in ps])
        assert not raw.list_indexes(store.collection)
        raw.close()
        hits = store.search(ps[2].embedding, Scope("user-1", agent_id="agent-a"), limit=1)
        assert hits[0].passage.id == ps[2].id
        conn.close()
    finally:
        srv.stop()


def test_refused_index_is_one_line(tmp_path: Path) -> None:
    srv = ms.LiteTcpServer(tmp_path)
    try:
        conn = MilvusConnection(srv.uri, index="HNSW")  # asked for by hand; this engine builds FLAT/IVF only
        store = MilvusArchivalStore(conn, "test/model", DIM)
        with pytest.raises(StorageError) as err:
            store.insert(_passages("user-1", "agent-a", 2))
        assert re.search(r"refused a HNSW index: .*\(pick one it builds: memgpt configure --milvus-index auto",
                         err.value.one_line()), err.value.one_line()
        from pymilvus import MilvusClient

        raw = MilvusClient(uri=srv.uri)
        assert raw.list_collections() == []  # no index-less collection left behind, nor a probe
        raw.close()
        conn.close()
    finally:
        srv.stop()


@pytest.mark.slow
def test_killed_server_is_one_line_and_a_restarted_one_is_used_at_once(tmp_path: Path) -> None:
    srv = ms.LiteTcpServer(tmp_path)
    conn = MilvusConnection(srv.uri)
    try:
        store = MilvusArchivalStore(conn, "test/model", DIM)
        ps = _passages("user-1", "agent-a", 10)
        store.insert(ps)
        scope = Scope("user-1", agent_id="agent-a")
        assert store.count(scope) == 10
        srv.kill()  # SIGKILL mid-session
        started = time.monotonic()
        with pytest.raises(StorageError) as err:
            store.search(ps[0].embedding, scope, limit=1)
        took = time.monotonic() - started
        assert took < 11, took
        assert re.fullmatch(r"Milvus at http://127\.0\.0\.1:\d+ did not answer within 9 s \(.*\)",
                            err.value.one_line()), err.value.one_line()
        srv.start()  # the same port and file
        started = time.monotonic()
        assert store.search(ps[0].embedding, scope, limit=1)[0].passage.id == ps[0].id
        assert time.monotonic() - started < 5, time.monotonic() - started
    finally:
        conn.close()
        srv.stop()


@pytest.mark.slow
def test_dead_server_through_the_cli_exits_5_in_one_line(tmp_path: Path) -> None:
    """``memgpt load`` against a port nobody listens on: one line, exit 5, about 10 s."""
    home = tmp_path / "home"
    env = {**os.environ, "MEMGPT_HOME": str(home), "HOME": str(tmp_path)}
    port = ms.free_port()
    subprocess.run([sys.executable, "-m", "memgpt", "configure", "-y", "--milvus-uri", f"http://127.0.0.1:{port}"],
                   env=env, check=True, capture_output=True)
    doc = tmp_path / "doc.txt"
    doc.write_text("a short document about harbour pilots.\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "memgpt", "load", "directory", "--name", "doc", "--input-files",
                           str(doc)], env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 5, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"cannot reach Milvus at http://127.0.0.1:{port}" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert took < 20, took


def _memgpt(env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "memgpt", *argv], env=env, input=stdin, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, f"memgpt {' '.join(argv)}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.mark.slow
def test_readme_flow_on_server(server: object, tmp_path: Path) -> None:
    """configure -> load -> run with /attach -> archival_memory_search -> delete source and agent."""
    from memgpt.testing.fake_llm import FakeLLMServer, demo_responder

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(MEMGPT_HOME=str(tmp_path / "home"), HOME=str(tmp_path))
    llm = FakeLLMServer(responder=demo_responder)
    llm.start()
    try:
        _memgpt(env, "configure", "-y", "--milvus-uri", server.uri,  # type: ignore[attr-defined]
                "--model-endpoint", llm.base_url, "--model", "fake-llm", "--model-api-key", "none")
        out = _memgpt(env, "load", "directory", "--name", "paper", "--input-files",
                      str(ROOT / "docs" / "how-memgpt-works.md")).stdout
        assert re.search(r"^Loaded \d+ passages and 1 documents from paper$", out, re.M), out
        run = _memgpt(env, "run", "--agent", "demo", "--persona", "memgpt_doc", "-y",
                      stdin="/attach paper\nWhat is core memory?\n/exit\n").stdout
        assert "searching memory with archival_memory_search" in run
        assert "Core memory is" in run.split("What is core memory?", 1)[1], run[-3000:]
        _memgpt(env, "delete", "source", "paper", "-y")
        _memgpt(env, "delete", "agent", "demo", "-y")
    finally:
        llm.stop()


@pytest.mark.skipif(os.environ.get("MEMGPT_TEST_SERVER") != "1", reason="the Milvus 2.3 standalone: make test-server")
def test_bm25_collection_is_refused_on_milvus23_not_loaded(tmp_path: Path) -> None:
    """Loading a collection with a BM25 function aborts Milvus 2.3 (at every restart): refuse it in one line."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    if ms.can_isolate():
        pytest.skip(f"cannot keep Milvus 2.3 on 127.0.0.1 only: {ms.can_isolate()}")
    srv = ms.Milvus23Server(tmp_path)
    try:
        conn = MilvusConnection(srv.uri)
        store = MilvusArchivalStore(conn, "test/model", DIM)
        raw = MilvusClient(uri=srv.uri)
        schema = raw.create_schema(auto_id=False, enable_dynamic_field=False)  # what memgpt used to create
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        schema.add_field("words", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        raw.create_collection(store.collection, schema=schema)
        with pytest.raises(StorageError) as err:
            store.count(Scope("user-1", agent_id="agent-a"))
        assert "has a BM25 full-text field that this server (version v2.3.5" in err.value.one_line()
        assert "use Milvus 2.5 or newer, or drop that collection" in err.value.one_line()
        assert srv.proc is not None and srv.proc.poll() is None  # the server is still up
        assert raw.list_collections() == [store.collection]
        raw.close()
        conn.close()
    finally:
        srv.stop()
