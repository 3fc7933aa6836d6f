"""Names and texts are checked where they enter; deleting needs a yes that a pipe cannot give."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_load_cli import cli


@pytest.mark.parametrize("name, words", [
    ("", "name is empty"),
    ("   ", "name is empty"),
    ("two\nlines", "line break or control character"),
    ("x" * 201, "201 characters long (at most 200)"),
])
def test_bad_source_and_persona_names_are_refused(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  name: str, words: str) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Some words to load. " * 50, encoding="utf-8")
    code, _out, err = cli(capsys, "load", "directory", "--name", name, "--no-progress", "--input-files", str(f))
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    code, _out, err = cli(capsys, "add", "persona", "--name", name, "--text", "I am a pirate.")
    assert code == 2 and words in err, err
    code, out, _ = cli(capsys, "list", "sources")
    assert out.strip().splitlines()[2:] == []  # nothing was created


def test_a_huge_persona_is_refused_and_a_plain_hostile_name_is_just_a_name(home: Path, capsys: pytest.CaptureFixture) -> None:
    code, _out, err = cli(capsys, "add", "persona", "--name", "big", "--text", "word " * 5000)
    assert code == 2 and "25,000 characters (at most 20,000" in err, err
    code, out, err = cli(capsys, "add", "persona", "--name", 'x" or user_id != "', "--text", "I am careful.")
    assert code == 0, err


def test_delete_without_yes_on_a_pipe_refuses_and_keeps_the_source(home: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Some words to keep. " * 50, encoding="utf-8")
    assert cli(capsys, "load", "directory", "--name", "keep", "--no-progress", "--input-files", str(f))[0] == 0
    code, out, err = cli(capsys, "delete", "source", "keep")  # pytest's stdin is not a terminal
    assert code == 2 and "add -y to confirm" in err, out + err
    _, out, _ = cli(capsys, "list", "sources")
    assert any(line.startswith("keep ") for line in out.splitlines())
    assert cli(capsys, "delete", "source", "keep", "-y")[0] == 0
