"""``make demo``'s path end to end: ``python -m memgpt.demo`` as a user runs it, in a throw-away home."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_demo_answers_a_question_from_the_sample_document(tmp_path: Path) -> None:
    user_home = tmp_path / "user"  # HOME: the demo must leave ~/.memgpt alone
    demo_home = tmp_path / "demo-home"
    env = {k: v for k, v in os.environ.items() if k not in ("MEMGPT_HOME", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["HOME"] = str(user_home)
    proc = subprocess.run([sys.executable, "-m", "memgpt.demo", "--home", str(demo_home)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert re.search(r"^Loaded \d+ passages and 1 documents from how_memgpt_works$", out, re.M)
    turn = out.split("> Enter your message: What is core memory?\n", 1)[1].splitlines()
    assert turn[0].startswith("💭 ")
    assert turn[1].startswith("⚡🧠 [function] searching memory with archival_memory_search")
    assert turn[3].startswith('🤖 Here is what I found: "') and "Core memory is" in turn[3]
    assert "🤖 Hi, good to see you!" in out  # the agent greeted first
    url = re.search(r"stand-in LLM at (http://127\.0\.0\.1:(\d+)/v1)", out)
    assert url and "stand-in LLM stopped." in out
    with socket.socket() as sock:  # the stand-in is gone: its port refuses connections
        assert sock.connect_ex(("127.0.0.1", int(url.group(2)))) != 0
    assert "memgpt configure -y --model-provider ollama" in out
    assert not (user_home / ".memgpt").exists()
    assert (demo_home / "config").read_text().count(url.group(1)) == 1


def test_demo_refuses_to_empty_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "memgpt.demo", "--home", str(precious)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "is not a demo home" in proc.stderr
    assert (precious / "notes.txt").read_text() == "keep me"


def test_demo_names_a_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "memgpt.demo", "--file", str(tmp_path / "nope.pdf"),
                           "--home", str(tmp_path / "h")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4 and "nope.pdf: no such file" in proc.stderr
    assert not (tmp_path / "h").exists()


@pytest.mark.parametrize("name,expected", [("how-memgpt-works.md", "how_memgpt_works"), ("My Paper (v2).pdf", "my_paper_v2")])
def test_source_name_from_file(name: str, expected: str) -> None:
    from memgpt.demo import source_name

    assert source_name(Path(name)) == expected
