"""The SQL metadata store, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from memgpt.schemas import Document, Passage, stable_id
from memgpt.store.metadata import MetadataStore
from memgpt.store.sql import migrate, open_engine, table_names


def test_migrations_create_every_table_once(db_url: str) -> None:
    engine = open_engine(db_url)
    names = set(table_names(engine))
    assert {"users", "sources", "documents", "passages", "agents", "blocks", "agent_sources", "messages",
            "templates", "schema_migrations"} <= names
    assert migrate(engine) == []  # a second run applies nothing


def test_sources_documents_and_counts(db_url: str) -> None:
    store = MetadataStore(open_engine(db_url))
    user = store.get_or_create_user()
    assert store.get_or_create_user().id == user.id
    src = store.create_source(user.id, "paper", "local/all-MiniLM-L6-v2", 384, "the paper")
    # A second create of one name (two loads starting at once) gets the first one's row.
    assert store.create_source(user.id, "paper", "local/all-MiniLM-L6-v2", 384).id == src.id
    docs = [Document(id=stable_id("document", src.id, str(i)), user_id=user.id, source_id=src.id,
                     file_path="/x.pdf", text=f"page {i}", metadata={"page": i + 1}) for i in range(3)]
    passages = [Passage(id=stable_id("passage", docs[i % 3].id, str(i)), user_id=user.id, text="t",
                        source_id=src.id, document_id=docs[i % 3].id, metadata={"chunk_index": i}) for i in range(7)]
    store.add_documents(docs, "hash", passages, [10] * 7)
    assert store.count_documents(src.id) == 3
    assert store.count_passages(src.id) == 7
    assert store.existing_document_ids([docs[0].id, "document-none"]) == {docs[0].id}
    [stats] = store.list_sources(user.id)
    assert (stats.source.name, stats.n_documents, stats.n_passages) == ("paper", 3, 7)
    assert stats.source.created_at.tzinfo is not None
    store.delete_source(src.id)
    assert store.list_sources(user.id) == []
    assert store.count_passages(src.id) == 0


def test_templates(db_url: str) -> None:
    store = MetadataStore(open_engine(db_url))
    user = store.get_or_create_user()
    store.put_template(user.id, "persona", "pirate", "I speak like a pirate.")
    store.put_template(user.id, "persona", "pirate", "I speak like a calm pirate.")
    assert store.get_template(user.id, "persona", "pirate") == "I speak like a calm pirate."
    assert store.list_templates(user.id, "human") == {}
    assert store.delete_template(user.id, "persona", "pirate")
    assert not store.delete_template(user.id, "persona", "pirate")
