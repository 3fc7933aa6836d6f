"""``memgpt server`` under load: N concurrent clients x M messages, one and two workers.

    .venv/bin/python bench/server.py [--workers 1,2] [--clients 8] [--messages 10] [--latency 0.05]

Each run starts what it needs on 127.0.0.1 and stops it: a fresh PostgreSQL schema (PostgreSQL must be
running at 127.0.0.1:5432, or set MEMGPT_BENCH_PG), a Milvus server (the Milvus Lite engine served over
TCP), the scripted LLM answering every call after ``--latency`` seconds, and the workers. Clients
belong to two users and each talks to its own agent, alternating between workers; a message is the
tutorial's turn (archival_memory_search, then send_message: two LLM calls).

Reported per worker count: requests/s, p50/p95 of the request latency and of the latency the server
adds over the same step run in-process through the service (the floor: same stores, same LLM),
RSS per worker, messages lost or duplicated (counted in recall afterwards: must be 0) and cross-user
reads (every client tries the other user's agents: must be 0). The physical limit is the LLM's own
time: each client waits 2 x latency per message at best, so ``ideal_rps = clients / (2 x latency)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path

from _common import json_line, percentile, table

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _schema(pg: str):  # noqa: ANN202
    import psycopg

    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"bench/server.py needs PostgreSQL at 127.0.0.1:5432 ({exc}); start it with: "
                         "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start") from None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn.execute(f"CREATE SCHEMA {name}")
    return conn, name, f"{pg}?options=-csearch_path%3D{name}"


def in_process(cluster, clients: int, messages: int) -> tuple[list[float], float]:  # noqa: ANN001
    """The same steps in-process through the service, on the same stores and LLM, with the same number of
    concurrent clients: the floor the server is measured against. Returns latencies (ms) and wall seconds."""
    from memgpt.config import load_settings
    from memgpt.runtime import Runtime
    from memgpt.service import Service
    from memgpt.store.auth import KeyStore

    os.environ["MEMGPT_HOME"] = str(cluster.home)
    rt = Runtime(load_settings(cluster.home))
    try:
        user, _key = KeyStore(rt.metadata.engine).create_user(f"floor-{uuid.uuid4().hex[:6]}")
        svc = Service(rt, user, lock_wait=300)
        agents = [svc.create_agent(f"floor{i}").id for i in range(clients)]
        for a in agents:
            svc.send_message(a, "warm up")
        return _drive(clients, messages, lambda i, m: svc.send_message(agents[i], f"floor {i} {m}") and 200)
    finally:
        rt.close()


def _drive(clients: int, messages: int, send) -> tuple[list[float], float]:  # noqa: ANN001
    lat: list[float] = []
    failed: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        for m in range(messages):
            t0 = time.perf_counter()
            try:
                status = send(i, m)
            except Exception as exc:  # noqa: BLE001 - reported below, after every client has finished
                status = f"{type(exc).__name__}: {exc}"
            with lock:
                lat.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    failed.append(f"client {i} message {m}: {status}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0]}")
    return lat, time.perf_counter() - t0


def run(workers: int, clients: int, messages: int, latency: float, pg: str) -> dict:
    import httpx2 as httpx

    from memgpt.testing.cluster import Cluster

    conn, schema, url = _schema(pg)
    try:
        with Cluster(url, workers=workers, llm_latency_s=latency) as cluster:
            users = {name: cluster.new_user(name) for name in ("ann", "ben")}
            owners = [list(users)[i % 2] for i in range(clients)]
            sessions = [[httpx.Client(base_url=u, headers={"Authorization": f"Bearer {users[o]}"}, timeout=300)
                         for u in cluster.urls] for o in owners]
            agents = [s[0].post("/api/agents", json={"name": f"c{i}"}).json()["id"] for i, s in enumerate(sessions)]
            for s, a in zip(sessions, agents, strict=True):
                for w in s:  # every worker has served every agent once before timing starts
                    w.post(f"/api/agents/{a}/messages", json={"message": "warm up"})
            serial_floor, _ = in_process(cluster, 1, max(10, messages))
            serial, _ = _drive(1, max(10, messages), lambda i, m: sessions[0][m % workers].post(
                f"/api/agents/{agents[0]}/messages", json={"message": f"serial {m}"}).status_code)
            floor, floor_wall = in_process(cluster, clients, messages)
            lat, wall = _drive(clients, messages, lambda i, m: sessions[i][m % workers].post(
                f"/api/agents/{agents[i]}/messages", json={"message": f"client {i} message {m}"}).status_code)
            rss = cluster.rss_mb()
            lost = duplicated = cross = 0
            for i, (s, a) in enumerate(zip(sessions, agents, strict=True)):
                msgs = s[0].get(f"/api/agents/{a}/messages", params={"limit": 1000}).json()["messages"]
                said = [m["content"] for m in msgs if m["role"] == "user" and m["name"] != "event"]
                for m in range(messages):
                    n = said.count(f"client {i} message {m}")
                    lost += n == 0
                    duplicated += max(0, n - 1)
                for j, other in enumerate(agents):
                    if owners[j] != owners[i]:
                        for w in s:
                            cross += w.get(f"/api/agents/{other}").status_code == 200
                            cross += w.get(f"/api/agents/{other}/archival/search", params={"q": "x"}).status_code == 200
            for s in sessions:
                for w in s:
                    w.close()
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()
    n = clients * messages
    return {"workers": workers, "clients": clients, "messages": n, "wall_s": round(wall, 2),
            "requests_per_s": round(n / wall, 2), "in_process_rps": round(n / floor_wall, 2),
            "llm_bound_rps": round(clients / (2 * latency), 2) if latency else None,
            "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
            "in_process_p50_ms": round(percentile(floor, 50), 1), "in_process_p95_ms": round(percentile(floor, 95), 1),
            "serial_p50_ms": round(percentile(serial, 50), 1),
            "p50_added_ms": round(percentile(serial, 50) - percentile(serial_floor, 50), 1),
            "p95_added_ms": round(percentile(serial, 95) - percentile(serial_floor, 95), 1),
            "rss_mb_per_worker": rss, "lost": lost, "duplicated": duplicated, "cross_user_reads": cross}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 2 or 1,2")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--messages", type=int, default=10, help="messages per client")
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the scripted LLM takes per call")
    ap.add_argument("--pg", default=os.environ.get("MEMGPT_BENCH_PG", PG))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    results = [run(int(w), args.clients, args.messages, args.latency, args.pg) for w in args.workers.split(",")]
    print(table(["workers", "clients x msgs", "req/s", "in-process req/s", "LLM-bound req/s", "p50 ms", "p95 ms",
                 "in-process p50/p95", "added p50 ms", "added p95 ms", "RSS MB/worker", "lost", "dup", "cross-user"],
                [[r["workers"], f"{r['clients']} x {r['messages'] // r['clients']}", r["requests_per_s"],
                  r["in_process_rps"], r["llm_bound_rps"], r["p50_ms"], r["p95_ms"],
                  f"{r['in_process_p50_ms']}/{r['in_process_p95_ms']}", r["p50_added_ms"], r["p95_added_ms"],
                  "/".join(str(x) for x in r["rss_mb_per_worker"]), r["lost"], r["duplicated"],
                  r["cross_user_reads"]] for r in results]))
    print("added = one client's request through the server minus the same step in-process (serial, same stores)")
    last = results[-1]
    print(json_line({"bench": "server", "latency_s": args.latency, "runs": results, "workers": last["workers"],
                     "requests_per_s": last["requests_per_s"], "p95_added_ms": last["p95_added_ms"],
                     "lost": sum(r["lost"] for r in results), "duplicated": sum(r["duplicated"] for r in results),
                     "cross_user_reads": sum(r["cross_user_reads"] for r in results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
