"""Opening the relational database (SQLite file or PostgreSQL URL) and migrating it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, Table, create_engine, event, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from memgpt.errors import StorageError
from memgpt.store.tables import MIGRATIONS, metadata, schema_migrations


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` and bring its schema up to date."""
    if url.startswith("sqlite:///"):
        _private_file(Path(url.removeprefix("sqlite:///")))
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise StorageError(
                f"cannot use metadata database {_redact(url)}: {exc}",
                "for PostgreSQL install the driver: pip install 'memgpt[postgres]'",
            ) from exc
    try:
        with _migration_lock(url):
            migrate(engine)
    except DatabaseError as exc:  # OperationalError, or "file is not a database"
        detail = str(exc.orig).strip().splitlines()[0]
        hint = ("it is not an SQLite database or is damaged: move it aside (memgpt starts a new one) or restore "
                "a backup" if "not a database" in detail or "malformed" in detail
                else "check the URL with: memgpt configure --metadata-uri URL")
        raise StorageError(f"cannot open metadata database {_redact(url)}: {detail}", hint) from exc
    return engine


def _private_file(db: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only: it holds every conversation."""
    import os

    try:
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not db.exists():
            os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StorageError(f"cannot create metadata database {db}: {exc.strerror or exc}",
                           "check that the memgpt home is writable, or set MEMGPT_HOME") from exc


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Serialise first starts on one SQLite file across processes (PostgreSQL takes an advisory
    lock in ``migrate``): SQLite runs DDL outside a transaction, so two processes creating the
    tables at once would both try, and the second would fail on "table already exists"."""
    if not url.startswith("sqlite:///"):
        yield
        return
    import fcntl

    lock = Path(url.removeprefix("sqlite:///") + ".migrate-lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint, safe on crash
    cur.close()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def migrate(engine: Engine) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied."""
    applied: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent first starts against one database.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
        metadata.create_all(conn, tables=[schema_migrations])
        done = set(conn.scalars(select(schema_migrations.c.version)))
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            step(conn)
            conn.execute(insert(schema_migrations).values(
                version=version, name=name, applied_at=datetime.now(timezone.utc)))
            applied.append(version)
    return applied


@contextmanager
def writing(engine: Engine, what: str) -> Iterator[Connection]:
    """A write transaction whose database failures reach the user as one line (a full disk by name)."""
    from memgpt.errors import DiskFullError

    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        where = _redact(engine.url.render_as_string(hide_password=True))
        if any(k in detail.lower() for k in ("disk is full", "no space left", "could not extend file")):
            raise DiskFullError(f"disk full: {what} was not saved to {where} (nothing of it was written)",
                                "free space on that disk and try again") from exc
        raise StorageError(f"{what} was not saved to {where}: {detail}", "nothing of it was written; try again") from exc


def insert_ignoring(conn: Connection, table: Table, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows this call inserted."""
    if not rows:
        return 0
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return sum(len(conn.execute(stmt, row).all()) for row in rows)


def upsert(conn: Connection, table: Table, rows: list[dict], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE: never delete-and-reinsert (a concurrent writer's insert
    of the same key would fail on the primary key)."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=keys,
                                      set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
    conn.execute(stmt, rows)


def _dialect_insert(conn: Connection, table: Table):  # noqa: ANN202 - a dialect Insert
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
