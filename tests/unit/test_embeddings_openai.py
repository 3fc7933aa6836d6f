"""OpenAICompatibleEmbedding against the fake server's /v1/embeddings over real HTTP."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from memgpt.embeddings.base import EmbeddingModel
from memgpt.embeddings.openai_compat import OpenAICompatibleEmbedding
from memgpt.errors import EmbeddingError
from memgpt.llm.errors import LLMAuthError, LLMConnectionError
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply, hashed_embedding


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _model(fake_llm, sleeps, **kw) -> OpenAICompatibleEmbedding:
    kw.setdefault("max_retries", 2)
    return OpenAICompatibleEmbedding(fake_llm.base_url, None, "fake-embedding", sleep=sleeps.append, **kw)


def test_is_an_embedding_model_with_ids(fake_llm, sleeps):
    m = _model(fake_llm, sleeps)
    assert isinstance(m, EmbeddingModel)
    assert m.model_id == "openai-compat/fake-embedding"
    assert OpenAICompatibleEmbedding(fake_llm.base_url, None, "nomic-embed-text", provider="ollama").model_id == "ollama/nomic-embed-text"
    assert OpenAICompatibleEmbedding("https://api.openai.com/v1", "k", "text-embedding-3-small").max_tokens == 8191
    assert fake_llm.requests == []  # constructing makes no request


def test_batching_splits_requests_in_order(fake_llm, sleeps):
    m = _model(fake_llm, sleeps, batch_size=2)
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    out = m.embed_batch(texts)
    sent = fake_llm.embedding_requests
    assert [r["input"] for r in sent] == [["alpha", "beta"], ["gamma", "delta"], ["epsilon"]]
    assert all(r["model"] == "fake-embedding" and r["encoding_format"] == "float" for r in sent)
    assert out.shape == (5, 64) and out.dtype == np.float32
    expected = np.array([hashed_embedding(t, 64) for t in texts], dtype=np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_default_batch_size_is_128(fake_llm, sleeps):
    m = _model(fake_llm, sleeps)
    m.embed_batch([f"text {i}" for i in range(300)])
    assert [len(r["input"]) for r in fake_llm.embedding_requests] == [128, 128, 44]


def test_output_is_normalised(fake_llm, sleeps):
    raw = {"data": [{"index": 0, "embedding": [3.0, 4.0]}, {"index": 1, "embedding": [0.0, 0.0]}]}
    fake_llm.queue(FakeReply.raw(raw), endpoint="embeddings")
    out = _model(fake_llm, sleeps).embed_batch(["a", "b"])
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)
    assert out.dtype == np.float32


def test_reply_reordered_by_index_and_base64_decoded(fake_llm, sleeps):
    b64 = base64.b64encode(np.array([0.0, 1.0], dtype="<f4").tobytes()).decode()
    raw = {"data": [{"index": 1, "embedding": b64}, {"index": 0, "embedding": [1.0, 0.0]}]}
    fake_llm.queue(FakeReply.raw(raw), endpoint="embeddings")
    out = _model(fake_llm, sleeps).embed_batch(["first", "second"])
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.0, 1.0]])


def test_dim_probe(fake_llm, sleeps):
    m = _model(fake_llm, sleeps)
    assert m.dim == 64
    assert len(fake_llm.embedding_requests) == 1
    assert m.dim == 64 and len(fake_llm.embedding_requests) == 1  # probed once

    m2 = _model(fake_llm, sleeps)
    m2.embed("hello")  # the first real call also settles the dimension
    assert m2.dim == 64 and len(fake_llm.embedding_requests) == 2

    m3 = _model(fake_llm, sleeps, dim=64)
    assert m3.dim == 64 and len(fake_llm.embedding_requests) == 2  # given: no probe


def test_dim_mismatch_is_an_error(fake_llm, sleeps):
    m = _model(fake_llm, sleeps, dim=384)
    with pytest.raises(EmbeddingError) as info:
        m.embed("hello")
    assert "64-dim" in info.value.message and "384" in info.value.message


def test_request_dimensions(fake_llm, sleeps):
    m = _model(fake_llm, sleeps, dim=16, request_dimensions=True)
    assert m.embed_batch(["a"]).shape == (1, 16)
    assert fake_llm.embedding_requests[0]["dimensions"] == 16


def test_empty_inputs(fake_llm, sleeps):
    m = _model(fake_llm, sleeps, dim=64)
    assert m.embed_batch([]).shape == (0, 64)
    assert fake_llm.embedding_requests == []
    out = m.embed_batch(["", "x"])
    assert out.shape == (2, 64)
    assert fake_llm.embedding_requests[0]["input"] == [" ", "x"]


def test_similar_texts_are_similar(fake_llm, sleeps):
    v = _model(fake_llm, sleeps).embed_batch(
        ["the quick brown fox jumps", "a quick brown fox leaps", "tax law for small businesses"]
    )
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


def test_retries_share_the_llm_policy(fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(503), FakeReply.error(429, retry_after=2), endpoint="embeddings")
    out = _model(fake_llm, sleeps, dim=64).embed_batch(["x"])
    assert out.shape == (1, 64)
    assert len(fake_llm.embedding_requests) == 3
    assert len(sleeps) == 2 and sleeps[1] == 2.0


def test_auth_error_becomes_embedding_error(fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(401), endpoint="embeddings")
    with pytest.raises(EmbeddingError) as info:
        _model(fake_llm, sleeps).embed("x")
    assert isinstance(info.value.__cause__, LLMAuthError)
    assert "OPENAI_API_KEY" in info.value.hint
    assert "embedding endpoint" in info.value.message


def test_connection_error_names_url(sleeps):
    with FakeLLMServer() as srv:
        url = srv.base_url
    m = OpenAICompatibleEmbedding(url, None, "e", max_retries=1, sleep=sleeps.append, timeout=2)
    with pytest.raises(EmbeddingError) as info:
        m.embed("x")
    assert url in info.value.message and isinstance(info.value.__cause__, LLMConnectionError)


@pytest.mark.parametrize(
    ("reply", "texts"),
    [
        (FakeReply.broken_body('{"data": ['), ["a"]),
        (FakeReply.raw({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0]}]}), ["only one"]),
        (FakeReply.raw({"data": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [1.0]}]}), ["a", "b"]),
        (FakeReply.raw({"object": "list"}), ["a"]),
        (FakeReply.raw({"data": [{"index": 0}]}), ["a"]),
        (FakeReply.raw({"data": [{"index": 0, "embedding": ["a", "b"]}]}), ["a"]),
        (FakeReply.raw({"error": {"message": "model not loaded"}}), ["a"]),
    ],
    ids=["not-json", "count", "ragged", "no-data", "no-embedding", "not-numbers", "error-object"],
)
def test_bad_replies(fake_llm, sleeps, reply, texts):
    fake_llm.queue(reply, endpoint="embeddings")
    with pytest.raises(EmbeddingError):
        _model(fake_llm, sleeps).embed_batch(texts)
    assert len(fake_llm.embedding_requests) == 1 and sleeps == []


def test_request_body_is_json_serialisable_record(fake_llm, sleeps):
    _model(fake_llm, sleeps).embed("hello")
    json.dumps(fake_llm.embedding_requests[0].to_dict())
