"""Ingest throughput: ``memgpt load`` end to end against raw embedding throughput.

For each corpus (the MemGPT paper; the whole ../shared/data/docs folder):

* e2e: ``memgpt load directory`` as a fresh process on a fresh home (wall time,
  including interpreter start, imports, model load, Milvus Lite start, reading,
  chunking, embedding, writing);
* raw: the same model embedding the same chunks in one warm process, batched
  (the physical limit for this machine);
* fixed start-up: a process that imports memgpt, loads the model and opens
  Milvus Lite, and does nothing else.

Prints a table, then one JSON line. Usage: python bench/ingest.py [--docs DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT.parent / "shared" / "data" / "docs"

STARTUP = """
import time, sys
t0 = time.perf_counter()
from memgpt.config import load_settings
from memgpt.runtime import Runtime
rt = Runtime(load_settings())
rt.embedder.embed_batch(["warm up"])
rt.archival().conn.ensure_collection(rt.archival().collection, 384)
print(time.perf_counter() - t0)
rt.close()
"""


def chunks_of(files: list[Path]) -> list[str]:
    from memgpt.config import Settings
    from memgpt.ingest.chunking import chunk_text
    from memgpt.ingest.readers import read_file
    from memgpt.tokens import default_counter

    s = Settings()
    out: list[str] = []
    for f in files:
        try:
            docs = read_file(f)
        except Exception:  # noqa: BLE001 - the load reports these too
            continue
        for d in docs:
            out.extend(chunk_text(d.text, default_counter(), s.chunk_size, s.chunk_overlap))
    return out


def e2e(files: list[Path], name: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MEMGPT_HOME": home}
        args = [sys.executable, "-m", "memgpt", "load", "directory", "--name", name, "--no-progress",
                "--input-files", *map(str, files)]
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    n = int(last.split()[1]) if last.startswith("Loaded ") else 0
    return wall, n, last


def startup() -> float:
    with tempfile.TemporaryDirectory() as home:
        # Create the collection first so the measured run opens an existing store, as a repeat load does.
        env = {**os.environ, "MEMGPT_HOME": home}
        subprocess.run([sys.executable, "-c", STARTUP], env=env, capture_output=True, check=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", STARTUP], env=env, capture_output=True, check=True)
        wall = time.perf_counter() - t0
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=Path, default=DOCS)
    args = ap.parse_args()
    if not args.docs.is_dir():
        sys.exit(f"documents not found at {args.docs} (clone ../shared beside the repo)")
    from memgpt.embeddings.local import LocalMiniLM

    corpora = {
        "paper": [args.docs / "memgpt_paper.pdf"],
        "docs_folder": sorted(p for p in args.docs.iterdir() if p.name != "MANIFEST.json"),
    }
    model = LocalMiniLM()
    model.embed_batch(["warm up the model"])
    start = startup()
    rows = []
    for name, files in corpora.items():
        texts = chunks_of(files)
        t0 = time.perf_counter()
        model.embed_batch(texts)
        raw_s = time.perf_counter() - t0
        wall, n, last = e2e(files, name)
        raw_rate = len(texts) / raw_s
        rows.append({"corpus": name, "files": len(files), "passages": n, "chunks_raw": len(texts),
                     "e2e_wall_s": round(wall, 2), "e2e_passages_per_s": round(n / wall, 2),
                     "raw_embed_s": round(raw_s, 2), "raw_passages_per_s": round(raw_rate, 2),
                     "overhead_s": round(wall - raw_s, 2),
                     "ratio": round((n / wall) / raw_rate, 3), "last_line": last})

    print(f"start-up done one after another (imports, model, Milvus Lite open; a load overlaps them): {start:.2f} s")
    print("overhead = e2e wall - raw embedding time: everything memgpt adds to the physical limit, start-up included")
    print(f"{'corpus':<12} {'files':>5} {'passages':>8} {'e2e s':>7} {'raw s':>6} {'overhead s':>10} "
          f"{'e2e p/s':>8} {'raw p/s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['corpus']:<12} {r['files']:>5} {r['passages']:>8} {r['e2e_wall_s']:>7} {r['raw_embed_s']:>6} "
              f"{r['overhead_s']:>10} {r['e2e_passages_per_s']:>8} {r['raw_passages_per_s']:>8} {r['ratio']:>6}")
    print(json.dumps({"bench": "ingest", "machine": f"{os.cpu_count()} cores", "sequential_startup_s": round(start, 2),
                      "results": rows}))


if __name__ == "__main__":
    main()
