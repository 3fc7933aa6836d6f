"""Step overhead as recall memory grows: 1k, 10k and 100k messages, on SQLite and PostgreSQL.

What a step costs memgpt itself (no LLM latency, no embedding: the model is a
script and vectors come from a hash) for one agent whose recall memory holds N
messages, for two kinds of step: a plain reply, and a conversation_search
followed by a reply. Time is per LLM call (a search step makes two), like
bench/step.py. The history is seeded by bulk SQL (the same rows and vectors the
agent writes): the text of real conversation turns (LoCoMo dev, from
../shared/data; a Zipf-distributed vocabulary when absent), each with a few
words of its own, and a unit vector per searchable message. Search queries are
the LoCoMo questions.

Each database runs in a fresh process holding one agent per size (each in its
own database file or PostgreSQL schema), stepped in turn, so the load of a
shared machine falls on every size alike. Memory: the process's resident set
(RSS) at start, after seeding and after the steps, and per size the memory of
the recall store's vector cache. Quality: the oldest message of each history
holds rare words (NEEDLE), and after the steps conversation_search by those
words must rank it first (reported as its rank). The baseline is the same run's 1k figure: the
target is p50 at 100k within 1.5x of p50 at 1k, per database and kind of step.

Prints a table, then one JSON line.
Usage: python bench/step_scale.py [--sizes 1000,10000,100000] [--dbs sqlite,postgresql] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, ROOT, json_line, percentile, quiet_milvus, table  # noqa: E402

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_RATIO = 1.5
# The oldest message of every history: after the steps, conversation_search must still find it first (by its rare
# words; at 100k it is older than the meaning search's window, so its vector counts through the word match).
NEEDLE = "My locker combination at the Zanzibar climbing gym is 4471, please remember it"
NEEDLE_QUERY = "what is my Zanzibar locker combination"
DIM = 384


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def corpus(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Conversation turns and questions: LoCoMo dev when present, else generated."""
    path = DATA / "retrieval" / "locomo_dev.json"
    if path.exists():
        data = json.loads(path.read_text())
        turns, questions = [], []
        for conv in data:
            c = conv["conversation"]
            for key, session in c.items():
                if key.startswith("session_") and isinstance(session, list):
                    turns += [t["text"] for t in session]
            questions += [q["question"] for q in conv["qa"] if q.get("question")]
        return turns, questions
    vocab = [f"w{i}" for i in range(5000)]
    p = 1.0 / np.arange(1, 5001)
    p /= p.sum()
    turns = [" ".join(rng.choice(vocab, 14, p=p)) for _ in range(800)]
    return turns, [" ".join(rng.choice(vocab, 5, p=p)) for _ in range(200)]


def seed(engine, state, n: int, rng: np.random.Generator, turns: list[str]) -> None:  # noqa: ANN001
    """``n`` messages of history (user, assistant, tool in turn), vectors for the searchable ones, by bulk SQL."""
    from datetime import timedelta

    from sqlalchemy import insert, inspect, select, text

    from memgpt.memory.recall import text_hash
    from memgpt.schemas import new_id, utcnow
    from memgpt.store import tables as t

    vcols = {c["name"] for c in inspect(engine).get_columns("message_vectors")}
    acols = {c["name"] for c in inspect(engine).get_columns("agents")}
    extra = [f"{w}{rng.integers(1000)}" for w in ("topic", "item", "note")]
    start = utcnow() - timedelta(days=365)
    batch = 5000
    with engine.begin() as conn:
        for lo in range(0, n, batch):
            rows, searchable = [], []
            for i in range(lo, min(n, lo + batch)):
                role = ("user", "assistant", "tool")[i % 3]
                said = NEEDLE if i == 0 else f"{turns[(i // 3) % len(turns)]} {rng.choice(extra)}{i % 97}"
                mid = new_id("message")
                if role == "user":
                    row = {"content": said, "search_text": said, "tool_calls": None, "tool_call_id": None}
                elif role == "assistant":
                    row = {"content": "thinking", "search_text": f"thinking {said}", "tool_call_id": None,
                           "tool_calls": [{"id": f"c{i}", "name": "send_message",
                                           "arguments": json.dumps({"message": said})}]}
                else:
                    row = {"content": '{"status": "OK", "message": "None"}', "search_text": None,
                           "tool_calls": None, "tool_call_id": f"c{i - 1}"}
                rows.append({"id": mid, "user_id": state.user_id, "agent_id": state.id, "role": role,
                             "search_words": None, "name": None,
                             "created_at": start + timedelta(seconds=300 * i), **row})
                if row["search_text"]:
                    searchable.append((mid, row["search_text"]))
            conn.execute(insert(t.messages), rows)
            seqs = dict(conn.execute(select(t.messages.c.id, t.messages.c.seq).where(
                t.messages.c.id.in_([m for m, _ in searchable]))).all())
            vecs = rng.standard_normal((len(searchable), DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            if lo == 0:  # the needle's vector: near its question, as a good embedding model puts it
                from step import HashEmbedder

                vecs[0] = HashEmbedder().embed(NEEDLE_QUERY)
            vrows = [{"message_id": m, "agent_id": state.id, "user_id": state.user_id, "seq": seqs[m],
                      "model": "local/all-MiniLM-L6-v2", "dim": DIM, "text_hash": text_hash(st),
                      "vector": v.astype("<f4").tobytes()} for (m, st), v in zip(searchable, vecs)]
            if "rev" in vcols:
                for r in vrows:
                    r["rev"] = r["seq"]
            conn.execute(insert(t.message_vectors), vrows)
        sets = []
        if "message_count" in acols:
            sets.append("message_count = (SELECT count(*) FROM messages WHERE agent_id = :a)")
        if "vector_rev" in acols:
            sets.append("vector_rev = (SELECT coalesce(max(rev), 0) FROM message_vectors WHERE agent_id = :a)")
        if sets:
            conn.execute(text(f"UPDATE agents SET {', '.join(sets)} WHERE id = :a"), {"a": state.id})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum does after a bulk load


def cache_mb(recall) -> float:  # noqa: ANN001
    """Memory held by the recall store's per-agent vector caches."""
    total = 0
    for m in list(getattr(recall, "_cache", {}).values()):
        arr = getattr(m, "buf", None)
        total += (arr if arr is not None else m.vectors).nbytes
    return total / 2**20


def run_db(db: str, sizes: list[int], steps: int) -> list[dict]:
    """One agent per size, each in its own database, stepped in turn (so load on the machine
    falls on every size alike); returns the figures per size."""
    quiet_milvus()
    from step import HashEmbedder

    from memgpt.agent.factory import create_agent, open_agent
    from memgpt.config import Settings
    from memgpt.runtime import Runtime
    from memgpt.testing.scripted import ScriptedLLM, call, say

    rss_start = rss_mb()
    rng = np.random.default_rng(0)
    turns, questions = corpus(rng)
    schemas, homes, runs = [], [], []
    try:
        for n in sizes:
            home = tempfile.TemporaryDirectory()
            homes.append(home)
            url = None
            if db == "postgresql":
                import psycopg

                schema = f"bench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(PG_DSN, autocommit=True) as c:
                    c.execute(f"CREATE SCHEMA {schema}")
                schemas.append(schema)
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            llm = ScriptedLLM()
            settings = Settings(home=Path(home.name), metadata_uri=url) if url else Settings(home=Path(home.name))
            rt = Runtime(settings, llm_factory=llm.factory)
            rt.__dict__["embedder"] = HashEmbedder()
            state = create_agent(rt, rt.user.id, "bench", llm=llm)
            t0 = time.perf_counter()
            seed(rt.metadata.engine, state, n, np.random.default_rng(n), turns)
            agent = open_agent(rt, rt.agents.get(state.id), llm)
            runs.append({"n": n, "rt": rt, "llm": llm, "agent": agent, "seed_s": time.perf_counter() - t0,
                         "times": {"reply": [], "search": []}, "first": {}})
        rss_seeded = rss_mb()
        plans = {
            "reply": lambda i: [say(f"ok {i}")],
            "search": lambda i: [call("conversation_search", {"query": questions[i % len(questions)],
                                                               "request_heartbeat": True}), say("found it")],
        }
        for i in range(steps + 3):
            for r in runs:
                for kind, plan in plans.items():
                    llm, agent = r["llm"], r["agent"]
                    llm.queue(*plan(i))
                    calls = len(llm.replies)
                    t0 = time.perf_counter()
                    agent.step(f"message {i}: {turns[(7 * i) % len(turns)]}")
                    ms = (time.perf_counter() - t0) * 1000 / calls
                    r["first"].setdefault(kind, ms)
                    if i >= 3:  # the first steps warm caches (the very first is reported apart)
                        r["times"][kind].append(ms)
                    if len(agent.messages) > 40:
                        agent.messages = agent.messages[-20:]
                        while agent.messages and agent.messages[0].role == "tool":
                            agent.messages.pop(0)
        out = []
        for r in runs:
            found, _ = r["agent"].memory.recall_search(NEEDLE_QUERY)
            rank = next((k + 1 for k, m in enumerate(found) if m.content == NEEDLE), None)
            res = {"db": db, "messages": r["n"], "recall_count": r["agent"].memory.recall_count(), "needle_rank": rank,
                   "seed_s": round(r["seed_s"], 1), "cache_mb": round(cache_mb(r["rt"].recall), 1)}
            for kind, times in r["times"].items():
                res[kind] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
                             "first_ms": round(r["first"][kind], 1), "n": len(times)}
            out.append(res)
        rss_end = rss_mb()
        for res in out:
            res.update(rss_start_mb=round(rss_start, 1), rss_seeded_mb=round(rss_seeded, 1), rss_end_mb=round(rss_end, 1))
        for r in runs:
            r["rt"].close()
        return out
    finally:
        for home in homes:
            home.cleanup()
        if schemas:
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as c:
                for schema in schemas:
                    c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--dbs", default="sqlite,postgresql")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--one", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.one:
        print(json.dumps(run_db(args.one, sizes, args.steps)))
        return
    results = []
    for db in args.dbs.split(","):
        proc = subprocess.run([sys.executable, __file__, "--one", db, "--sizes", args.sizes, "--steps", str(args.steps)],
                              capture_output=True, text=True, cwd=ROOT, env={**os.environ})
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"{db}: failed")
        results += json.loads(proc.stdout.strip().splitlines()[-1])
    rows, ratios = [], {}
    for r in results:
        base = next(b for b in results if b["db"] == r["db"] and b["messages"] == sizes[0])
        for kind in ("reply", "search"):
            ratio = r[kind]["p50_ms"] / base[kind]["p50_ms"]
            if r["messages"] == sizes[-1]:
                ratios[f"{r['db']}_{kind}"] = round(ratio, 2)
            rows.append([r["db"], r["messages"], kind, r[kind]["p50_ms"], r[kind]["p95_ms"], r[kind]["first_ms"],
                         f"{ratio:.2f}", r["cache_mb"], r["needle_rank"] or "not found"])
    print(f"ms per LLM call; ratio = p50 / p50 at {sizes[0]} messages (target at {sizes[-1]}: <= {TARGET_RATIO}); "
          "the sizes' agents are stepped in turn in one process per database")
    print(table(["db", "messages", "step", "p50 ms", "p95 ms", "first ms", "ratio", "vector cache MB",
                 "oldest message's rank"], rows))
    for db in dict.fromkeys(r["db"] for r in results):
        r = next(x for x in results if x["db"] == db)
        print(f"{db}: RSS {r['rss_start_mb']} MB at start, {r['rss_seeded_mb']} MB seeded, {r['rss_end_mb']} MB "
              "after the steps (all sizes' agents in one process)")
    ok = all(v <= TARGET_RATIO for v in ratios.values()) and all(r["needle_rank"] == 1 for r in results)
    print(json_line({"bench": "step_scale", "target_ratio": TARGET_RATIO, "ratios_largest_vs_smallest": ratios,
                     "within_target": ok, "results": results}))


if __name__ == "__main__":
    main()
