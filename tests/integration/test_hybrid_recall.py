"""Hybrid (meaning + words) search in recall memory (SQLite and PostgreSQL) and archival memory (Milvus Lite)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from memgpt.agent.memory import AgentMemory
from memgpt.embeddings.base import EmbeddingModel
from memgpt.memory.archival import MilvusArchivalStore, MilvusConnection, Scope
from memgpt.memory.recall import RecallStore
from memgpt.schemas import AgentState, Message, Passage, ToolCall, new_id, stable_id
from memgpt.store import tables as t
from memgpt.store.agents import AgentStore
from memgpt.store.metadata import MetadataStore
from memgpt.store.sql import open_engine

# A tiny "semantic" embedder: words map to concepts, so synonyms share a direction.
CONCEPTS = {
    "car": 0, "automobile": 0, "vehicle": 0, "sedan": 0,
    "dog": 1, "puppy": 1, "hound": 1,
    "paint": 2, "painting": 2, "canvas": 2, "sunrise": 2,
    "guitar": 3, "music": 3, "concert": 3,
    "yes": 4, "week": 5,
}
DIM = 32


class ConceptEmbedder(EmbeddingModel):
    model_id = "test/concepts"
    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", text.lower()):
                j = CONCEPTS.get(w, 8 + zlib.crc32(w.encode()) % (DIM - 8))
                out[i, j] += 1.0
            out[i, 7] += 0.3  # a shared component, like real embeddings have
            out[i] /= np.linalg.norm(out[i])
        return out


CHAT = [
    ("user", "I bought a new automobile yesterday, a red sedan"),
    ("assistant", "That sounds exciting! What colour is the interior?"),
    ("user", "Melanie said she started painting again, mostly canvas landscapes"),
    ("assistant", "Lovely. Did she show you any of it?"),
    ("user", "My puppy chewed the charger cable again"),
    ("assistant", "Oh no, maybe keep cables out of reach"),
    ("user", "order number XK-42-QZ never arrived"),
    ("assistant", "I will remember the order XK-42-QZ"),
    ("user", "Did you go to the guitar concert on Friday?"),
    ("assistant", "Yes, last week, it was amazing"),
]


def _setup(db_url: str) -> tuple[AgentMemory, RecallStore, list[Message], ConceptEmbedder]:
    engine = open_engine(db_url)
    user = MetadataStore(engine).get_or_create_user()
    emb = ConceptEmbedder()
    state = AgentState(id=new_id("agent"), user_id=user.id, name=new_id("a"), persona="", human="", preset="p",
                       system_prompt="", llm_config={}, embedding_model=emb.model_id, embedding_dim=emb.dim)
    msgs = []
    for role, text in CHAT:
        if role == "user":
            msgs.append(Message(role="user", content=text))
        else:  # what the agent said travels in a send_message call, as in the agent loop
            msgs.append(Message(role="assistant", content=None, tool_calls=[
                ToolCall(new_id("call"), "send_message", f'{{"message": "{text}"}}')]))
    msgs.append(Message(role="user", content='{"type": "heartbeat"}', name="event"))
    msgs.append(Message(role="tool", content="ok", tool_call_id="x"))
    agents, recall = AgentStore(engine), RecallStore(engine)
    agents.create(state, [])
    agents.save_step(state, msgs)
    memory = AgentMemory(state, agents, recall, None, emb, page_size=3)  # type: ignore[arg-type]
    memory.index_messages(msgs)
    return memory, recall, msgs, emb


def test_index_messages_stores_searchable_vectors_only(db_url: str) -> None:
    memory, recall, msgs, _ = _setup(db_url)
    with recall.engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(t.message_vectors)
                        .where(t.message_vectors.c.agent_id == memory.state.id))
        dims = set(conn.scalars(select(t.message_vectors.c.dim)))
    assert n == len(CHAT)  # no event notice, no tool result
    assert dims == {DIM}
    assert recall.unindexed(memory.state.id, "test/concepts") == []


def test_dense_search_finds_synonyms(db_url: str) -> None:
    memory, recall, msgs, emb = _setup(db_url)
    hits = recall.search_dense(memory.state.id, emb.embed("car"), emb.model_id, limit=2)
    assert hits[0].id == msgs[0].id
    assert hits[0].score > hits[1].score


def test_hybrid_recall_search(db_url: str) -> None:
    memory, recall, msgs, _ = _setup(db_url)
    # purely semantic: no message contains "vehicle"
    found, total = memory.recall_search("vehicle")
    assert found and found[0].id == msgs[0].id
    assert total >= len(found)
    # exact identifier: word match wins
    found, _ = memory.recall_search("XK-42-QZ")
    assert {m.id for m in found[:2]} == {msgs[6].id, msgs[7].id}
    # words plus meaning together; the reply that only says "yes, last week" comes along by context
    found, _ = memory.recall_search("guitar concert")
    assert found[0].id == msgs[8].id and msgs[9].id in [m.id for m in found]
    # the event notice is never a result
    found, _ = memory.recall_search("heartbeat")
    assert all(m.name != "event" for m in found)


def test_hybrid_pages_are_slices_of_one_ranking(db_url: str) -> None:
    memory, recall, _, emb = _setup(db_url)
    q = "painting automobile puppy"
    whole, total = recall.search(memory.state.id, q, limit=9, vector=emb.embed(q), model=emb.model_id)
    pages = [memory.recall_search(q, page)[0] for page in range(3)]
    assert [m.id for p in pages for m in p] == [m.id for m in whole][:9]
    assert total >= 9


def test_backlog_is_embedded_on_search_and_word_search_without_vectors(db_url: str) -> None:
    memory, recall, msgs, emb = _setup(db_url)
    late = [Message(role="user", content="The hound barked all night")]
    memory.agents.save_step(memory.state, late)  # saved without index_messages (e.g. embedding was down)
    assert [m.id for m in recall.unindexed(memory.state.id, emb.model_id)] == [late[0].id]
    found, _ = memory.recall_search("dog")  # semantic only: needs the backlog embedded
    assert late[0].id in [m.id for m in found]
    assert recall.unindexed(memory.state.id, emb.model_id) == []
    # no vector given: plain word search, as before
    found, total = recall.search(memory.state.id, "sedan", limit=5)
    assert [m.id for m in found] == [msgs[0].id] and total == 1


def test_deleting_the_agent_drops_its_vectors(db_url: str) -> None:
    memory, recall, _, _ = _setup(db_url)
    memory.agents.delete(memory.state.id)
    with recall.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t.message_vectors)) == 0


# archival ---------------------------------------------------------------------------
def test_archival_hybrid_through_milvus_lite(tmp_path: Path) -> None:
    emb = ConceptEmbedder()
    conn = MilvusConnection(str(tmp_path / "milvus.db"))
    try:
        store = MilvusArchivalStore(conn, emb.model_id, emb.dim)
        user, source, agent = new_id("user"), new_id("source"), new_id("agent")
        texts = [f"record {i} about nothing in particular number {i}" for i in range(40)]
        texts[5] = '"a54e2eed-e625-4570-9f74-3624e77d6684": "d1ff29be-4e2a-4208"'
        texts[17] = "The sedan was parked outside the garage"
        texts[23] = "She painted a sunrise over the lake"
        vecs = emb.embed_batch(texts)
        store.insert([Passage(id=stable_id("passage", source, str(i)), user_id=user, text=txt, embedding=v,
                              source_id=source) for i, (txt, v) in enumerate(zip(texts, vecs))])
        store.insert([Passage(id=stable_id("passage", agent, "x"), user_id=user, text="my automobile is blue",
                              embedding=emb.embed("my automobile is blue"), agent_id=agent)])
        scope = Scope(user, agent_id=agent, source_ids=(source,))
        pid = lambda i: stable_id("passage", source, str(i))  # noqa: E731

        key = "a54e2eed-e625-4570-9f74-3624e77d6684"
        assert store.search_hybrid(key, emb.embed(key), scope, limit=3)[0].passage.id == pid(5)
        top = [h.passage.id for h in store.search_hybrid("vehicle", emb.embed("vehicle"), scope, limit=3)]
        assert pid(17) in top and stable_id("passage", agent, "x") in top  # meaning only, both owners
        only_source = Scope(user, source_ids=(source,))
        top = [h.passage.id for h in store.search_hybrid("vehicle", emb.embed("vehicle"), only_source, limit=3)]
        assert stable_id("passage", agent, "x") not in top

        q = "painting of a sunrise"
        whole = [h.passage.id for h in store.search_hybrid(q, emb.embed(q), scope, limit=12)]
        assert whole[0] == pid(23)
        paged = [h.passage.id for p in range(3)
                 for h in store.search_hybrid(q, emb.embed(q), scope, limit=4, offset=4 * p)]
        assert paged == whole
        assert store.search_hybrid("anything", emb.embed("x"), Scope(user), limit=3) == []
    finally:
        conn.close()


@pytest.mark.parametrize("query", ["", "   "])
def test_recall_search_with_no_words(tmp_path: Path, query: str) -> None:
    memory, _, _, _ = _setup(f"sqlite:///{tmp_path / 'm.db'}")
    assert memory.recall_search(query) == ([], 0)
