"""One writer per agent, across threads and processes.

An agent's state is read, advanced by one step and written back; two writers
interleaving would each overwrite the other's step. Every face (``memgpt run``,
the server's workers, the Python client) therefore takes the agent's lock
before it loads the agent and keeps it until it has saved:

- on PostgreSQL, a session-level advisory lock on a connection held for the
  duration (every worker on every machine sharing the database sees it);
- on SQLite, an exclusive ``flock`` on a file beside the database (every
  process on the machine sharing the file sees it).

Threads of one process first queue on an in-process lock, so a busy server
does not poll. A lock that cannot be had in time raises ``AgentBusyError``.
A crashed holder releases its lock with its process (the kernel drops the
flock; PostgreSQL ends the session), so nothing stays locked after kill -9.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from memgpt.errors import AgentBusyError

_POLL = 0.05
_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_guard = threading.Lock()


def _local(scope: str, agent_id: str) -> threading.Lock:
    with _local_guard:
        return _local_locks.setdefault((scope, agent_id), threading.Lock())


def advisory_key(agent_id: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock`` derived from the agent id."""
    return int.from_bytes(hashlib.sha256(agent_id.encode()).digest()[:8], "big", signed=True)


class AgentLocks:
    """Per-agent exclusive locks for one metadata database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.scope = str(engine.url)
        self._dir: Path | None = None
        if engine.dialect.name == "sqlite":
            db = engine.url.database
            base = Path(db).resolve().parent if db and db != ":memory:" else Path(os.environ.get("TMPDIR", "/tmp"))
            self._dir = base / "locks"

    @contextmanager
    def hold(self, agent_id: str, name: str, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the agent's lock for the block; raise ``AgentBusyError`` after ``wait`` seconds."""
        deadline = time.monotonic() + max(0.0, wait)
        local = _local(self.scope, agent_id)
        got = local.acquire(timeout=wait) if wait > 0 else local.acquire(blocking=False)
        if not got:
            raise _busy(name)
        try:
            with self._cross_process(agent_id, name, deadline):
                yield
        finally:
            local.release()

    @contextmanager
    def _cross_process(self, agent_id: str, name: str, deadline: float) -> Iterator[None]:
        if self._dir is not None:
            with _file_lock(self._dir / f"{agent_id}.lock", name, deadline):
                yield
        elif self.engine.dialect.name == "postgresql":
            with _advisory_lock(self.engine, agent_id, name, deadline):
                yield
        else:  # another database: one process at a time is all we can promise
            yield


@contextmanager
def _file_lock(path: Path, name: str, deadline: float) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(name) from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _advisory_lock(engine: Engine, agent_id: str, name: str, deadline: float) -> Iterator[None]:
    key = advisory_key(agent_id)
    conn = engine.connect()
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            if time.monotonic() >= deadline:
                raise _busy(name)
            time.sleep(_POLL)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
    finally:
        conn.close()


def _busy(name: str) -> AgentBusyError:
    return AgentBusyError(f"agent {name!r} is in use by another process (a memgpt run or a memgpt server)",
                          "wait for it to finish, or stop the other process; one writer per agent keeps its "
                          "memory consistent")
