"""Archival memory at scale: many tenants, an agent filter, on Milvus Lite and on a server.

    .venv/bin/python bench/scale.py [--passages 100000] [--targets lite,server] [--server milvus23]
                                    [--queries 200] [--users 50] [--agents 10] [--dim 384]

Synthetic but shaped like memgpt's data: ``--users`` users with ``--agents``
agents each (500 tenants by default); each agent writes about one topic mix:
its passages are drawn around 4 of 2,000 cluster centres (unit vectors;
noise so that neighbours within a cluster sit at cosine ~0.75), so an agent's
nearest passages are surrounded, in the whole collection, by other agents'
passages of the same topics: the hard case for a filtered graph search.

Rows go in through ``MilvusArchivalStore.insert`` (the path ``memgpt load``
takes, 2,048 per call); queries go through ``MilvusArchivalStore.search`` with
an agent scope, limit 10, i.e. with the index and search parameters memgpt
chooses (``--milvus-index auto``: FLAT on Lite, HNSW M=16 on a server, ef =
max(128, limit)). Recall@10 is against exact numpy brute force over the same
agent's vectors, computed in this run.

Targets: ``lite`` (an embedded Milvus Lite file) and ``server``: ``--server``
milvus23 (the Milvus 2.3 standalone from PyPI ``milvus``, in its own network
namespace, see memgpt.testing.milvus_servers), lite3 (milvus-lite 3.x
server), lite_tcp (the Lite engine on TCP), or an http:// URI of a running
server (its collection is dropped at the end).

Measured: insert rows/s (wall, embeddings given), index build wait (server),
search p50/p95 ms, recall@10 (mean and worst 5%), RSS of this process and of
the server's processes. Prints a table, then one JSON line last.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import json_line, percentile, quiet_milvus, table

from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope
from memgpt.schemas import Passage

CENTRES = 2000
TOPICS_PER_AGENT = 4
MODEL = "bench/scale"
BATCH = 2048


def milvus_conn_ef() -> int:
    import memgpt.memory.milvus_conn as milvus_conn

    return max(milvus_conn.EF_MIN, 10)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(root: int) -> float:
    """RSS of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss_mb(p) for p in tree)


class Data:
    """Clustered unit vectors for ``n`` passages of ``users`` x ``agents`` tenants (reproducible)."""

    def __init__(self, n: int, users: int, agents: int, dim: int, seed: int = 11) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        centres = rng.standard_normal((CENTRES, dim)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.tenants = [(f"user-{u}", f"agent-{u}-{a}") for u in range(users) for a in range(agents)]
        t = len(self.tenants)
        self.topics = rng.integers(0, CENTRES, size=(t, TOPICS_PER_AGENT))
        self.owner = rng.integers(0, t, size=n)  # which tenant wrote each passage
        self.rng = rng
        self.noise = 0.6 / np.sqrt(dim)  # per coordinate: cosine to the centre ~0.86, between siblings ~0.75

    def vectors(self, owners: np.ndarray) -> np.ndarray:
        pick = self.topics[owners, self.rng.integers(0, TOPICS_PER_AGENT, size=len(owners))]
        v = self.centres[pick] + self.rng.standard_normal((len(owners), self.dim)).astype(np.float32) * self.noise
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def start_server(kind: str, folder: Path) -> tuple[Any, str, int | None]:
    """(handle with .stop(), uri, pid whose process tree is the server) for a kind or a URI."""
    from memgpt.testing import milvus_servers as ms

    if "://" in kind:
        return None, kind, None
    if kind == "milvus23":
        srv = ms.Milvus23Server(folder)
        return srv, srv.uri, srv.proc.pid
    if kind == "lite3":
        srv = ms.Lite3Server(folder)
        return srv, srv.uri, srv.proc.pid
    srv = ms.LiteTcpServer(folder)
    return srv, srv.uri, srv._server._p.pid


def wait_indexed(conn: MilvusConnection, collection: str, total: int, limit_s: float = 3600) -> float:
    """Flush, then wait until the dense index covers every row (a server builds it in the background)."""
    started = time.monotonic()
    client = conn.client
    client.flush(collection, timeout=900)
    while time.monotonic() - started < limit_s:
        info = client.describe_index(collection, "embedding", timeout=60)
        if int(info.get("indexed_rows", 0)) >= total or info.get("index_type") == "FLAT":
            break
        time.sleep(2)
    return time.monotonic() - started


def run_target(name: str, uri: str, data: Data, vecs: np.ndarray, args: argparse.Namespace,
               server_pid: int | None) -> dict[str, Any]:
    n = len(vecs)
    conn = MilvusConnection(uri)
    store = MilvusArchivalStore(conn, MODEL, data.dim)
    started = time.monotonic()
    for i in range(0, n, BATCH):
        batch = []
        for j in range(i, min(n, i + BATCH)):
            user, agent = data.tenants[data.owner[j]]
            batch.append(Passage(id=f"p-{j}", user_id=user, agent_id=agent, text=f"passage {j} of {agent}",
                                 embedding=vecs[j]))
        store.insert(batch)
        if (i // BATCH) % 50 == 0:
            print(f"  {name}: {i + len(batch)} / {n} rows, {time.monotonic() - started:.0f} s", file=sys.stderr)
    insert_s = time.monotonic() - started
    index_s = wait_indexed(conn, store.collection, n) if not conn.local else 0.0
    assert store.count(Scope(*data.tenants[0])) == int((data.owner == 0).sum())
    # queries: an agent asks about one of its own topics (a fresh draw, not a stored vector)
    qrng = np.random.default_rng(5)
    who = qrng.integers(0, len(data.tenants), size=args.queries)
    data.rng = np.random.default_rng(6)
    queries = data.vectors(who)
    latencies, recalls = [], []
    for q, t in zip(queries, who):
        mine = np.flatnonzero(data.owner == t)
        truth = {f"p-{j}" for j in mine[np.argsort(-(vecs[mine] @ q), kind="stable")[:10]]}
        t0 = time.perf_counter()
        hits = store.search(q, Scope(*data.tenants[t]), limit=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        recalls.append(len(truth & {h.passage.id for h in hits}) / max(1, min(10, len(truth))))
    out = {
        "target": name, "uri": uri if "://" in uri else "lite file", "passages": n, "tenants": len(data.tenants),
        "index": conn.dense_index(), "partition_key": conn.caps.partition_key, "bm25": conn.caps.bm25,
        "server_version": conn.caps.version, "ef": milvus_conn_ef() if conn.dense_index() == "HNSW" else None,
        "insert_rows_s": round(n / insert_s), "insert_s": round(insert_s, 1), "index_wait_s": round(index_s, 1),
        "search_p50_ms": round(percentile(latencies, 50), 2), "search_p95_ms": round(percentile(latencies, 95), 2),
        "recall10": round(float(np.mean(recalls)), 4), "recall10_p5": round(percentile(recalls, 5), 2),
        "rss_client_mb": round(tree_rss_mb(os.getpid())), "rss_server_mb": round(tree_rss_mb(server_pid))
        if server_pid else None,
    }
    if "://" in uri:
        conn.client.drop_collection(store.collection)
    conn.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--targets", default="lite,server")
    p.add_argument("--server", default="milvus23", help="milvus23, lite3, lite_tcp or an http:// URI")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--agents", type=int, default=10, help="agents per user")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--ef", type=int, default=None, help="HNSW search breadth instead of memgpt's (EF_MIN)")
    args = p.parse_args()
    if args.ef:
        import memgpt.memory.milvus_conn as milvus_conn

        milvus_conn.EF_MIN = args.ef
    quiet_milvus()
    began = time.monotonic()
    data = Data(args.passages, args.users, args.agents, args.dim)
    vecs = data.vectors(data.owner)
    results = []
    with tempfile.TemporaryDirectory(prefix="memgpt-scale-") as tmp:
        for target in args.targets.split(","):
            t0 = time.monotonic()
            if target == "lite":
                res = run_target("lite", str(Path(tmp) / "milvus.db"), data, vecs, args, None)
            else:
                folder = Path(tmp) / "server"
                folder.mkdir()
                srv, uri, pid = start_server(args.server, folder)
                try:
                    res = run_target(f"server:{args.server}", uri, data, vecs, args, pid)
                finally:
                    if srv is not None:
                        srv.stop()
            res["wall_s"] = round(time.monotonic() - t0, 1)
            results.append(res)
            print(f"  {res['target']} done in {res['wall_s']} s", file=sys.stderr)
    cols = ["target", "passages", "index", "ef", "partition_key", "insert_rows_s", "index_wait_s", "search_p50_ms",
            "search_p95_ms", "recall10", "recall10_p5", "rss_client_mb", "rss_server_mb", "wall_s"]
    print(f"archival search at scale: {args.passages} passages, {len(data.tenants)} agents "
          f"({args.users} users), dim {args.dim}, {args.queries} agent-filtered queries, limit 10")
    print(table(cols, [[r[c] for c in cols] for r in results]))
    print(json_line({"bench": "scale", "passages": args.passages, "dim": args.dim, "tenants": len(data.tenants),
                     "queries": args.queries, "total_s": round(time.monotonic() - began, 1), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
