"""Helpers of the fault suite: real ``memgpt`` processes killed, raced and starved of disk, then checked.

Every test here runs the CLI as ``python -m memgpt`` in subprocesses against a
temporary MEMGPT_HOME (Milvus Lite + SQLite, or PostgreSQL for the ``pg``
variants) and afterwards compares, id by id, what SQL records with what Milvus
holds. Texts are generated, so nothing here needs ../shared.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORDS = ("memory archive agent context window passage recall vector index storage process disk token "
         "summary message persona human source document chunk embed search rank fault crash kill lock "
         "queue batch flush write read claim version block").split()


def text_file(path: Path, seed: int, n_words: int = 700) -> Path:
    """A plain-text file of ``n_words`` generated words (about 3 passages per 700 words)."""
    rng = random.Random(seed)
    sentences = []
    while sum(len(s.split()) for s in sentences) < n_words:
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize()
                         + f" (item {seed}-{len(sentences)}).")
    path.write_text(" ".join(sentences) + "\n", encoding="utf-8")
    return path


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update({"MEMGPT_HOME": str(home), "PYTHONUNBUFFERED": "1", **extra})
    return env


def memgpt(home: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memgpt", *args], env=cli_env(home, **env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def memgpt_bg(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "memgpt", *args], env=cli_env(home, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


@dataclass
class Ledger:
    """What SQL and Milvus hold for one source, id by id."""

    sql_passages: set[str]
    milvus_passages: set[str]
    loaded_documents: int
    claimed_documents: int
    source_exists: bool

    def agree(self) -> bool:
        return self.sql_passages == self.milvus_passages and self.claimed_documents == 0


_LEDGER = r"""
import json, sys
from pathlib import Path
from sqlalchemy import text
from memgpt.config import load_settings
from memgpt.runtime import Runtime
rt = Runtime(load_settings(Path(sys.argv[1])))
src = rt.metadata.find_source(rt.user.id, sys.argv[2])
out = {"sql": [], "milvus": [], "loaded": 0, "claimed": 0, "exists": src is not None}
if src is not None:
    with rt.metadata.engine.connect() as conn:
        q = "SELECT id FROM passages WHERE source_id = :s"
        out["sql"] = list(conn.scalars(text(q), {"s": src.id}))
        cols = {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("documents")}
        state = "load_state" if "load_state" in cols else "'loaded'"
        states = list(conn.scalars(text(f"SELECT {state} FROM documents WHERE source_id = :s"), {"s": src.id}))
    out["loaded"] = sum(s == "loaded" for s in states)
    out["claimed"] = len(states) - out["loaded"]
    store = rt.archival(src.embedding_model, src.embedding_dim)
    client = store.conn.client  # read Milvus directly, not through the code under test
    store.conn.ensure_collection(store.collection, store.dim)
    it = client.query_iterator(store.collection, batch_size=4096, output_fields=["id"],
                               filter=f'source_id == "{src.id}"')
    while batch := it.next():
        out["milvus"].extend(r["id"] for r in batch)
    it.close()
rt.close()
print(json.dumps(out))
"""


def ledger(home: Path, source: str) -> Ledger:
    """Read both stores in a fresh process (Milvus Lite serves one process per file)."""
    res = subprocess.run([sys.executable, "-c", _LEDGER, str(home), source], env=cli_env(home),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(d["milvus"]) == len(set(d["milvus"]))  # no id twice
    return Ledger(set(d["sql"]), set(d["milvus"]), d["loaded"], d["claimed"], d["exists"])
