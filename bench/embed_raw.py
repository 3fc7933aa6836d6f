"""Raw throughput of the numpy all-MiniLM-L6-v2 (memgpt.embeddings.local).

Builds ~200 passages of ~220 tokens (incl. [CLS]/[SEP]) from real documents,
then embeds them at several batch sizes and reports passages/s and tokens/s,
plus the cold-start cost (import + construct, weight load, first query).

    .venv/bin/python bench/embed_raw.py [--docs DIR] [--passages 200] [--tokens 220]
                                        [--batch-sizes 16,32,64] [--repeats 3] [--threads N]
                                        [--dump-passages FILE]

Prints a small table, then one JSON line with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DOCS = Path("/work/shared/data/docs")
TEXT_FILES = ["long_test.txt", "norwich-city.txt", "philosophical_question.txt", "wiki.md",
              "2305.03393v1.md", "2203.01017v2.md", "2206.01062.md", "test.md"]
PDF_FILES = ["memgpt_paper.pdf", "teaching-lm-reason.pdf", "normal_4pages.pdf"]


def read_corpus(docs: Path) -> list[str]:
    """Texts of whatever documents exist under ``docs`` (missing files are skipped)."""
    out: list[str] = []
    for name in TEXT_FILES:
        p = docs / name
        if p.is_file():
            out.append(p.read_text(encoding="utf-8", errors="replace"))
    try:
        import pypdfium2 as pdfium
    except ImportError:
        pdfium = None
    if pdfium is not None:
        for name in PDF_FILES:
            p = docs / name
            if not p.is_file():
                continue
            try:
                pdf = pdfium.PdfDocument(str(p))
                out.append("\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
                pdf.close()
            except Exception as exc:  # a broken PDF just drops out of the corpus
                print(f"skipping {p}: {exc}", file=sys.stderr)
    return [t for t in out if t.strip()]


def make_passages(texts: list[str], n: int, tokens: int) -> list[str]:
    """Cut texts into windows of ``tokens - 2`` word pieces (so ``tokens`` with [CLS]/[SEP])."""
    from memgpt.tokens import TokenCounter

    counter = TokenCounter()
    width = tokens - 2
    spans: list[tuple[str, list[tuple[int, int]]]] = [(t, counter.offsets(t)) for t in texts]
    spans = [(t, o) for t, o in spans if len(o) >= width]
    if not spans:
        raise SystemExit("no document long enough to cut passages from")
    out: list[str] = []
    shift = 0
    while len(out) < n:  # wrap around with shifted windows if the corpus is short
        for text, offs in spans:
            for i in range(shift, len(offs) - width + 1, width):
                out.append(text[offs[i][0] : offs[i + width - 1][1]])
                if len(out) == n:
                    return out
        shift += width // 3 + 1
        if shift >= width:
            shift = 1
    return out


def synthetic_passages(n: int) -> list[str]:
    words = ("the model reads a passage of ordinary english prose about rivers bridges markets and "
             "the people who lived in a small town during a long and eventful century").split()
    return [" ".join(words[(i + j) % len(words)] for j in range(200)) for i in range(n)]


def cold_start() -> dict[str, float]:
    """Import + construct, weight load and a first short query, in a fresh interpreter."""
    code = (
        "import time, json\n"
        "t0 = time.perf_counter()\n"
        "from memgpt.embeddings.local import LocalMiniLM\n"
        "t1 = time.perf_counter()\n"
        "m = LocalMiniLM()\n"
        "t2 = time.perf_counter()\n"
        "m.load()\n"
        "t3 = time.perf_counter()\n"
        "m.embed('what did my sister ask for her birthday?')\n"
        "t4 = time.perf_counter()\n"
        "print(json.dumps({'import_s': t1 - t0, 'construct_s': t2 - t1, 'load_weights_s': t3 - t2,"
        " 'first_query_s': t4 - t3}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)  # other work on the machine skews the numbers
    except OSError:  # pragma: no cover
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=220)
    ap.add_argument("--batch-sizes", default="16,32,64")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs per batch size")
    ap.add_argument("--threads", type=int, default=None, help="worker threads (default: one per core)")
    ap.add_argument("--dump-passages", type=Path, help="also write the passages as JSON (to bench other models)")
    args = ap.parse_args()

    from memgpt.embeddings.local import LocalMiniLM

    texts = read_corpus(args.docs) if args.docs.is_dir() else []
    source = "documents"
    if texts:
        passages = make_passages(texts, args.passages, args.tokens)
    else:
        print(f"no documents under {args.docs}; using synthetic passages", file=sys.stderr)
        passages, source = synthetic_passages(args.passages), "synthetic"

    if args.dump_passages:
        args.dump_passages.write_text(json.dumps(passages, ensure_ascii=False), encoding="utf-8")

    cold = cold_start()
    model = LocalMiniLM(threads=args.threads).load()
    lengths = model.token_lengths(passages)
    total_tokens = sum(lengths)
    model.embed_batch(passages[:32])  # warm-up

    query = "what did my sister ask for her birthday?"
    latencies = []
    for _ in range(30):
        t = time.perf_counter()
        model.embed(query)
        latencies.append(time.perf_counter() - t)
    query_ms = 1000 * sorted(latencies)[len(latencies) // 2]

    rows = []
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            model.embed_batch(passages, batch_size=bs)
            best = min(best, time.perf_counter() - t)
        rows.append({"batch_size": bs, "seconds": round(best, 3),
                     "passages_per_s": round(len(passages) / best, 2),
                     "tokens_per_s": round(total_tokens / best, 1)})

    print(f"{len(passages)} passages from {source}, mean {total_tokens / len(passages):.1f} tokens "
          f"(min {min(lengths)}, max {max(lengths)}); best of {args.repeats}")
    print(f"{'batch':>6} {'seconds':>8} {'passages/s':>11} {'tokens/s':>10}")
    for r in rows:
        print(f"{r['batch_size']:>6} {r['seconds']:>8.3f} {r['passages_per_s']:>11.2f} {r['tokens_per_s']:>10.0f}")
    print("cold start: import {import_s:.3f}s, construct {construct_s:.3f}s, load weights {load_weights_s:.3f}s, "
          "first query {first_query_s:.3f}s".format(**cold))
    print(f"one short query, warm: {query_ms:.1f} ms (median of {len(latencies)}); worker threads: {model.threads}")
    import numpy as np

    print(json.dumps({
        "bench": "embed_raw", "model": model.model_id, "passages": len(passages), "source": source,
        "mean_tokens": round(total_tokens / len(passages), 1), "results": rows,
        "cold_start": {k: round(v, 4) for k, v in cold.items()}, "query_ms": round(query_ms, 2),
        "threads": model.threads, "loadavg_1m": _loadavg(),
        "numpy": np.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "threads_env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ},
    }))


if __name__ == "__main__":
    main()
