"""Two ``memgpt server`` workers on one PostgreSQL and one Milvus server: nothing lost, nothing shared."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx2 as httpx
import pytest

from memgpt.testing.cluster import Cluster

MESSAGES = 6


@pytest.fixture
def cluster(pg_url: str):  # noqa: ANN201
    with Cluster(pg_url, workers=2) as c:
        yield c


def test_two_workers_two_users(cluster: Cluster, tmp_path: Path) -> None:
    keys = {name: cluster.new_user(name) for name in ("ann", "ben")}
    clients = {name: [httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
                      for url in cluster.urls] for name, key in keys.items()}
    agents = {name: c[0].post("/api/agents", json={"name": f"{name}-agent"}).json()["id"]
              for name, c in clients.items()}
    doc = tmp_path / "notes.md"
    failures: list[str] = []

    def chat(name: str) -> None:
        for i in range(MESSAGES):
            worker = clients[name][i % 2]  # alternate workers: each step must see the last one's state
            r = worker.post(f"/api/agents/{agents[name]}/messages", json={"message": f"{name} message {i}"})
            if r.status_code != 200:
                failures.append(f"{name} {i}: {r.status_code} {r.text[:200]}")

    def upload(name: str) -> None:
        doc_text = f"# {name}'s notes\n{name} keeps a private diary about the sea.\n"
        for w, worker in enumerate(clients[name]):
            job = worker.post(f"/api/sources/{name}-docs/upload",
                              files=[("files", (f"{name}-{w}.md", f"{doc_text}copy {w}\n".encode()))]).json()
            if "id" not in job:
                failures.append(f"{name} upload {w}: {job}")

    threads = [threading.Thread(target=f, args=(n,)) for n in keys for f in (chat, upload)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], failures + [cluster.log_text()[-2000:]]
    assert doc is not None

    for name, (first, second) in clients.items():
        msgs = first.get(f"/api/agents/{agents[name]}/messages", params={"limit": 1000}).json()["messages"]
        said = [m["content"] for m in msgs if m["role"] == "user" and m["name"] != "event"]
        assert said == [f"{name} message {i}" for i in range(MESSAGES)]  # every message once, in order
        assert second.get(f"/api/agents/{agents[name]}/messages", params={"limit": 1000}).json()["messages"] == msgs

    # each user's uploads land in their own source; the other user sees none of it, on either worker
    import time

    for name, (first, _second) in clients.items():
        for _ in range(200):
            src = first.get(f"/api/sources/{name}-docs")
            if src.status_code == 200 and src.json()["n_documents"] == 2:
                break
            time.sleep(0.2)
        assert src.json()["n_documents"] == 2
        first.post(f"/api/agents/{agents[name]}/sources", json={"source": f"{name}-docs"})
    for name, other in (("ann", "ben"), ("ben", "ann")):
        for worker in clients[name]:
            assert worker.get(f"/api/agents/{agents[other]}").status_code == 404
            assert worker.get(f"/api/sources/{other}-docs").status_code == 404
            hits = worker.get(f"/api/agents/{agents[name]}/archival/search", params={"q": "private diary sea"}).json()
            assert hits and all(name in h["text"] and other not in h["text"] for h in hits)
    for c in clients.values():
        for w in c:
            w.close()
