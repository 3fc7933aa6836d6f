"""``memgpt load`` / ``list`` / ``delete`` through the real CLI, Milvus Lite and SQLite."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memgpt.cli.main import main
from memgpt.config import load_settings
from memgpt.memory.archival import Scope
from memgpt.runtime import Runtime


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def milvus_rows(source_name: str) -> int:
    rt = Runtime(load_settings())
    try:
        src = rt.metadata.get_source(rt.user.id, source_name)
        return rt.archival(src.embedding_model, src.embedding_dim).count(Scope(rt.user.id, source_ids=[src.id]))
    finally:
        rt.close()


def test_paper_loads_once(home: Path, shared_docs: Path, capsys: pytest.CaptureFixture) -> None:
    paper = str(shared_docs / "memgpt_paper.pdf")
    code, out, err = cli(capsys, "load", "directory", "--name", "memgpt_research_paper", f"--input-files={paper}")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    prefix, _, rest = last.partition(" passages and ")
    n_passages = int(prefix.removeprefix("Loaded "))
    assert rest == "13 documents from memgpt_research_paper"
    assert 50 <= n_passages <= 120
    assert milvus_rows("memgpt_research_paper") == n_passages
    assert "Loading files" in err and "Embedding passages" in err  # progress bars on stderr

    code, out, err = cli(capsys, "load", "directory", "--name", "memgpt_research_paper", "--input-files", paper)
    assert code == 0
    assert out.strip().splitlines()[-1] == "Loaded 0 passages and 0 documents from memgpt_research_paper"
    assert "already loaded" in err
    assert milvus_rows("memgpt_research_paper") == n_passages

    code, out, _ = cli(capsys, "list", "sources")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("memgpt_research_paper"))
    assert f" {n_passages} " in row and " 13 " in row and "local/all-MiniLM-L6-v2 (384-d)" in row


def test_every_shared_document_loads(home: Path, shared_docs: Path, tmp_path: Path, fake_llm,
                                     capsys: pytest.CaptureFixture) -> None:
    # The whole folder through an OpenAI-compatible embeddings endpoint (the scripted server's hashed
    # vectors over real HTTP): the local model's speed is measured by bench/ingest.py, not here.
    assert cli(capsys, "configure", "-y", "--embedding-provider", "openai", "--embedding-endpoint",
               fake_llm.base_url, "--embedding-model", "hash-embed", "--embedding-api-key", "none")[0] == 0
    docs = tmp_path / "docs"
    shutil.copytree(shared_docs, docs, ignore=shutil.ignore_patterns("MANIFEST.json"))
    code, out, err = cli(capsys, "load", "directory", "--name", "all_docs", "--input-dir", str(docs), "--no-progress")
    assert code == 0, err
    assert "Skipped" not in err and "Failed" not in err
    n_files = len(list(docs.iterdir()))
    last = out.strip().splitlines()[-1]
    n_passages = int(last.split()[1])
    n_documents = int(last.split()[4])
    assert n_documents >= n_files
    assert milvus_rows("all_docs") == n_passages


def test_bad_inputs_are_named_and_the_rest_loads(home: Path, shared_docs: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "good.txt").write_text("Otters hold hands while they sleep so they do not drift apart.\n" * 20)
    (d / "empty.txt").write_bytes(b"")
    (d / "truncated.pdf").write_bytes((shared_docs / "memgpt_paper.pdf").read_bytes()[:1000])
    (d / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "latin1.txt").write_bytes("Café crème, naïve façade, déjà vu.\n".encode("latin-1") * 10)
    code, out, err = cli(capsys, "load", "directory", "--name", "mixed", "--input-dir", str(d), "--no-progress")
    assert code == 4  # some files failed
    for name in ("empty.txt", "truncated.pdf", "binary.txt"):
        assert sum(name in line for line in err.splitlines()) == 1, err
    assert "Traceback" not in err
    last = out.strip().splitlines()[-1]
    assert last.endswith("documents from mixed") and last.split()[4] == "2"  # good.txt and latin1.txt
    assert milvus_rows("mixed") == int(last.split()[1])


def test_missing_path_and_usage_errors(home: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code, out, err = cli(capsys, "load", "directory", "--name", "x", "--input-files", str(tmp_path / "nope.pdf"))
    assert code == 4 and "nope.pdf" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "load", "directory", "--name", "x")
    assert code == 2 and "--input-dir" in err


def test_hostile_source_name_reveals_nothing(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("The secret launch code is ALPHA-SEVEN. " * 30)
    b.write_text("Public notes about gardening and tomatoes. " * 30)
    assert cli(capsys, "load", "directory", "--name", "secret", "--input-files", str(a))[0] == 0
    hostile = 'x" or user_id != "'
    assert cli(capsys, "load", "directory", "--name", hostile, "--input-files", str(b))[0] == 0
    rt = Runtime(load_settings())
    try:
        src = rt.metadata.get_source(rt.user.id, hostile)
        store = rt.archival(src.embedding_model, src.embedding_dim)
        hits = store.search(rt.embedder.embed("launch code"), Scope(rt.user.id, source_ids=[src.id]), limit=50)
        assert hits and all("tomatoes" in h.passage.text for h in hits)
        assert all("ALPHA" not in h.passage.text for h in hits)
    finally:
        rt.close()
    code, out, _ = cli(capsys, "list", "sources")
    assert hostile in out


def test_delete_source_removes_milvus_rows(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "notes.md"
    f.write_text("# Notes\n\n" + "Milvus stores vectors and searches them by similarity. " * 40)
    assert cli(capsys, "load", "directory", "--name", "notes", "--input-files", str(f))[0] == 0
    assert milvus_rows("notes") > 0
    rt = Runtime(load_settings())
    src = rt.metadata.get_source(rt.user.id, "notes")
    rt.close()
    code, out, _ = cli(capsys, "delete", "source", "notes", "-y")
    assert code == 0
    rt = Runtime(load_settings())
    try:
        assert rt.metadata.find_source(rt.user.id, "notes") is None
        store = rt.archival(src.embedding_model, src.embedding_dim)
        assert store.count(Scope(rt.user.id, source_ids=[src.id])) == 0
        assert store.search_text("Milvus stores vectors", Scope(rt.user.id, source_ids=[src.id]), limit=5) == []
    finally:
        rt.close()
    code, _, err = cli(capsys, "delete", "source", "notes", "-y")
    assert code == 3 and "no source named 'notes'" in err


def test_second_process_is_told_the_file_is_busy(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("hello milvus lite " * 50)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from memgpt.config import load_settings; from memgpt.runtime import Runtime;"
        "rt = Runtime(load_settings()); rt.milvus.client; print('ready', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        out = subprocess.run([sys.executable, "-m", "memgpt", "load", "directory", "--name", "a", "--input-files",
                              str(f), "--no-progress"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 5
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "milvus.db is in use by another process" in lines[0], out.stderr
        assert "Traceback" not in out.stderr
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)


def test_help_and_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "configure" in capsys.readouterr().out
    assert cli(capsys, "version")[1].strip() == "0.1.0"


def test_embedding_model_mismatch_is_refused(home: Path, tmp_path: Path, fake_llm,
                                             capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Lighthouses guide ships along dangerous coasts at night. " * 20)
    assert cli(capsys, "load", "directory", "--name", "coast", "--input-files", str(f))[0] == 0
    assert cli(capsys, "configure", "-y", "--embedding-provider", "openai", "--embedding-endpoint",
               fake_llm.base_url, "--embedding-model", "hash-embed", "--embedding-api-key", "none")[0] == 0
    g = tmp_path / "b.txt"
    g.write_text("Harbours shelter boats from storms. " * 20)
    code, out, err = cli(capsys, "load", "directory", "--name", "coast", "--input-files", str(g))
    assert code == 6
    line = err.strip().splitlines()[-1]
    assert "local/all-MiniLM-L6-v2 (384-d)" in line and "hash-embed" in line
    assert milvus_rows("coast") > 0  # the source keeps its passages untouched


def test_load_names_the_encoding_of_a_file_that_is_not_utf8(home: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    text = "Архивная память хранит документы, которые пользователь загрузил, и факты, которые агент решил сохранить."
    russian = tmp_path / "notes.txt"
    russian.write_bytes(f"{text}\n".encode("cp1251"))
    plain = tmp_path / "plain.txt"
    plain.write_text("Plain UTF-8 needs no mention.\n", encoding="utf-8")
    code, out, err = cli(capsys, "load", "directory", "--name", "mixed", "--input-files", str(russian), str(plain),
                         "--no-progress")
    assert code == 0, err
    assert f"Read {russian} as cp1251 (not UTF-8)" in err.splitlines()
    assert "plain.txt" not in err
    rt = Runtime(load_settings())
    try:
        src = rt.metadata.get_source(rt.user.id, "mixed")
        hits = rt.archival().search_text("Архивная память", Scope(rt.user.id, source_ids=[src.id]), limit=1)
        assert hits[0].passage.text == text
    finally:
        rt.close()
