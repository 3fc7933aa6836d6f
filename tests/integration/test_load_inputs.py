"""``memgpt load`` input handling: bad paths among good ones, pipes, chunking values, changed files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_load_cli import cli, milvus_rows


def _text(path: Path, words: str, n: int = 400) -> Path:
    path.write_text(" ".join(f"{words} {i}." for i in range(n)), encoding="utf-8")
    return path


def test_a_missing_path_or_a_pipe_does_not_stop_the_other_files(home: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    good = _text(tmp_path / "good.txt", "Archival memory keeps passages")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block forever
    code, out, err = cli(capsys, "load", "directory", "--name", "mixed", "--no-progress", "--input-files",
                         str(good), str(tmp_path / "missing.txt"), str(fifo))
    assert code == 4, err
    assert "missing.txt: no such file" in err and "pipe.txt: not a regular file" in err
    n = int(out.strip().splitlines()[-1].split()[1])
    assert n > 0 and milvus_rows("mixed") == n


@pytest.mark.parametrize("args, words", [
    (["--chunk-size", "-5"], "--chunk-size must be a positive number"),
    (["--chunk-size", "0"], "--chunk-size must be a positive number"),
    (["--chunk-size", "50", "--chunk-overlap", "50"], "--chunk-overlap must be at least 0 and smaller"),
    (["--chunk-overlap", "-1"], "--chunk-overlap must be at least 0 and smaller"),
])
def test_impossible_chunking_is_a_one_line_usage_error(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                       args: list[str], words: str) -> None:
    good = _text(tmp_path / "good.txt", "Recall memory keeps messages")
    code, _out, err = cli(capsys, "load", "directory", "--name", "c", "--no-progress", "--input-files", str(good), *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_changed_file_replaces_its_passages_unless_versions_are_kept(home: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    f = _text(tmp_path / "notes.txt", "The first version says apples")
    code, out, err = cli(capsys, "load", "directory", "--name", "notes", "--no-progress", "--input-files", str(f))
    assert code == 0, err
    first = int(out.strip().splitlines()[-1].split()[1])
    _text(f, "The second version says pears", n=200)
    code, out, err = cli(capsys, "load", "directory", "--name", "notes", "--no-progress", "--input-files", str(f))
    assert code == 0, err
    second = int(out.strip().splitlines()[-1].split()[1])
    assert second < first and milvus_rows("notes") == second  # the apples are gone

    _text(f, "The third version says plums", n=200)
    code, out, err = cli(capsys, "load", "directory", "--name", "notes", "--no-progress", "--keep-versions",
                         "--input-files", str(f))
    assert code == 0, err
    third = int(out.strip().splitlines()[-1].split()[1])
    assert milvus_rows("notes") == second + third
    code, out, _ = cli(capsys, "list", "sources")
    assert f" {second + third} " in next(line for line in out.splitlines() if line.startswith("notes"))
