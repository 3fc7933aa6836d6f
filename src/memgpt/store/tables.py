"""The relational schema and its migrations.

Every row carries ``user_id`` so that a multi-user server can share one
database. Migrations are an ordered list of small functions; the versions that
ran are recorded in ``schema_migrations``. Add a migration, never edit one that
has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Connection

metadata = MetaData()

ID = String(80)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("embedding_model", String(200), nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "name", name="uq_sources_user_name"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("source_id", ID, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("file_path", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("n_chars", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # "loaded" once Milvus has confirmed the file's passages; "loading <host> <pid>" while a
    # process holds the claim (a dead holder's claim is taken over by the next load).
    Column("load_state", String(200), nullable=False, server_default="loaded"),
    Index("ix_documents_source", "source_id"),
)

# Metadata of archival passages. Text and vectors live in Milvus; this table
# lets SQL answer "how many, from which document" without a vector store scan.
passages = Table(
    "passages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("source_id", ID, ForeignKey("sources.id", ondelete="CASCADE")),
    Column("agent_id", ID),
    Column("document_id", ID, ForeignKey("documents.id", ondelete="CASCADE")),
    Column("chunk_index", Integer, nullable=False),
    Column("n_tokens", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_passages_source", "source_id"),
    Index("ix_passages_agent", "agent_id"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("persona", String(200), nullable=False),
    Column("human", String(200), nullable=False),
    Column("preset", String(200), nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("llm_config", JSON, nullable=False),
    Column("embedding_model", String(200), nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    # Ids of the messages currently in the context window, oldest first.
    Column("in_context", JSON, nullable=False),
    # Small loop state: memory-warning flag, heartbeat pause, step counter.
    Column("state", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Bumped by every save; a save that read another version refuses (two writers on one agent).
    Column("version", Integer, nullable=False, server_default="0"),
    # How many messages recall memory holds for the agent: kept by every insert of messages, in the
    # same transaction, so a step reads one row instead of counting the history (migration 7).
    Column("message_count", Integer, nullable=False, server_default="0"),
    # Bumped by every write of the agent's message vectors; each written vector carries the value
    # (message_vectors.rev), so a process's cache of vectors knows what changed since it loaded.
    Column("vector_rev", Integer, nullable=False, server_default="0"),
    UniqueConstraint("user_id", "name", name="uq_agents_user_name"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("agent_id", ID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(100), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("value", Text, nullable=False),
    Column("char_limit", Integer, nullable=False),
)

agent_sources = Table(
    "agent_sources",
    metadata,
    Column("agent_id", ID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("source_id", ID, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("attached_at", DateTime(timezone=True), nullable=False),
)

# Recall memory: every message an agent has seen or produced.
messages = Table(
    "messages",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("agent_id", ID, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(20), nullable=False),
    Column("content", Text),
    # What recall search matches: the user's words, the agent's thoughts and what it sent.
    Column("search_text", Text),
    # search_text with CJK runs as character pairs (memgpt.memory.words), which is what the
    # full-text index holds for it; NULL when the text has no CJK (the index then reads search_text).
    Column("search_words", Text),
    Column("tool_calls", JSON),
    Column("tool_call_id", String(200)),
    Column("name", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_messages_agent_time", "agent_id", "created_at"),
    Index("ix_messages_agent_seq", "agent_id", "seq"),  # an agent's messages newest first (migration 7)
)

# User-added persona and human texts (the built-in ones are package data).
templates = Table(
    "templates",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # persona | human
    Column("name", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "kind", "name", name="uq_templates_user_kind_name"),
)

# Dense vectors of searchable messages (recall memory's semantic search). One
# row per embedded message; ``seq`` mirrors messages.seq so a reader can load
# only rows newer than the ones it holds; ``text_hash`` tells a stale vector
# (the message was rewritten) from a current one.
message_vectors = Table(
    "message_vectors",
    metadata,
    Column("message_id", ID, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("model", String(200), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian, ``dim`` values
    Column("rev", Integer, nullable=False, server_default="0"),  # agents.vector_rev of the write that stored it
    Index("ix_message_vectors_agent_seq", "agent_id", "seq"),
    Index("ix_message_vectors_agent_rev", "agent_id", "rev"),
)

# API keys of the REST server: only a SHA-256 of each key is kept. The admin key has no user.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Background work (document loads started over the API), visible to every worker.
jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("source_id", ID, nullable=True),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("n_passages", Integer, nullable=False, default=0),
    Column("n_documents", Integer, nullable=False, default=0),
    Column("errors", JSON, nullable=True),
    Column("message", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_jobs_user", "user_id"),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _m001_base(conn: Connection) -> None:
    base = [users, sources, documents, passages, agents, blocks, agent_sources, messages, templates]
    metadata.create_all(conn, tables=base)


def _m002_message_fulltext(conn: Connection) -> None:
    """Ranked full-text search over recall memory: FTS5 on SQLite, tsvector on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(
            "CREATE VIRTUAL TABLE messages_fts USING fts5("
            "search_text, content='messages', content_rowid='seq', tokenize='porter unicode61')"
        ))
        conn.execute(text(
            "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN "
            "INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, coalesce(new.search_text, '')); END"
        ))
        conn.execute(text(
            "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN "
            "INSERT INTO messages_fts(messages_fts, rowid, search_text) "
            "VALUES ('delete', old.seq, coalesce(old.search_text, '')); END"
        ))
        conn.execute(text(
            "CREATE TRIGGER messages_fts_au AFTER UPDATE ON messages BEGIN "
            "INSERT INTO messages_fts(messages_fts, rowid, search_text) "
            "VALUES ('delete', old.seq, coalesce(old.search_text, '')); "
            "INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, coalesce(new.search_text, '')); END"
        ))
    elif conn.dialect.name == "postgresql":
        conn.execute(text(
            "ALTER TABLE messages ADD COLUMN content_tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', coalesce(search_text, ''))) STORED"
        ))
        conn.execute(text("CREATE INDEX ix_messages_tsv ON messages USING GIN (content_tsv)"))


def _m003_message_vectors(conn: Connection) -> None:
    """Dense vectors for recall memory's hybrid (meaning + words) search."""
    metadata.create_all(conn, tables=[message_vectors])


def _add_missing_column(conn: Connection, table: str, column: str, ddl: str) -> None:
    # m001 creates tables from the current Table objects, so a fresh database already has the column.
    from sqlalchemy import inspect

    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


def _m004_versions_and_load_claims(conn: Connection) -> None:
    """agents.version (optimistic concurrency) and documents.load_state (loads claim files first)."""
    _add_missing_column(conn, "agents", "version", "INTEGER NOT NULL DEFAULT 0")
    _add_missing_column(conn, "documents", "load_state", "VARCHAR(200) NOT NULL DEFAULT 'loaded'")


def _m006_server(conn: Connection) -> None:
    """API keys and background jobs for ``memgpt server``."""
    metadata.create_all(conn, tables=[api_keys, jobs])


def _m005_cjk_words(conn: Connection) -> None:
    """Full-text search that finds Chinese, Japanese and Korean words: index ``search_words`` where set.

    Adds ``messages.search_words`` (m001 already creates it on a new database),
    points the index at ``coalesce(search_words, search_text)`` and fills the
    column for the stored messages that hold CJK text. Rows without CJK keep
    exactly the index entries they had.
    """
    from sqlalchemy import inspect, update

    from memgpt.memory.words import has_cjk, search_words

    if "search_words" not in {c["name"] for c in inspect(conn).get_columns("messages")}:
        conn.execute(text("ALTER TABLE messages ADD COLUMN search_words TEXT"))
    indexed = "coalesce({0}.search_words, {0}.search_text, '')"
    if conn.dialect.name == "sqlite":
        for name in ("messages_fts_ai", "messages_fts_ad", "messages_fts_au"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        new, old = indexed.format("new"), indexed.format("old")
        conn.execute(text(
            "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN "
            f"INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, {new}); END"))
        conn.execute(text(
            "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN "
            f"INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.seq, {old}); END"))
        conn.execute(text(
            "CREATE TRIGGER messages_fts_au AFTER UPDATE ON messages BEGIN "
            f"INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.seq, {old}); "
            f"INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, {new}); END"))
    # The update trigger swaps each row's index entry (it was indexed by search_text).
    rows = conn.execute(text("SELECT seq, search_text FROM messages WHERE search_text IS NOT NULL "
                             "AND search_words IS NULL")).all()
    for seq, st in rows:
        if has_cjk(st):
            conn.execute(update(messages).where(messages.c.seq == seq).values(search_words=search_words(st)))
    if conn.dialect.name == "postgresql":
        # A generated column's expression cannot be altered: drop it and add it back.
        conn.execute(text("ALTER TABLE messages DROP COLUMN IF EXISTS content_tsv"))
        conn.execute(text(
            "ALTER TABLE messages ADD COLUMN content_tsv tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('english', {indexed.format('messages')})) STORED"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_messages_tsv ON messages USING GIN (content_tsv)"))


def _m007_step_counters(conn: Connection) -> None:
    """Steps that cost the same at any history length: agents.message_count (filled from the rows
    held), agents.vector_rev and message_vectors.rev (every stored vector counts as written at its
    own seq, so the revision of an agent is its newest vector's seq) and an index of each agent's
    messages by seq (word search walks a common word's matches newest first)."""
    _add_missing_column(conn, "agents", "message_count", "INTEGER NOT NULL DEFAULT 0")
    _add_missing_column(conn, "agents", "vector_rev", "INTEGER NOT NULL DEFAULT 0")
    _add_missing_column(conn, "message_vectors", "rev", "INTEGER NOT NULL DEFAULT 0")
    conn.execute(text("UPDATE message_vectors SET rev = seq"))
    conn.execute(text(
        "UPDATE agents SET message_count = (SELECT count(*) FROM messages WHERE messages.agent_id = agents.id), "
        "vector_rev = (SELECT coalesce(max(rev), 0) FROM message_vectors WHERE message_vectors.agent_id = agents.id)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_message_vectors_agent_rev ON message_vectors (agent_id, rev)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_messages_agent_seq ON messages (agent_id, seq)"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "base tables", _m001_base),
    (2, "full-text index on messages", _m002_message_fulltext),
    (3, "message vectors for dense recall search", _m003_message_vectors),
    (4, "agent versions and document load claims", _m004_versions_and_load_claims),
    (5, "full-text search over CJK character pairs", _m005_cjk_words),
    (6, "API keys and jobs for the server", _m006_server),
    (7, "message counters and vector revisions for constant-cost steps", _m007_step_counters),
]
