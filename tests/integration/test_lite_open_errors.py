"""A Milvus Lite file that fails to open is called damaged only when a check proves it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from memgpt.errors import StorageLockedError
from memgpt.memory.archival import MilvusConnection

HOLD_LOCK = """
import fcntl, sys, time
fh = open(sys.argv[1], "a")
fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(60)
"""


def _healthy_sqlite(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.close()
    return path


def test_a_lock_held_by_another_process_is_in_use_not_damage(tmp_path: Path) -> None:
    path = _healthy_sqlite(tmp_path / "milvus.db")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / ".milvus.db.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # What an open that lost the start-up race reports: a generic engine error.
        err = MilvusConnection(str(path))._open_error(RuntimeError("Open local milvus failed"))
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(err, StorageLockedError)
    assert "in use" in err.one_line() and "damaged" not in err.one_line() and "move it aside" not in err.one_line()


def test_an_intact_file_is_never_called_damaged(tmp_path: Path) -> None:
    path = _healthy_sqlite(tmp_path / "milvus.db")
    err = MilvusConnection(str(path))._open_error(RuntimeError("Open local milvus failed"))
    line = err.one_line()
    assert "intact" in line and "damaged" not in line and "move it aside" not in line


def test_only_proven_damage_gets_the_move_it_aside_advice(tmp_path: Path) -> None:
    junk = tmp_path / "junk" / "milvus.db"
    junk.parent.mkdir()
    junk.write_bytes(b"this is not a database at all" * 100)
    line = MilvusConnection(str(junk))._open_error(RuntimeError("x")).one_line()
    assert "not a Milvus Lite database" in line and "move it aside" in line

    (tmp_path / "broken").mkdir()
    broken = _healthy_sqlite(tmp_path / "broken" / "milvus.db")
    data = bytearray(broken.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # keep the header, wreck the pages
    broken.write_bytes(bytes(data))
    line = MilvusConnection(str(broken))._open_error(RuntimeError("x")).one_line()
    assert "damaged" in line and "move it aside" in line
