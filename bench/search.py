"""Archival search latency and recall in Milvus, through ``MilvusArchivalStore``.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--queries 200] [--index FLAT]
                                     [--server-rows 0] [--server-index IVF_FLAT]

For each size, a fresh Milvus Lite file gets that many 384-d passages whose
vectors are low-rank topic mixtures (64 random topic directions; each passage
mixes 1-3 topics with Dirichlet weights, plus isotropic noise, unit length) and
whose texts are drawn from per-topic Zipfian vocabularies (so BM25 has
something real to rank). 10% of the rows belong to one agent; the rest to 9
sources. Queries are fresh draws from the same distribution.

Measured per size: ``search`` (dense) p50/p99 without a filter narrower than
the whole user (scope = all sources and the agent) and with the agent filter
(scope = the agent's 10%), recall@10 of both against exact numpy brute force
over the same vectors and rows, and ``search_hybrid`` (dense + BM25 fused)
p50/p99. ``--server-rows N`` repeats the measurement for N rows on the server
path: the Lite engine serving gRPC on TCP, reached as ``http://127.0.0.1:PORT``
(index ``--server-index``; the Lite engine has no HNSW).

Prints a table, then one JSON line last.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import json_line, percentile, quiet_milvus, table

from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope
from memgpt.schemas import Passage

DIM = 384
TOPICS = 64
VOCAB = 20_000
WORDS_PER_TOPIC = 400
MODEL = "bench/topic-mixture"


class Corpus:
    """A reproducible generator of topic-mixture vectors and matching texts."""

    def __init__(self, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.topics = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
        self.topics /= np.linalg.norm(self.topics, axis=1, keepdims=True)
        self.topic_words = rng.integers(0, VOCAB, size=(TOPICS, WORDS_PER_TOPIC))
        zipf = 1.0 / np.arange(1, WORDS_PER_TOPIC + 1)
        self.word_p = zipf / zipf.sum()
        self.common_p = zipf[:200] / zipf[:200].sum()

    def draw(self, n: int, rng: np.random.Generator, noise: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
        """``n`` unit vectors and their topic weights (n, TOPICS)."""
        weights = np.zeros((n, TOPICS), dtype=np.float32)
        k = rng.integers(1, 4, size=n)
        for i in range(n):
            chosen = rng.choice(TOPICS, size=k[i], replace=False)
            weights[i, chosen] = rng.dirichlet(np.ones(k[i]))
        v = weights @ self.topics + noise * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM) * 4
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v.astype(np.float32), weights

    def texts(self, weights: np.ndarray, rng: np.random.Generator, length: int = 40) -> list[str]:
        out = []
        for w in weights:
            topics = rng.choice(TOPICS, size=length, p=w / w.sum())
            picks = rng.choice(WORDS_PER_TOPIC, size=length, p=self.word_p)
            words = self.topic_words[topics, picks]
            common = rng.choice(200, size=length // 4, p=self.common_p)  # shared filler words
            out.append(" ".join([f"w{x}" for x in words] + [f"c{x}" for x in common]))
        return out


def build(store: MilvusArchivalStore, corpus: Corpus, n: int, user: str, agent: str, sources: list[str],
          seed: int = 1, batch: int = 10_000) -> tuple[np.ndarray, np.ndarray, float]:
    """Insert ``n`` passages; returns (vectors, owner mask of the agent's rows, seconds)."""
    rng = np.random.default_rng(seed)
    all_vecs = np.zeros((n, DIM), np.float32)
    is_agent = np.zeros(n, bool)
    t0 = time.perf_counter()
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        vecs, weights = corpus.draw(m, rng)
        texts = corpus.texts(weights, rng)
        rows = []
        for j in range(m):
            i = lo + j
            mine = i % 10 == 0
            is_agent[i] = mine
            rows.append(Passage(id=f"p-{i}", user_id=user, text=texts[j], embedding=vecs[j],
                                agent_id=agent if mine else "", source_id="" if mine else sources[i % len(sources)]))
        all_vecs[lo:lo + m] = vecs
        store.insert(rows)
    return all_vecs, is_agent, time.perf_counter() - t0


def measure(store: MilvusArchivalStore, corpus: Corpus, vecs: np.ndarray, is_agent: np.ndarray, user: str,
            agent: str, sources: list[str], queries: int, hybrid: bool) -> dict[str, Any]:
    rng = np.random.default_rng(99)
    qv, qw = corpus.draw(queries, rng)
    qtexts = corpus.texts(qw, rng, length=6)
    scopes = {"all": (Scope(user, agent_id=agent, source_ids=tuple(sources)), np.ones(len(vecs), bool)),
              "agent filter": (Scope(user, agent_id=agent), is_agent)}
    out: dict[str, Any] = {}
    for name, (scope, mask) in scopes.items():
        store.search(qv[0], scope, limit=10)  # warm
        lat, rec = [], []
        idx = np.flatnonzero(mask)
        sub = vecs[idx]
        for q in qv:
            t0 = time.perf_counter()
            hits = store.search(q, scope, limit=10)
            lat.append(1000 * (time.perf_counter() - t0))
            exact = idx[np.argsort(-(sub @ q))[:10]]
            got = {int(h.passage.id[2:]) for h in hits}
            rec.append(len(got & set(exact.tolist())) / 10)
        out[name] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "recall@10": float(np.mean(rec))}
    if hybrid:
        scope = scopes["agent filter"][0]
        for name, scope in (("hybrid all", scopes["all"][0]), ("hybrid agent filter", scope)):
            store.search_hybrid(qtexts[0], qv[0], scope, limit=10)
            lat = []
            for q, t in zip(qv, qtexts):
                t0 = time.perf_counter()
                store.search_hybrid(t, q, scope, limit=10)
                lat.append(1000 * (time.perf_counter() - t0))
            out[name] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}
    return out


def run_size(conn: MilvusConnection, corpus: Corpus, n: int, queries: int, hybrid: bool) -> dict[str, Any]:
    store = MilvusArchivalStore(conn, MODEL, DIM)
    user, agent = "user-bench", "agent-bench"
    sources = [f"source-bench{i}" for i in range(9)]
    vecs, is_agent, insert_s = build(store, corpus, n, user, agent, sources)
    t0 = time.perf_counter()
    res = measure(store, corpus, vecs, is_agent, user, agent, sources, queries, hybrid)
    return {"rows": n, "index": conn.index, "insert_s": round(insert_s, 1),
            "insert_rows_per_s": round(n / insert_s), "measure_s": round(time.perf_counter() - t0, 1), **res}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="row counts for Milvus Lite files")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--index", default="FLAT", help="Lite index (FLAT, IVF_FLAT)")
    ap.add_argument("--server-rows", type=int, default=0,
                    help="also measure this many rows on the gRPC server path (0: skip)")
    ap.add_argument("--server-index", default="IVF_FLAT")
    args = ap.parse_args(argv)
    quiet_milvus()
    corpus = Corpus()
    results = []
    t_all = time.perf_counter()
    for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
        with tempfile.TemporaryDirectory(prefix="memgpt-bench-") as tmp:
            conn = MilvusConnection(str(Path(tmp) / "milvus.db"), index=args.index)
            try:
                results.append({"path": "lite", **run_size(conn, corpus, n, args.queries, hybrid=True)})
            finally:
                conn.close()
        print(f"... {n} rows done", file=sys.stderr, flush=True)
    if args.server_rows:
        from milvus_lite.server import Server

        with tempfile.TemporaryDirectory(prefix="memgpt-bench-") as tmp:
            port = _free_port()
            server = Server(str(Path(tmp) / "server.db"), f"127.0.0.1:{port}")
            if not server.init():
                raise SystemExit("milvus-lite server failed to initialise")
            server.start()
            try:
                time.sleep(1.0)
                conn = MilvusConnection(f"http://127.0.0.1:{port}", index=args.server_index)
                try:
                    results.append({"path": "server", **run_size(conn, corpus, args.server_rows, args.queries,
                                                                 hybrid=True)})
                finally:
                    conn.close()
            finally:
                server.stop()
    rows = []
    for r in results:
        for name in ("all", "agent filter", "hybrid all", "hybrid agent filter"):
            if name in r:
                m = r[name]
                rows.append([r["path"], r["rows"], r["index"], name, m["p50_ms"], m["p99_ms"],
                             m.get("recall@10", "-"), r["insert_s"]])
    print(table(["path", "rows", "index", "search", "p50 ms", "p99 ms", "recall@10", "insert s"], rows))
    print(f"total {time.perf_counter() - t_all:.1f}s")
    print(json_line({"bench": "archival_search", "dim": DIM, "queries": args.queries, "results": results,
                     "seconds": round(time.perf_counter() - t_all, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
