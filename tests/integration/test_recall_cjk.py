"""Recall memory's word search in Chinese (SQLite FTS5 and PostgreSQL), fresh and migrated databases."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import create_engine, insert, select

from memgpt.errors import EmbeddingError
from memgpt.memory.recall import RecallStore
from memgpt.schemas import AgentState, Message, new_id, utcnow
from memgpt.store import tables as t
from memgpt.store.agents import AgentStore
from memgpt.store.metadata import MetadataStore
from memgpt.store.sql import migrate, open_engine

SAID = [
    "我上个星期去了云岭茶村，那里的雾里青很好喝。",
    "燈塔的看守員每天傍晚六點點燈。",
    "Caroline went to the LGBTQ support group last week.",
    "明天我们一起去北京大学的图书馆吧。",
]


def _agent(engine) -> AgentState:  # noqa: ANN001
    user = MetadataStore(engine).get_or_create_user()
    return AgentState(id=new_id("agent"), user_id=user.id, name="a", persona="", human="", preset="p",
                      system_prompt="", llm_config={}, embedding_model="test/m", embedding_dim=4)


def _found(recall: RecallStore, agent: AgentState, query: str) -> list[str]:
    hits, total = recall.search_lexical(agent.id, query, limit=10)
    assert total == len(hits)
    return [h.text for h in hits]


def _check_search(recall: RecallStore, agent: AgentState) -> None:
    assert _found(recall, agent, "茶村的茶好喝吗？")[0] == SAID[0]
    assert _found(recall, agent, "燈塔幾點點燈")[0] == SAID[1]
    assert _found(recall, agent, "北京大学")[0] == SAID[3]
    assert _found(recall, agent, "support groups") == [SAID[2]]  # English still stems
    assert _found(recall, agent, "高雄") == []


def test_chinese_messages_are_found_by_words(db_url: str) -> None:
    engine = open_engine(db_url)
    agent = _agent(engine)
    AgentStore(engine).create(agent, [Message(role="user", content=c) for c in SAID])
    recall = RecallStore(engine)
    _check_search(recall, agent)
    with engine.connect() as conn:
        words = dict(conn.execute(select(t.messages.c.content, t.messages.c.search_words)).all())
    assert words[SAID[2]] is None and "茶村" in words[SAID[0]].split()
    # a rewritten message is found by its new words only
    msg = AgentStore(engine).messages(_ids(engine)[:1])[0]
    msg.content = "我们改去高雄看海。"
    AgentStore(engine).update_message(agent, msg)
    assert _found(recall, agent, "高雄") == [msg.content]
    assert _found(recall, agent, "雾里青") == []
    engine.dispose()


def _ids(engine) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.scalars(select(t.messages.c.id).order_by(t.messages.c.seq)))


def test_a_database_from_before_migration_5_finds_its_chinese_messages(db_url: str) -> None:
    from memgpt.store.tables import MIGRATIONS, schema_migrations

    engine = create_engine(db_url)
    with engine.begin() as conn:  # the schema as migrations 1-4 left it, without search_words
        t.metadata.create_all(conn, tables=[schema_migrations])
        for version, name, step in MIGRATIONS:
            if version < 5:
                step(conn)
                conn.execute(insert(schema_migrations).values(version=version, name=name, applied_at=utcnow()))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ALTER TABLE messages DROP COLUMN search_words")
        else:
            conn.exec_driver_sql("ALTER TABLE messages DROP COLUMN search_words CASCADE")
    agent = _agent(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.agents).values(
            id=agent.id, user_id=agent.user_id, name=agent.name, persona="", human="", preset="p", system_prompt="",
            llm_config={}, embedding_model="test/m", embedding_dim=4, in_context=[], state={},
            created_at=utcnow(), updated_at=utcnow()))
        for text_ in SAID:
            m = Message(role="user", content=text_)
            conn.exec_driver_sql(
                "INSERT INTO messages (id, user_id, agent_id, role, content, search_text, created_at) "
                "VALUES (%s, %s, %s, 'user', %s, %s, %s)" if conn.dialect.name != "sqlite" else
                "INSERT INTO messages (id, user_id, agent_id, role, content, search_text, created_at) "
                "VALUES (?, ?, ?, 'user', ?, ?, ?)", (m.id, agent.user_id, agent.id, text_, text_, m.created_at))
    recall = RecallStore(engine)
    assert _found(recall, agent, "北京大学") == []  # before: a CJK run is one token
    assert migrate(engine) == [v for v, _name, _step in MIGRATIONS if v >= 5]
    _check_search(recall, agent)
    assert migrate(engine) == []
    engine.dispose()


def test_non_finite_message_vectors_are_refused(tmp_path) -> None:  # noqa: ANN001
    engine = open_engine(f"sqlite:///{tmp_path / 'm.db'}")
    agent = _agent(engine)
    msgs = [Message(role="user", content=c) for c in SAID[:2]]
    AgentStore(engine).create(agent, msgs)
    recall = RecallStore(engine)
    with pytest.raises(EmbeddingError, match="NaN or Inf"):
        recall.add_vectors(agent.id, agent.user_id, "test/m",
                           [(msgs[0], np.ones(4, np.float32)), (msgs[1], np.array([1, np.nan, 0, 0], np.float32))])
    with engine.connect() as conn:
        assert conn.scalar(select(t.message_vectors.c.message_id)) is None  # nothing of the batch stored
    engine.dispose()
