"""Two writers on one agent: a save never writes over state it did not read (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from memgpt.errors import AgentConflictError
from memgpt.schemas import AgentState, Block, Message, stable_id
from memgpt.store.agents import AgentStore
from memgpt.store.metadata import MetadataStore
from memgpt.store.sql import migrate, open_engine


def _agent(user_id: str) -> AgentState:
    return AgentState(id=stable_id("agent", "a"), user_id=user_id, name="a", persona="sam", human="basic",
                      preset="memgpt_chat", system_prompt="{memory}", llm_config={"model": "m"},
                      embedding_model="local/all-MiniLM-L6-v2", embedding_dim=384,
                      blocks={"persona": Block("persona", "I am Sam."), "human": Block("human", "Ann.")})


def test_a_stale_save_is_refused_and_blocks_are_upserted(db_url: str) -> None:
    first_engine, second_engine = open_engine(db_url), open_engine(db_url)  # two processes' worth of pools
    user = MetadataStore(first_engine).get_or_create_user()
    one, two = AgentStore(first_engine), AgentStore(second_engine)
    one.create(_agent(user.id))

    mine, theirs = one.get(stable_id("agent", "a")), two.get(stable_id("agent", "a"))
    assert mine.version == theirs.version == 0
    mine.blocks["human"].value = "Ann. Likes tea."
    hello = Message(role="user", content="hello")
    one.save_step(mine, [hello])
    assert mine.version == 1

    theirs.blocks["human"].value = "Ann."  # what the stale reader would write back
    with pytest.raises(AgentConflictError) as err:
        two.save_step(theirs, [Message(role="user", content="from the stale process")])
    assert "changed by another process" in err.value.one_line() and "\n" not in err.value.one_line()

    stored = one.get(mine.id)
    assert stored.blocks["human"].value == "Ann. Likes tea."  # the first writer's edit survives
    assert stored.version == 1
    assert [m.content for m in one.messages([hello.id])] == ["hello"]
    with first_engine.connect() as conn:  # the refused step left no message behind
        assert conn.scalar(text("SELECT count(*) FROM messages WHERE content = 'from the stale process'")) == 0

    # A reader of the current version saves normally, many times in a row (blocks upserted in place).
    fresh = two.get(mine.id)
    for i in range(3):
        fresh.blocks["persona"].value = f"I am Sam, v{i}."
        two.save_step(fresh)
    del fresh.blocks["human"]
    two.save_step(fresh)
    stored = one.get(mine.id)
    assert stored.version == 5
    assert {k: b.value for k, b in stored.blocks.items()} == {"persona": "I am Sam, v2."}


def test_migration_4_adds_the_version_column_to_an_old_database(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate(engine)
    with engine.begin() as conn:  # make it look like a database from before migration 4
        conn.execute(text("DELETE FROM schema_migrations WHERE version >= 4"))
        conn.execute(text("ALTER TABLE agents DROP COLUMN version"))
        conn.execute(text("ALTER TABLE documents DROP COLUMN load_state"))
    assert 4 in migrate(engine)
    with engine.connect() as conn:
        cols = {r[1] for r in conn.execute(text("PRAGMA table_info(agents)"))}
    assert "version" in cols
    assert migrate(engine) == []
