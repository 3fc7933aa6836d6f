"""``memgpt load`` under duplicates, races and kills: SQL and Milvus agree exactly afterwards."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from faultkit import ledger, memgpt, memgpt_bg, text_file


def test_identical_files_in_one_load_are_stored_once(fhome: Path, tmp_path: Path) -> None:
    a = text_file(tmp_path / "a.txt", seed=1)
    b = tmp_path / "b.txt"
    shutil.copy(a, b)  # same content, another name
    c = text_file(tmp_path / "c.txt", seed=2)
    res = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", str(a), str(b), str(c))
    assert res.returncode == 0, res.stderr
    assert "same content as" in res.stderr and "Traceback" not in res.stderr
    first = ledger(fhome, "docs")
    assert first.agree() and first.sql_passages and first.loaded_documents == 2
    n = len(first.sql_passages)
    assert res.stdout.strip().splitlines()[-1] == f"Loaded {n} passages and 2 documents from docs"

    again = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", str(b), str(a))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "Loaded 0 passages and 0 documents from docs"


def test_two_loads_of_one_file_at_once_store_it_once(any_home: Path, tmp_path: Path) -> None:
    files = [str(text_file(tmp_path / f"f{i}.txt", seed=10 + i)) for i in range(3)]
    procs = [memgpt_bg(any_home, "load", "directory", "--name", "docs", "--no-progress", "--input-files", *files)
             for _ in range(2)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code in (0, 5), err  # 5: the other process holds the Milvus Lite file ("in use")
        assert "Traceback" not in err and "damaged" not in err
        if code == 5:
            assert "in use" in err
    assert any(code == 0 for code, _, _ in results), results
    after = ledger(any_home, "docs")
    assert after.agree() and after.loaded_documents == 3, results
    # Loading once more changes nothing: every file is recorded as loaded, with all of its rows.
    res = memgpt(any_home, "load", "directory", "--name", "docs", "--no-progress", "--input-files", *files)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "Loaded 0 passages and 0 documents from docs"


def test_loads_killed_between_writes_are_reported_repaired_and_healed(fhome: Path, tmp_path: Path) -> None:
    # One file per kill point, each load SIGKILLed at its point, all into one source.
    points = ["load:before-milvus", "load:after-milvus", "load:after-sql"]
    files = [str(text_file(tmp_path / f"k{i}.txt", seed=20 + i)) for i in range(len(points))]
    for point, f in zip(points, files):
        killed = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", f,
                        MEMGPT_FAULT_KILL=point)
        assert killed.returncode == -9, killed.stderr

    found = memgpt(fhome, "doctor")  # k0, k1: claims of a dead process; k2 was recorded before the kill
    assert found.returncode == 1, found.stdout + found.stderr
    assert "k0.txt: a load was interrupted" in found.stdout and "k1.txt: a load was interrupted" in found.stdout
    assert "k2.txt" not in found.stdout
    fixed = memgpt(fhome, "doctor", "--repair")
    assert "repaired" in fixed.stdout and "k1.txt needs loading again" in fixed.stdout, fixed.stdout

    res = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", *files)
    assert res.returncode == 0, res.stderr
    assert "k2.txt: already loaded" in res.stderr
    after = ledger(fhome, "docs")
    assert after.agree() and after.loaded_documents == 3 and after.sql_passages
    assert memgpt(fhome, "doctor").returncode == 0


def test_a_killed_load_is_taken_over_by_the_next_load(fhome: Path, tmp_path: Path) -> None:
    f = str(text_file(tmp_path / "t.txt", seed=29))
    killed = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", f,
                    MEMGPT_FAULT_KILL="load:after-milvus")
    assert killed.returncode == -9
    res = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-files", f)
    assert res.returncode == 0, res.stderr
    after = ledger(fhome, "docs")
    assert after.agree() and after.loaded_documents == 1 and after.sql_passages


def test_ctrl_c_during_embedding_stops_the_load_and_leaves_no_claim(fhome: Path, tmp_path: Path) -> None:
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(4):
        text_file(docs / f"m{i:02d}.txt", seed=40 + i, n_words=1200)
    proc = memgpt_bg(fhome, "load", "directory", "--name", "docs", "--input-dir", str(docs))
    seen = ""
    while "Embedding passages" not in seen:  # the bar is drawn once the first batch is under way
        ch = proc.stderr.read(1)
        assert ch, seen
        seen += ch
    proc.send_signal(signal.SIGINT)
    # A guard, not a timing assert: Ctrl-C lands between two embedding batches.
    code = proc.wait(timeout=60)
    assert code == 130, seen + proc.stderr.read()
    after = ledger(fhome, "docs")
    assert after.agree() and after.claimed_documents == 0
    res = memgpt(fhome, "load", "directory", "--name", "docs", "--no-progress", "--input-dir", str(docs))
    assert res.returncode == 0, res.stderr
    done = ledger(fhome, "docs")
    assert done.agree() and done.loaded_documents == 4
