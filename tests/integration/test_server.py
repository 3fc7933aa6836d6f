"""``memgpt server`` over real HTTP: keys, isolation between users, uploads, streaming, errors, locking."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx2 as httpx
import pytest

from live_server import LiveServer, doc, live_server, llm_home, runtime_llm  # noqa: F401 - fixtures


def _client(server: LiveServer, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def test_keys_are_required_and_admin_makes_users(live_server: LiveServer) -> None:
    with _client(live_server, None) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
        assert anon.get("/readyz").status_code == 200
        r = anon.get("/api/agents")
        assert r.status_code == 401 and r.json()["error"] == "missing or wrong API key"
    with _client(live_server, "sk-memgpt-wrong") as bad:
        assert bad.get("/api/agents").status_code == 401
    with _client(live_server, live_server.admin_key) as admin:
        r = admin.post("/admin/users", json={"name": "dana"})
        assert r.status_code == 200
        body = r.json()
        assert body["id"].startswith("user-") and body["api_key"].startswith("sk-memgpt-")
        assert admin.get("/api/agents").status_code == 403  # the admin key is not a user
        assert admin.post("/admin/users", json={"name": "dana"}).status_code == 400
    with _client(live_server, body["api_key"]) as dana:
        assert dana.get("/api/agents").json() == []
        assert dana.post("/admin/users", json={"name": "eve"}).status_code == 403
    with _client(live_server, live_server.admin_key) as admin:
        assert admin.post("/admin/keys/revoke", json={"api_key": body["api_key"]}).json() == {"revoked": True}
    with _client(live_server, body["api_key"]) as dana:
        assert dana.get("/api/agents").status_code == 401
    from memgpt.store.auth import key_hash

    with live_server.keys.engine.connect() as conn:  # only hashes are stored
        stored = [r[0] for r in conn.exec_driver_sql("SELECT key_hash FROM api_keys")]
    assert key_hash(body["api_key"]) in stored and body["api_key"] not in stored


def test_users_cannot_see_each_other(live_server: LiveServer, doc: Path) -> None:
    a, b = _client(live_server, live_server.user("ann")), _client(live_server, live_server.user("ben"))
    agent = a.post("/api/agents", json={"name": "secret"}).json()
    a.post("/api/sources", json={"name": "private"})
    job = a.post("/api/sources/private/upload", files=[("files", (doc.name, doc.read_bytes()))]).json()
    _wait(a, job["id"])
    a.post(f"/api/agents/{agent['id']}/sources", json={"source": "private"})
    a.post(f"/api/agents/{agent['id']}/archival", json={"text": "ann's locker code is 4711"})
    for path in (f"/api/agents/{agent['id']}", "/api/agents/secret", f"/api/agents/{agent['id']}/memory",
                 f"/api/agents/{agent['id']}/archival", f"/api/agents/{agent['id']}/messages",
                 f"/api/agents/{agent['id']}/archival/search?q=locker", "/api/sources/private",
                 f"/api/jobs/{job['id']}", f"/api/agents/{agent['id']}/export"):
        r = b.get(path)
        assert r.status_code == 404, path
        assert set(r.json()) >= {"error", "hint"}
    assert b.post(f"/api/agents/{agent['id']}/messages", json={"message": "hi"}).status_code == 404
    assert b.delete(f"/api/agents/{agent['id']}").status_code == 404
    assert b.get("/api/agents").json() == [] and b.get("/api/sources").json() == []
    # ben's own agent with the same name searches only ben's memory
    mine = b.post("/api/agents", json={"name": "secret"}).json()
    assert mine["id"] != agent["id"]
    assert b.get(f"/api/agents/{mine['id']}/archival/search", params={"q": "locker code"}).json() == []
    assert a.get(f"/api/agents/{agent['id']}/archival/search", params={"q": "locker code"}).json()


def _wait(c: httpx.Client, job_id: str) -> dict:
    import time

    for _ in range(300):
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_upload_names_never_become_paths(live_server: LiveServer, tmp_path: Path) -> None:
    c = _client(live_server, live_server.user("up"))
    evil = "../../../../tmp/memgpt-escape.md"
    files = [("files", (evil, b"# Escape\nThis file tried to leave its folder.\n")),
             ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf"))]
    job = _wait(c, c.post("/api/sources/uploads/upload", files=files).json()["id"])
    assert job["status"] == "done" and job["n_passages"] == 1
    assert [e["file"] for e in job["errors"]] == ["broken.pdf"]
    assert "memgpt-upload" not in job["errors"][0]["error"] and "/0001/" not in job["errors"][0]["error"]
    assert not Path("/tmp/memgpt-escape.md").exists()
    src = c.get("/api/sources/uploads").json()
    assert src["n_documents"] == 1


def test_errors_map_to_statuses(live_server: LiveServer) -> None:
    c = _client(live_server, live_server.user("err"))
    agent = c.post("/api/agents", json={"name": "e"}).json()
    r = c.post("/api/agents", json={"name": "e"})
    assert r.status_code == 400 and "exists" in r.json()["error"]
    r = c.post(f"/api/agents/{agent['id']}/commands", json={"command": "/nope"})
    assert r.status_code == 400 and r.json()["kind"] == "UsageError"
    r = c.patch(f"/api/agents/{agent['id']}/memory", json={"blocks": {"nope": "x"}})
    assert r.status_code == 404
    r = c.post("/api/agents", content=b"x" * (3 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = c.post(f"/api/agents/{agent['id']}/messages", json={"message": ""})
    assert r.status_code == 422 and r.json()["error"].startswith("message:")  # validation, in one line
    assert c.get("/api/nothing-here").json()["error"] == "Not Found"


def test_sse_streams_events_then_done(live_server: LiveServer) -> None:
    c = _client(live_server, live_server.user("sse"))
    agent = c.post("/api/agents", json={"name": "s"}).json()
    frames = []
    with c.stream("POST", f"/api/agents/{agent['id']}/messages", json={"message": "hello", "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                frames.append((kind, json.loads(line.split(":", 1)[1])))
    assert frames[-1][0] == "done" and frames[-1][1]["messages"]
    assert [k for k, _ in frames[:-1]] and all(k == "step" for k, _ in frames[:-1])
    assert [d["kind"] for _, d in frames[:-1]] == [e["kind"] for e in frames[-1][1]["events"]]


def test_concurrent_messages_to_one_agent_are_serialised(live_server: LiveServer) -> None:
    c = _client(live_server, live_server.user("conc"))
    agent = c.post("/api/agents", json={"name": "busy"}).json()
    results: list[int] = []

    def send(i: int) -> None:
        with _client(live_server, c.headers["Authorization"].split()[1]) as mine:
            results.append(mine.post(f"/api/agents/{agent['id']}/messages", json={"message": f"message {i}"})
                           .status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    msgs = c.get(f"/api/agents/{agent['id']}/messages", params={"limit": 500}).json()["messages"]
    users = [m["content"] for m in msgs if m["role"] == "user" and m["name"] != "event"]
    assert sorted(users) == [f"message {i}" for i in range(4)]
    # each user message is followed by its own turn before the next user message (no interleaving)
    order = [m for m in msgs if m["role"] in ("user", "assistant") and m["name"] != "event"]
    for i, m in enumerate(order):
        if m["role"] == "user" and i + 1 < len(order):
            assert order[i + 1]["role"] == "assistant"
