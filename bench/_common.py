"""Shared helpers of the benchmarks: data paths, a caching embedder, tables and timing."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from memgpt.embeddings.base import EmbeddingModel  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RETRIEVAL = DATA / "retrieval"
CACHE = ROOT / "bench" / ".cache"


class CachedEmbedder(EmbeddingModel):
    """Wraps an embedding model with an in-memory cache, persisted under ``bench/.cache``.

    The file holds text hashes and vectors, so a rerun embeds only new texts.
    Set ``MEMGPT_BENCH_NO_CACHE=1`` to bypass the file (the memory cache stays).
    """

    def __init__(self, inner: EmbeddingModel | None = None) -> None:
        if inner is None:
            from memgpt.embeddings.local import LocalMiniLM

            inner = LocalMiniLM()
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self._mem: dict[str, np.ndarray] = {}
        self._new = 0
        self.embedded = 0
        self.seconds = 0.0
        slug = "".join(c if c.isalnum() else "_" for c in self.model_id)
        self.path = None if os.environ.get("MEMGPT_BENCH_NO_CACHE") else CACHE / f"emb_{slug}_{self.dim}.npz"
        if self.path is not None and self.path.exists():
            with np.load(self.path) as z:
                for k, v in zip(z["keys"], z["vecs"]):
                    self._mem[str(k)] = v

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed_batch(self, texts: Sequence[str], query: bool = False) -> np.ndarray:
        keys = [self._key(("query\0" if query else "") + t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self._mem}.items())
        if todo:
            t0 = time.perf_counter()
            embed = self.inner.embed_query_batch if query else self.inner.embed_batch
            vecs = embed([t for _, t in todo])
            self.seconds += time.perf_counter() - t0
            self.embedded += len(todo)
            for (k, _), v in zip(todo, vecs):
                self._mem[k] = np.asarray(v, dtype=np.float32)
            self._new += len(todo)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._mem[k] for k in keys])

    def embed_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        if type(self.inner).embed_query_batch is EmbeddingModel.embed_query_batch:
            return self.embed_batch(texts)  # a symmetric model: queries share the cache
        return self.embed_batch(texts, query=True)

    def token_counter(self):  # noqa: ANN201
        return self.inner.token_counter()

    def save(self) -> None:
        if self.path is None or not self._new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._mem), dtype="U40")
        vecs = np.stack(list(self._mem.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vecs=vecs)
        tmp.replace(self.path)
        self._new = 0


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def json_line(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def quiet_milvus() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")
