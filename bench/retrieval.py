"""Memory-retrieval quality through the project's own stores and search code.

    .venv/bin/python bench/retrieval.py --dataset locomo [--locomo-file PATH] [--conversations conv-26,conv-30]
    .venv/bin/python bench/retrieval.py --dataset nq [--nq-file PATH]
    .venv/bin/python bench/retrieval.py --dataset kv [--kv-file PATH] [--limit 100]
    .venv/bin/python bench/retrieval.py --dataset cmrc [--cmrc-file PATH] [--limit 500] [--embedding local|multilingual]
    .venv/bin/python bench/retrieval.py --dataset all

* **LoCoMo** (recall memory): each conversation becomes one agent in a temporary
  SQLite database (``open_engine``); every turn is stored as a message
  ``{speaker} said, "{text}"`` (+ `` [shares {caption}]``) with ``created_at`` =
  its session's date, embedded by ``AgentMemory.index_messages`` and searched
  by ``AgentMemory.recall_search`` (what ``conversation_search`` calls). Metric:
  evidence recall@k over the questions of categories 1-4 (category 5 apart).
* **NQ-Open oracle** (archival memory): the 2,600 gold passages (``title\\ntext``)
  as one source in a Milvus Lite file; ``MilvusArchivalStore.search_hybrid``
  (what ``archival_memory_search`` calls). Metric: gold@k.
* **KV-75** (archival memory): each example's 75 records ``"<key>": "<value>"``
  as one source; every key is a query; hit@k of its record. ``--limit`` examples
  (default 100 of 500: 7,500 queries) keep the run short.

* **CMRC 2018 dev** (archival memory, Simplified Chinese): the 848 paragraphs
  chunked as ``memgpt load`` chunks them, as one source in a Milvus Lite file;
  ``--limit`` questions (default 500) sampled with a fixed seed. A passage is
  gold when it comes from the question's paragraph and holds the answer text.
  Not part of ``--dataset all`` (the English sets).

Dense-only and BM25-only rows go through the same stores (``search_dense`` /
``search_lexical`` for recall; ``search`` / ``search_text`` for archival).
Embeddings are cached in ``bench/.cache`` across runs. Prints tables, then one
JSON line last (``{"results": [...]}`` with ``--dataset all``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import RETRIEVAL, CachedEmbedder, json_line, quiet_milvus, table

from memgpt.memory.search import HybridParams, lexical_terms
from memgpt.schemas import AgentState, Message, Passage, new_id, stable_id

KS = (1, 5, 10)
DIA = re.compile(r"D\d+:\d+")


# LoCoMo ---------------------------------------------------------------------------
def locomo_messages(conv: dict[str, Any]) -> tuple[list[Message], list[str]]:
    c = conv["conversation"]
    msgs, dia = [], []
    n = 1
    while f"session_{n}" in c:
        when = _session_date(c.get(f"session_{n}_date_time", ""))
        for turn in c[f"session_{n}"]:
            text = f'{turn["speaker"]} said, "{turn["text"]}"'
            if turn.get("blip_caption"):
                text += f' [shares {turn["blip_caption"]}]'
            msgs.append(Message(role="user", content=text, created_at=when))
            dia.append(turn["dia_id"])
        n += 1
    return msgs, dia


def _session_date(s: str) -> datetime:
    try:
        return datetime.strptime(s.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=timezone.utc)


def run_locomo(path: Path, conversations: Sequence[str] | None, embedder: CachedEmbedder,
               params: HybridParams, sweep: bool) -> dict[str, Any]:
    from memgpt.agent.memory import AgentMemory
    from memgpt.memory.recall import RecallStore
    from memgpt.store.agents import AgentStore
    from memgpt.store.metadata import MetadataStore
    from memgpt.store.sql import open_engine

    data = json.loads(path.read_text())
    if conversations:
        data = [c for c in data if c["sample_id"] in conversations]
    t0 = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="memgpt-bench-")
    engine = open_engine(f"sqlite:///{tmp.name}/recall.db")
    user = MetadataStore(engine).get_or_create_user()
    agents, recall = AgentStore(engine), RecallStore(engine)
    # per method -> per conversation -> list of (category, gold set, ranked dia ids)
    runs: dict[str, list[tuple[str, int, set[str], list[str]]]] = defaultdict(list)
    betas = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7) if sweep else ()
    timing = {"index_s": 0.0, "search_ms": []}
    for conv in data:
        state = AgentState(id=new_id("agent"), user_id=user.id, name=conv["sample_id"], persona="", human="",
                           preset="bench", system_prompt="", llm_config={}, embedding_model=embedder.model_id,
                           embedding_dim=embedder.dim)
        msgs, dia = locomo_messages(conv)
        agents.create(state, msgs)
        memory = AgentMemory(state, agents, recall, None, embedder, page_size=10)  # type: ignore[arg-type]
        ti = time.perf_counter()
        memory.index_messages(msgs)
        timing["index_s"] += time.perf_counter() - ti
        to_dia = {m.id: d for m, d in zip(msgs, dia)}
        qa = [q for q in conv["qa"] if DIA.findall(" ".join(map(str, q.get("evidence", []))))]
        qvecs = embedder.embed_query_batch([q["question"] for q in qa])
        for q, qv in zip(qa, qvecs):
            gold = set(DIA.findall(" ".join(map(str, q["evidence"]))))
            key = (conv["sample_id"], int(q["category"]), gold)
            ts = time.perf_counter()
            found, _ = memory.recall_search(q["question"])
            timing["search_ms"].append(1000 * (time.perf_counter() - ts))
            runs["hybrid (ours)"].append((*key, [to_dia[m.id] for m in found]))
            runs["dense"].append((*key, [to_dia[h.id] for h in
                                         recall.search_dense(state.id, qv, embedder.model_id, limit=10)]))
            lex, _ = recall.search_lexical(state.id, q["question"], limit=10, count=False)
            runs["bm25 (fts)"].append((*key, [to_dia[h.id] for h in lex]))
            found, _ = recall.search(state.id, q["question"], limit=10, vector=qv, model=embedder.model_id,
                                     params=replace(params, beta=0.0))
            runs["hybrid, no neighbours"].append((*key, [to_dia[m.id] for m in found]))
            for b in betas:
                found, _ = recall.search(state.id, q["question"], limit=10, vector=qv, model=embedder.model_id,
                                         params=replace(params, beta=b))
                runs[f"sweep beta={b}"].append((*key, [to_dia[m.id] for m in found]))
    embedder.save()
    engine.dispose()
    tmp.cleanup()

    def score(rows: list[tuple[str, int, set[str], list[str]]]) -> dict[str, Any]:
        main = [r for r in rows if r[1] in (1, 2, 3, 4)]
        out: dict[str, Any] = {"n": len(main)}
        for k in KS:
            out[f"recall@{k}"] = _mean([len(g & set(r[:k])) / len(g) for _, _, g, r in main])
        cats: dict[str, Any] = {}
        for cat in (1, 2, 3, 4, 5):
            sub = [r for r in rows if r[1] == cat]
            if sub:
                cats[str(cat)] = {"n": len(sub), **{f"recall@{k}": _mean([len(g & set(r[:k])) / len(g)
                                                                          for _, _, g, r in sub]) for k in (5, 10)}}
        out["per_category"] = cats
        return out

    convs = sorted({r[0] for r in runs["dense"]})
    methods = {m: {"all": score(rows), **{c: score([r for r in rows if r[0] == c]) for c in convs}}
               for m, rows in runs.items()}
    head = ["method", "split", "n", "R@1", "R@5", "R@10", *[f"c{c} R@5" for c in (1, 2, 3, 4, 5)]]
    body = []
    for m, res in methods.items():
        for split in ("all", *convs) if len(convs) > 1 else ("all",):
            r = res[split]
            body.append([m, split, r["n"], r["recall@1"], r["recall@5"], r["recall@10"],
                         *[r["per_category"].get(str(c), {}).get("recall@5", "-") for c in (1, 2, 3, 4, 5)]])
    print(f"\nLoCoMo evidence recall (categories 1-4; c5 = adversarial, apart); alpha={params.alpha} "
          f"beta={params.beta}")
    print(table(head, body))
    ms = timing["search_ms"]
    elapsed = time.perf_counter() - t0
    print(f"indexing {timing['index_s']:.1f}s, hybrid recall_search p50 {_pct(ms, 50):.1f} ms "
          f"p99 {_pct(ms, 99):.1f} ms, total {elapsed:.1f}s")
    ours = methods["hybrid (ours)"]["all"]
    return {"dataset": "locomo", "n": ours["n"], **{f"recall@{k}": ours[f"recall@{k}"] for k in KS},
            "per_category": ours["per_category"], "conversations": convs,
            "splits": {c: {f"recall@{k}": methods["hybrid (ours)"][c][f"recall@{k}"] for k in KS} for c in convs},
            "reference": {m: {f"recall@{k}": r["all"][f"recall@{k}"] for k in KS} for m, r in methods.items()
                          if m != "hybrid (ours)"},
            "params": {"alpha": params.alpha, "beta": params.beta}, "seconds": round(elapsed, 1)}


# archival datasets ------------------------------------------------------------------
def _archival(tmpdir: str, embedder: CachedEmbedder):  # noqa: ANN202
    from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection

    quiet_milvus()
    conn = MilvusConnection(str(Path(tmpdir) / "milvus.db"))
    return conn, MilvusArchivalStore(conn, embedder.model_id, embedder.dim)


def _archival_methods(store, params: HybridParams) -> dict[str, Callable[..., list[str]]]:  # noqa: ANN001
    def dense(q: str, v: Any, scope: Any) -> list[str]:
        return [h.passage.id for h in store.search(v, scope, limit=10)]

    def bm25(q: str, v: Any, scope: Any) -> list[str]:
        return [h.passage.id for h in store.search_text(" ".join(lexical_terms(q)), scope, limit=10)]

    def hybrid(q: str, v: Any, scope: Any) -> list[str]:
        return [h.passage.id for h in store.search_hybrid(q, v, scope, limit=10, params=params)]

    return {"dense": dense, "bm25 (milvus)": bm25, "hybrid (ours)": hybrid}


def _archival_report(name: str, hits: dict[str, list[int]], ms: dict[str, list[float]], extra: dict[str, Any],
                     elapsed: float) -> dict[str, Any]:
    rows, res = [], {}
    for m, ranks in hits.items():
        r = {f"recall@{k}": _mean([1.0 if 0 <= x < k else 0.0 for x in ranks]) for k in KS}
        res[m] = r
        rows.append([m, len(ranks), r["recall@1"], r["recall@5"], r["recall@10"], _pct(ms[m], 50), _pct(ms[m], 99)])
    print(f"\n{name}: gold passage in the top k")
    print(table(["method", "n", "@1", "@5", "@10", "p50 ms", "p99 ms"], rows))
    print(f"total {elapsed:.1f}s")
    ours = res["hybrid (ours)"]
    return {"dataset": name, "n": len(hits["hybrid (ours)"]), **ours,
            "reference": {m: r for m, r in res.items() if m != "hybrid (ours)"}, **extra,
            "seconds": round(elapsed, 1)}


def _run_queries(methods: dict[str, Callable[..., list[str]]], queries: list[tuple[str, Any, Any, str]],
                 hits: dict[str, list[int]], ms: dict[str, list[float]]) -> None:
    for q, v, scope, gold in queries:
        for m, fn in methods.items():
            ts = time.perf_counter()
            ranked = fn(q, v, scope)
            ms[m].append(1000 * (time.perf_counter() - ts))
            hits[m].append(ranked.index(gold) if gold in ranked else -1)


def run_nq(path: Path, embedder: CachedEmbedder, params: HybridParams, limit: int | None) -> dict[str, Any]:
    from memgpt.memory.archival import Scope

    t0 = time.perf_counter()
    rows = [json.loads(line) for line in gzip.open(path, "rt")]
    if limit:
        rows = rows[:limit]
    user, source = new_id("user"), new_id("source")
    passages: dict[str, str] = {}
    gold = []
    for r in rows:
        ctx = next((c for c in r["ctxs"] if c.get("isgold")), r["ctxs"][0])
        text = f"{ctx['title']}\n{ctx['text']}"
        pid = stable_id("passage", source, text)
        passages.setdefault(pid, text)
        gold.append(pid)
    with tempfile.TemporaryDirectory(prefix="memgpt-bench-") as tmp:
        conn, store = _archival(tmp, embedder)
        ids = list(passages)
        te = time.perf_counter()
        vecs = embedder.embed_batch([passages[i] for i in ids])
        qvecs = embedder.embed_query_batch([r["question"] for r in rows])
        embed_s = time.perf_counter() - te
        embedder.save()
        ti = time.perf_counter()
        store.insert([Passage(id=i, user_id=user, text=passages[i], embedding=v, source_id=source)
                      for i, v in zip(ids, vecs)])
        insert_s = time.perf_counter() - ti
        scope = Scope(user, source_ids=(source,))
        hits: dict[str, list[int]] = defaultdict(list)
        ms: dict[str, list[float]] = defaultdict(list)
        _run_queries(_archival_methods(store, params), [(r["question"], v, scope, g)
                                                        for r, v, g in zip(rows, qvecs, gold)], hits, ms)
        conn.close()
    print(f"\nNQ: {len(ids)} passages, embedding {embed_s:.1f}s (cache: {embedder.embedded} new), "
          f"insert {insert_s:.1f}s")
    return _archival_report("nq", hits, ms, {"passages": len(ids)}, time.perf_counter() - t0)


def run_kv(path: Path, embedder: CachedEmbedder, params: HybridParams, limit: int | None) -> dict[str, Any]:
    from memgpt.memory.archival import Scope

    t0 = time.perf_counter()
    examples = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            examples.append(json.loads(line))
            if limit and len(examples) >= limit:
                break
    user = new_id("user")
    with tempfile.TemporaryDirectory(prefix="memgpt-bench-") as tmp:
        conn, store = _archival(tmp, embedder)
        methods = _archival_methods(store, params)
        hits: dict[str, list[int]] = defaultdict(list)
        ms: dict[str, list[float]] = defaultdict(list)
        for ex in examples:
            source = new_id("source")
            records = [(str(k), str(v)) for k, v in ex["ordered_kv_records"]]
            texts = [f'"{k}": "{v}"' for k, v in records]
            ids = [stable_id("passage", source, t) for t in texts]
            vecs = embedder.embed_batch(texts)
            qvecs = embedder.embed_query_batch([k for k, _ in records])
            store.insert([Passage(id=i, user_id=user, text=t, embedding=v, source_id=source)
                          for i, t, v in zip(ids, texts, vecs)])
            scope = Scope(user, source_ids=(source,))
            _run_queries(methods, [(k, qv, scope, i) for (k, _), qv, i in zip(records, qvecs, ids)], hits, ms)
        embedder.save()
        conn.close()
    return _archival_report("kv", hits, ms, {"examples": len(examples)}, time.perf_counter() - t0)


def run_cmrc(path: Path, embedder: CachedEmbedder, params: HybridParams, limit: int) -> dict[str, Any]:
    import random

    from memgpt.ingest.chunking import chunk_text
    from memgpt.memory.archival import Scope
    from memgpt.config import Settings

    t0 = time.perf_counter()
    data = json.loads(gzip.open(path, "rt", encoding="utf-8").read())
    user, source = new_id("user"), new_id("source")
    counter = embedder.token_counter()
    size, overlap = min(Settings.chunk_size, embedder.max_tokens - 2), Settings.chunk_overlap
    passages: dict[str, str] = {}
    by_para: dict[int, list[str]] = defaultdict(list)
    questions: list[tuple[str, str, int]] = []
    for para_no, para in enumerate(p for art in data["data"] for p in art["paragraphs"]):
        for k, chunk in enumerate(chunk_text(para["context"], counter, size, overlap)):
            pid = stable_id("passage", source, str(para_no), str(k))
            passages[pid] = chunk
            by_para[para_no].append(pid)
        for qa in para["qas"]:
            questions.append((qa["question"], qa["answers"][0]["text"], para_no))
    random.Random(14).shuffle(questions)
    questions = questions[:limit]
    with tempfile.TemporaryDirectory(prefix="memgpt-bench-") as tmp:
        conn, store = _archival(tmp, embedder)
        ids = list(passages)
        te = time.perf_counter()
        vecs = embedder.embed_batch([passages[i] for i in ids])
        qvecs = embedder.embed_query_batch([q for q, _, _ in questions])
        embed_s = time.perf_counter() - te
        embedder.save()
        store.insert([Passage(id=i, user_id=user, text=passages[i], embedding=v, source_id=source)
                      for i, v in zip(ids, vecs)])
        scope = Scope(user, source_ids=(source,))
        hits: dict[str, list[int]] = defaultdict(list)
        ms: dict[str, list[float]] = defaultdict(list)
        for m, fn in _archival_methods(store, params).items():
            for (q, answer, para_no), v in zip(questions, qvecs):
                gold = {pid for pid in by_para[para_no] if answer in passages[pid]} or set(by_para[para_no])
                ts = time.perf_counter()
                ranked = fn(q, v, scope)
                ms[m].append(1000 * (time.perf_counter() - ts))
                hits[m].append(next((r for r, pid in enumerate(ranked) if pid in gold), -1))
        conn.close()
    print(f"\nCMRC 2018 dev: {len(ids)} passages from {len(by_para)} paragraphs, {len(questions)} questions, "
          f"{embedder.model_id}, embedding {embed_s:.1f}s (cache: {embedder.embedded} new)")
    return _archival_report("cmrc", hits, ms, {"passages": len(ids), "model": embedder.model_id},
                            time.perf_counter() - t0)


# ---------------------------------------------------------------------------------
def _mean(xs: Sequence[float]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else float("nan")


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))], 2)


def _embedding(name: str):  # noqa: ANN202
    from memgpt.embeddings import make_local

    return make_local("multilingual-e5-small" if name == "multilingual" else "all-MiniLM-L6-v2")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["locomo", "nq", "kv", "cmrc", "all"], default="all")
    ap.add_argument("--cmrc-file", type=Path, default=RETRIEVAL / "cmrc2018_dev.json.gz")
    ap.add_argument("--embedding", choices=["local", "multilingual"], default="local",
                    help="local all-MiniLM-L6-v2 (default) or multilingual-e5-small (memgpt[multilingual])")
    ap.add_argument("--locomo-file", type=Path, default=RETRIEVAL / "locomo_dev.json")
    ap.add_argument("--nq-file", type=Path, default=RETRIEVAL / "nq-open-oracle.jsonl.gz")
    ap.add_argument("--kv-file", type=Path, default=RETRIEVAL / "kv-retrieval-75_keys.jsonl.gz")
    ap.add_argument("--conversations", default="", help="comma-separated LoCoMo sample ids (default: all)")
    ap.add_argument("--limit", type=int, default=None,
                    help="examples to use: KV default 100 (of 500), NQ default all")
    ap.add_argument("--alpha", type=float, default=HybridParams.alpha)
    ap.add_argument("--beta", type=float, default=HybridParams.beta)
    ap.add_argument("--sweep", action="store_true", help="LoCoMo: also rank at several neighbour weights")
    args = ap.parse_args(argv)
    params = HybridParams(alpha=args.alpha, beta=args.beta)
    embedder = CachedEmbedder(_embedding(args.embedding))
    todo = ["locomo", "nq", "kv"] if args.dataset == "all" else [args.dataset]
    results = []
    for name in todo:
        file = {"locomo": args.locomo_file, "nq": args.nq_file, "kv": args.kv_file, "cmrc": args.cmrc_file}[name]
        if not file.exists():
            print(f"{name}: {file} not found, skipped", file=sys.stderr)
            continue
        if name == "locomo":
            convs = [c.strip() for c in args.conversations.split(",") if c.strip()] or None
            res = run_locomo(file, convs, embedder, params, args.sweep)
        elif name == "cmrc":
            res = run_cmrc(file, embedder, params, args.limit or 500)
        elif name == "nq":
            res = run_nq(file, embedder, params, args.limit)
        else:
            res = run_kv(file, embedder, params, args.limit or 100)
        results.append(res)
        if len(todo) > 1:
            print(json_line(res))
    if not results:
        return 1
    print(json_line(results[0] if len(todo) == 1 else {"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
