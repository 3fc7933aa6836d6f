"""A full disk during ``memgpt load``: one line per file, no minutes of retries, SQL and Milvus agree,
and the next load (with room again) completes what the full disk stopped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import ledger, memgpt, text_file


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (needs root and a sandbox that allows mounts; skipped otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({res.stderr.strip() or 'mount failed'}); needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_fails_fast_in_one_line_and_a_reload_completes(small_disk: Path, tmp_path: Path, fake_llm) -> None:
    home = small_disk / "home"
    assert memgpt(home, "configure", "-y", "--embedding-provider", "openai", "--embedding-endpoint",
                  fake_llm.base_url, "--embedding-model", "hash-embed", "--embedding-api-key", "none").returncode == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        text_file(docs / f"f{i:02d}.txt", seed=100 + i, n_words=3000)

    # The subprocess timeout guards against the old behaviour (minutes of retries per file).
    res = memgpt(home, "load", "directory", "--name", "docs", "--no-progress", "--input-dir", str(docs), timeout=150)
    assert res.returncode == 5, res.stderr
    failures = [line for line in res.stderr.splitlines() if line.startswith("Failed ")]
    assert failures and all("disk full" in line and str(home) in line for line in failures), res.stderr
    # (Milvus Lite's own server may log one line of its own; memgpt's lines are the ones above.)
    assert "Traceback" not in res.stderr and "[ERROR]" not in res.stderr and "Retry" not in res.stderr
    full = ledger(home, "docs")
    # Every file recorded as loaded has all of its rows in Milvus. Files that were claimed but not
    # written keep their claim (a full disk refuses even the SQL delete that would drop it): the
    # claim names a dead process, so the next load takes it over.
    assert 0 < full.loaded_documents < 40
    assert full.sql_passages <= full.milvus_passages

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    res = memgpt(home, "load", "directory", "--name", "docs", "--no-progress", "--input-dir", str(docs), timeout=150)
    assert res.returncode == 0, res.stderr
    done = ledger(home, "docs")
    assert done.agree() and done.loaded_documents == 40
    assert full.sql_passages < done.sql_passages


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last block (ENOSPC is what stops the write)."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_in_a_step_fails_in_one_line_and_loses_nothing(small_disk: Path, fake_llm) -> None:  # noqa: ANN001
    from memgpt.agent import factory
    from memgpt.config import Settings
    from memgpt.errors import DiskFullError
    from memgpt.llm.openai_client import OpenAICompatibleClient
    from memgpt.runtime import Runtime
    from memgpt.store.agents import AgentStore
    from memgpt.testing.fake_llm import FakeReply

    rt = Runtime(Settings(home=small_disk / "home"))
    try:
        llm = OpenAICompatibleClient(fake_llm.base_url, "sk-test", "fake-llm", context_window=8192, sleep=lambda _s: None)
        agent = factory.open_agent(rt, factory.create_agent(rt, rt.user.id, persona="sam_pov", llm=llm), llm)
        fake_llm.queue(FakeReply.tool_call("send_message", {"message": "Hello!"}, content="Greet."))
        assert agent.step("hi").messages == ["Hello!"]
        before = AgentStore(rt.metadata.engine).get(agent.state.id)

        filler = _fill(small_disk)
        with pytest.raises(DiskFullError) as err:
            agent.step("this will not fit on the disk " * 2000)
        line = err.value.one_line()
        assert line.startswith("disk full: ") and "\n" not in line and "nothing of it was written" in line
        assert [m.id for m in agent.messages] == before.in_context  # the context holds only what is stored
        assert AgentStore(rt.metadata.engine).get(agent.state.id).in_context == before.in_context

        filler.unlink()
        fake_llm.queue(FakeReply.tool_call("send_message", {"message": "Still here."}, content="Answer."))
        assert agent.step("and now?").messages == ["Still here."]
        assert AgentStore(rt.metadata.engine).get(agent.state.id).version == agent.state.version
    finally:
        rt.close()
