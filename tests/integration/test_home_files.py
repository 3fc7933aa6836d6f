"""The memgpt home: private files, and one-line errors for damaged ones that never lose data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from test_load_cli import cli


def _load(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Private notes about the garden. " * 60, encoding="utf-8")
    code, _, err = cli(capsys, "load", "directory", "--name", "notes", "--no-progress", "--input-files", str(f))
    assert code == 0, err


def test_the_home_is_0700_and_its_databases_0600(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _load(capsys, tmp_path)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("sqlite.db", "milvus.db"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


def test_a_malformed_sqlite_db_is_a_one_line_storage_error(home: Path, capsys: pytest.CaptureFixture) -> None:
    home.mkdir(parents=True)
    (home / "sqlite.db").write_bytes(b"this is not a database" * 200)
    code, _, err = cli(capsys, "list", "sources")
    assert code == 5 and "not an SQLite database or is damaged" in err and len(err.strip().splitlines()) == 1, err


def test_a_binary_config_is_a_one_line_config_error(home: Path, capsys: pytest.CaptureFixture) -> None:
    home.mkdir(parents=True)
    (home / "config").write_bytes(b"\xff\xfe\x00binary\x00\x81")
    code, _, err = cli(capsys, "list", "sources")
    assert code == 2 and "not UTF-8 text" in err and "unexpected" not in err, err


def test_an_emptied_sqlite_db_is_not_recreated_while_milvus_holds_passages(home: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    _load(capsys, tmp_path)
    for extra in ("sqlite.db-wal", "sqlite.db-shm"):
        (home / extra).unlink(missing_ok=True)
    (home / "sqlite.db").write_bytes(b"")
    milvus_size = (home / "milvus.db").stat().st_size
    code, _, err = cli(capsys, "list", "sources")
    assert code == 5 and "is empty (0 bytes) while" in err, err
    assert (home / "sqlite.db").stat().st_size == 0 and (home / "milvus.db").stat().st_size == milvus_size
