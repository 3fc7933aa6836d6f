"""Recall memory at any history length: counters kept in SQL, a bounded vector cache that follows
other processes' writes, and word search over each word's newest matches (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sqlalchemy import create_engine, func, insert, select, text

import memgpt.memory.recall as recall_mod
from memgpt.memory.recall import RecallStore
from memgpt.schemas import AgentState, Message, new_id, utcnow
from memgpt.store import tables as t
from memgpt.store.agents import AgentStore
from memgpt.store.metadata import MetadataStore
from memgpt.store.sql import migrate, open_engine

DIM = 8
MODEL = "test/axes"


def _agent(engine) -> AgentState:  # noqa: ANN001
    user = MetadataStore(engine).get_or_create_user()
    return AgentState(id=new_id("agent"), user_id=user.id, name=new_id("a"), persona="", human="", preset="p",
                      system_prompt="", llm_config={}, embedding_model=MODEL, embedding_dim=DIM)


def _axis(i: int) -> np.ndarray:
    """A unit vector along axis ``i`` (mostly) so that one query picks one message by meaning."""
    v = np.full(DIM, 0.05, np.float32)
    v[i % DIM] = 1.0
    return v / np.linalg.norm(v)


def _stores(db_url: str) -> tuple:
    engine = open_engine(db_url)
    return engine, AgentStore(engine), RecallStore(engine), _agent(engine)


def _count_rows(engine, agent_id: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(t.messages).where(t.messages.c.agent_id == agent_id))


def test_message_count_is_kept_by_every_insert_across_processes(db_url: str) -> None:
    engine, agents, recall, state = _stores(db_url)
    agents.create(state, [Message(role="system", content="hello")])
    assert recall.count(state.id) == 1
    agents.save_step(state, [Message(role="user", content=f"m{i}") for i in range(3)])
    agents.save_step(state, [])
    assert recall.count(state.id) == _count_rows(engine, state.id) == 4
    # another process saves a step of the same agent: this process's next read sees it
    script = textwrap.dedent(f"""
        from memgpt.schemas import Message
        from memgpt.store.agents import AgentStore
        from memgpt.store.sql import open_engine
        store = AgentStore(open_engine({db_url!r}))
        state = store.get({state.id!r})
        store.save_step(state, [Message(role="user", content="from elsewhere"), Message(role="user", content="2")])
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert recall.count(state.id) == _count_rows(engine, state.id) == 6
    other = _agent(engine)
    agents.create(other, [])
    assert recall.count(other.id) == 0 and recall.count(state.id) == 6
    engine.dispose()


def test_the_vector_cache_follows_another_process_writes(db_url: str) -> None:
    engine = open_engine(db_url)
    agents = AgentStore(engine)
    state = _agent(engine)
    msgs = [Message(role="user", content=f"message number {i}") for i in range(6)]
    agents.create(state, msgs)
    mine = RecallStore(engine)
    mine.add_vectors(state.id, state.user_id, MODEL, [(m, _axis(i)) for i, m in enumerate(msgs)])
    assert mine.search_dense(state.id, _axis(3), MODEL, limit=1)[0].id == msgs[3].id  # loaded and cached
    # a second process (its own engine and cache) adds a message and rewrites the vector of another
    other_engine = create_engine(str(engine.url.render_as_string(hide_password=False)))
    theirs = RecallStore(other_engine)
    late = Message(role="user", content="late message")
    AgentStore(other_engine).save_step(AgentStore(other_engine).get(state.id), [late])
    theirs.add_vectors(state.id, state.user_id, MODEL, [(late, _axis(6))])
    assert mine.search_dense(state.id, _axis(6), MODEL, limit=1)[0].id == late.id  # appended to the cache
    theirs.add_vectors(state.id, state.user_id, MODEL, [(msgs[0], _axis(7))])  # same message, new vector
    hits = mine.search_dense(state.id, _axis(7), MODEL, limit=7)
    assert hits[0].id == msgs[0].id and hits[0].score > 0.99  # not the stale vector along axis 0
    assert [h.id for h in mine.search_dense(state.id, _axis(0), MODEL, limit=7)][0] != msgs[0].id
    other_engine.dispose()
    engine.dispose()


def test_meaning_search_scans_the_newest_window_and_scores_older_word_matches(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recall_mod, "WINDOW", 20)
    monkeypatch.setattr(recall_mod, "SLACK", 4)
    engine, agents, recall, state = _stores(db_url)
    old = Message(role="user", content="the zeppelin story")  # the only message along axis 5
    msgs = [old] + [Message(role="user", content=f"filler talk {i}") for i in range(29)]
    agents.create(state, msgs)
    recall.add_vectors(state.id, state.user_id, MODEL, [(old, _axis(5))] + [(m, _axis(1)) for m in msgs[1:]])
    # older than the newest 20: not found by meaning alone...
    assert old.id not in [h.id for h in recall.search_dense(state.id, _axis(5), MODEL, limit=30)]
    # ...but a word match brings its exact similarity, and the fused search ranks it first
    hits = recall.search_dense(state.id, _axis(5), MODEL, limit=3, also=[old.id])
    assert hits[-1].id == old.id and hits[-1].score > 0.99
    found, _ = recall.search(state.id, "zeppelin", limit=3, vector=_axis(5), model=MODEL)
    assert found[0].id == old.id
    # steps append in place and then into a new buffer; the cache never holds more than window + slack
    for k in range(3):
        new = [Message(role="user", content=f"newer {k} {j}") for j in range(3)]
        agents.save_step(state, new)
        recall.add_vectors(state.id, state.user_id, MODEL, [(m, _axis(2 + k)) for m in new])
        hits = recall.search_dense(state.id, _axis(2 + k), MODEL, limit=3)
        assert {h.id for h in hits} == {m.id for m in new}
        mat = recall._cache[state.id]
        assert mat.end - mat.start == 20 and mat.buf.shape[0] <= 24
    engine.dispose()


def test_the_cache_keeps_a_bounded_number_of_vectors(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(recall_mod, "CACHE_ROWS", 30)
    monkeypatch.setattr(recall_mod, "SLACK", 4)
    engine, agents, recall, _ = _stores(f"sqlite:///{tmp_path / 'm.db'}")
    states = []
    for _ in range(3):
        state = _agent(engine)
        msgs = [Message(role="user", content=f"talk {i}") for i in range(10)]
        agents.create(state, msgs)
        recall.add_vectors(state.id, state.user_id, MODEL, [(m, _axis(i)) for i, m in enumerate(msgs)])
        states.append((state, msgs))
    for state, msgs in states:
        assert recall.search_dense(state.id, _axis(4), MODEL, limit=1)[0].id == msgs[4].id
    assert list(recall._cache) == [states[1][0].id, states[2][0].id]  # the least recently used went
    assert sum(m.buf.shape[0] for m in recall._cache.values()) <= 30
    engine.dispose()


def test_word_search_reaches_back_for_rare_words_and_bounds_common_ones(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recall_mod, "WORD_DEPTH", 10)
    monkeypatch.setattr(recall_mod, "WORD_DEPTH_MIN", 5)
    engine, agents, recall, state = _stores(db_url)
    first = Message(role="user", content="the kettle order XQ7 never came, said the zircon shop")
    msgs = [first] + [Message(role="user", content=f"kettle talk {i}") for i in range(40)]
    agents.create(state, msgs)
    hits, total = recall.search_lexical(state.id, "kettle XQ7 zircon", limit=3)
    assert hits[0].id == first.id  # rare words are found however old their message
    assert total == 6  # the five newest "kettle" matches and the first: candidates, not all 41 matches
    hits, total = recall.search_lexical(state.id, "kettle", limit=3)
    assert total == 10 and [h.id for h in hits] == [m.id for m in msgs[:-4:-1]]  # of the newest ten, newest first
    engine.dispose()


def test_a_database_from_before_migration_7_gets_its_counters(db_url: str) -> None:
    from memgpt.store.tables import MIGRATIONS, schema_migrations

    engine = create_engine(db_url)
    with engine.begin() as conn:  # the schema as migrations 1-6 left it
        t.metadata.create_all(conn, tables=[schema_migrations])
        for version, name, step in MIGRATIONS:
            if version < 7:
                step(conn)
                conn.execute(insert(schema_migrations).values(version=version, name=name, applied_at=utcnow()))
        for stmt in ("DROP INDEX ix_message_vectors_agent_rev", "DROP INDEX ix_messages_agent_seq",
                     "ALTER TABLE message_vectors DROP COLUMN rev", "ALTER TABLE agents DROP COLUMN message_count",
                     "ALTER TABLE agents DROP COLUMN vector_rev"):
            conn.execute(text(stmt))
    state = _agent(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agents (id, user_id, name, persona, human, preset, system_prompt, llm_config, "
                          "embedding_model, embedding_dim, in_context, state, created_at, updated_at, version) VALUES "
                          "(:id, :u, :n, '', '', 'p', '', '{}', :m, :d, '[]', '{}', :t, :t, 0)"),
                     {"id": state.id, "u": state.user_id, "n": state.name, "m": MODEL, "d": DIM, "t": utcnow()})
        for i in range(5):
            mid = new_id("message")
            seq = conn.execute(insert(t.messages).values(
                id=mid, user_id=state.user_id, agent_id=state.id, role="user", content=f"talk {i}",
                search_text=f"talk {i}", created_at=utcnow()).returning(t.messages.c.seq)).scalar()
            conn.execute(text("INSERT INTO message_vectors (message_id, agent_id, user_id, seq, model, dim, "
                              "text_hash, vector) VALUES (:id, :a, :u, :s, :m, :d, 'h', :v)"),
                         {"id": mid, "a": state.id, "u": state.user_id, "s": seq, "m": MODEL, "d": DIM,
                          "v": _axis(i).astype("<f4").tobytes()})
    assert migrate(engine) == [v for v, _name, _step in MIGRATIONS if v >= 7]
    recall = RecallStore(engine)
    assert recall.count(state.id) == 5
    with engine.connect() as conn:
        max_seq = conn.scalar(select(func.max(t.message_vectors.c.seq)))
        assert conn.scalar(select(t.agents.c.vector_rev).where(t.agents.c.id == state.id)) == max_seq
    assert len(recall.search_dense(state.id, _axis(2), MODEL, limit=10)) == 5
    AgentStore(engine).save_step(AgentStore(engine).get(state.id), [Message(role="user", content="one more")])
    assert recall.count(state.id) == _count_rows(engine, state.id) == 6
    assert migrate(engine) == []
    engine.dispose()
