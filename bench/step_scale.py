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

Each (database, size) runs in a fresh process, so the resident memory (RSS)
reported is that process's: after seeding, and after the steps (what the
searches' caches added). The baseline is the same run's 1k figure: the target
is p50 at 100k within 1.5x of p50 at 1k, per database and kind of step.

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
                said = f"{turns[(i // 3) % len(turns)]} {rng.choice(extra)}{i % 97}"
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


def one(db: str, n: int, steps: int) -> dict:
    """Seed ``n`` messages, run the steps; returns the figures (run in a fresh process)."""
    quiet_milvus()
    from step import HashEmbedder

    from memgpt.agent.factory import create_agent, open_agent
    from memgpt.config import Settings
    from memgpt.runtime import Runtime
    from memgpt.testing.scripted import ScriptedLLM, call, say

    rng = np.random.default_rng(n)
    turns, questions = corpus(rng)
    schema = None
    with tempfile.TemporaryDirectory() as home:
        if db == "postgresql":
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_DSN, autocommit=True) as c:
                c.execute(f"CREATE SCHEMA {schema}")
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        else:
            url = None
        try:
            llm = ScriptedLLM()
            settings = Settings(home=Path(home), metadata_uri=url) if url else Settings(home=Path(home))
            rt = Runtime(settings, llm_factory=llm.factory)
            rt.__dict__["embedder"] = HashEmbedder()
            state = create_agent(rt, rt.user.id, "bench", llm=llm)
            t0 = time.perf_counter()
            seed(rt.metadata.engine, state, n, rng, turns)
            seed_s = time.perf_counter() - t0
            state = rt.agents.get(state.id)
            agent = open_agent(rt, state, llm)
            rss_seeded = rss_mb()
            kinds = {
                "reply": lambda i: [say(f"ok {i}")],
                "search": lambda i: [call("conversation_search", {"query": questions[i % len(questions)],
                                                                   "request_heartbeat": True}),
                                     say("found it")],
            }
            out: dict = {"db": db, "messages": n, "seed_s": round(seed_s, 1), "rss_seeded_mb": round(rss_seeded, 1)}
            for kind, plan in kinds.items():
                times, first = [], None
                for i in range(steps + 3):
                    llm.queue(*plan(i))
                    calls = len(llm.replies)
                    t0 = time.perf_counter()
                    agent.step(f"message {i}: {turns[(7 * i) % len(turns)]}")
                    ms = (time.perf_counter() - t0) * 1000 / calls
                    if first is None:
                        first = ms
                    if i >= 3:  # the first steps warm caches (reported apart as the first step)
                        times.append(ms)
                    if len(agent.messages) > 40:
                        agent.messages = agent.messages[-20:]
                        while agent.messages and agent.messages[0].role == "tool":
                            agent.messages.pop(0)
                out[kind] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
                             "first_ms": round(first, 1), "n": len(times)}
            out["recall_count"] = agent.memory.recall_count()
            out["rss_end_mb"] = round(rss_mb(), 1)
            rt.close()
        finally:
            if schema:
                import psycopg

                with psycopg.connect(PG_DSN, autocommit=True) as c:
                    c.execute(f"DROP SCHEMA {schema} CASCADE")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--dbs", default="sqlite,postgresql")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--one", nargs=2, metavar=("DB", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.steps)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for db in args.dbs.split(","):
        for n in sizes:
            proc = subprocess.run([sys.executable, __file__, "--one", db, str(n), "--steps", str(args.steps)],
                                  capture_output=True, text=True, cwd=ROOT, env={**os.environ})
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit(f"{db} {n}: failed")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"  {db} {n}: reply p50 {r['reply']['p50_ms']} ms, search p50 {r['search']['p50_ms']} ms",
                  file=sys.stderr)
    rows, ratios = [], {}
    for r in results:
        base = next(b for b in results if b["db"] == r["db"] and b["messages"] == sizes[0])
        for kind in ("reply", "search"):
            ratio = r[kind]["p50_ms"] / base[kind]["p50_ms"]
            if r["messages"] == sizes[-1]:
                ratios[f"{r['db']}_{kind}"] = round(ratio, 2)
            rows.append([r["db"], r["messages"], kind, r[kind]["p50_ms"], r[kind]["p95_ms"], r[kind]["first_ms"],
                         f"{ratio:.2f}", r["rss_seeded_mb"], r["rss_end_mb"]])
    print(f"ms per LLM call; ratio = p50 / p50 at {sizes[0]} messages (target at {sizes[-1]}: <= {TARGET_RATIO})")
    print(table(["db", "messages", "step", "p50 ms", "p95 ms", "first ms", "ratio", "RSS seeded MB", "RSS end MB"],
                rows))
    ok = all(v <= TARGET_RATIO for v in ratios.values())
    print(json_line({"bench": "step_scale", "target_ratio": TARGET_RATIO, "ratios_largest_vs_smallest": ratios,
                     "within_target": ok, "results": results}))


if __name__ == "__main__":
    main()
