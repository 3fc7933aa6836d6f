"""Chinese in archival memory: BM25 over CJK-aware words, older collections, non-finite vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memgpt.errors import EmbeddingError
from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope, collection_name
from memgpt.memory.search import lexical_terms
from memgpt.schemas import Passage, new_id, stable_id

DIM = 8
TEXTS = [
    "云岭茶村位于一座终年多雾的山谷之中，村民世代以种茶为生。",
    "海灣小鎮的燈塔建於一八九零年，高二十三公尺。",
    "The lighthouse keeper lights the lamp at six every evening.",
    "茶村东头有一口古井，井水清凉甘甜。",
]


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def conn(tmp_path: Path):
    c = MilvusConnection(str(tmp_path / "milvus.db"))
    yield c
    c.close()


def _load(store: MilvusArchivalStore) -> tuple[Scope, list[str]]:
    user, src = new_id("user"), new_id("source")
    ids = [stable_id("passage", src, t) for t in TEXTS]
    store.insert([Passage(id=i, user_id=user, text=t, embedding=_vec(k), source_id=src)
                  for k, (i, t) in enumerate(zip(ids, TEXTS))])
    return Scope(user, source_ids=[src]), ids


def _words(store: MilvusArchivalStore, query: str, scope: Scope) -> list[str]:
    return [h.passage.id for h in store.search_text(" ".join(lexical_terms(query)), scope, limit=4)]


def test_chinese_queries_find_chinese_passages_by_words(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    scope, ids = _load(store)
    assert store.has_words
    assert _words(store, "燈塔是哪一年建的？", scope)[0] == ids[1]  # Traditional
    assert _words(store, "古井的水怎么样", scope)[0] == ids[3]  # Simplified
    assert set(_words(store, "茶村", scope)) == {ids[0], ids[3]}  # no pair in common: no other match
    assert _words(store, "lighthouse keeper", scope) == [ids[2]]
    # the fused search sees the word match (the stored text comes back as it was, not as pairs)
    hits = {h.passage.id: h.passage.text for h in store.search_hybrid("燈塔建於哪一年", _vec(99), scope, limit=4)}
    assert hits[ids[1]] == TEXTS[1]


def test_a_collection_from_before_the_words_field_keeps_working(conn: MilvusConnection) -> None:
    from pymilvus import DataType, Function, FunctionType

    name = collection_name("test/old", DIM)
    schema = conn.client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
    for scalar in ("user_id", "agent_id", "source_id", "document_id"):
        schema.add_field(scalar, DataType.VARCHAR, max_length=80)
    schema.add_field("created_ms", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    index = conn.client.prepare_index_params()
    index.add_index("embedding", index_type="FLAT", metric_type="COSINE")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    conn.client.create_collection(name, schema=schema, index_params=index)

    store = MilvusArchivalStore(conn, "test/old", DIM)
    scope, ids = _load(store)
    assert not store.has_words
    assert _words(store, "lighthouse keeper", scope) == [ids[2]]
    hits = store.search_hybrid("the lighthouse keeper", _vec(2), scope, limit=2)
    assert hits[0].passage.id == ids[2]
    assert store.search_hybrid("茶村", _vec(0), scope, limit=1)  # CJK: dense still answers


def test_non_finite_vectors_are_refused_and_nothing_is_stored(conn: MilvusConnection) -> None:
    store = MilvusArchivalStore(conn, "test/model", DIM)
    user, src = new_id("user"), new_id("source")
    bad = _vec(1)
    bad[3] = np.nan
    passages = [Passage(id=stable_id("passage", src, str(i)), user_id=user, text=t, embedding=v, source_id=src)
                for i, (t, v) in enumerate([("fine", _vec(0)), ("broken", bad), ("inf", np.full(DIM, np.inf))])]
    with pytest.raises(EmbeddingError, match="NaN or Inf"):
        store.insert(passages)
    assert store.count(Scope(user, source_ids=[src])) == 0
