"""One writer per agent across processes: SQLite file locks and PostgreSQL advisory locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from memgpt.errors import AgentBusyError
from memgpt.store.locks import AgentLocks

HOLDER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import create_engine
    from memgpt.store.locks import AgentLocks
    with AgentLocks(create_engine(sys.argv[1])).hold("agent-x", "x"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _holder(url: str, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


@pytest.mark.parametrize("kill", [False, True])
def test_a_second_process_is_refused_then_gets_the_lock(db_url: str, kill: bool) -> None:
    if db_url.startswith("sqlite"):
        create_engine(db_url).connect().close()
    locks = AgentLocks(create_engine(db_url))
    holder = _holder(db_url, 30 if kill else 1.5)
    try:
        with pytest.raises(AgentBusyError, match="agent 'x' is in use by another process"):
            with locks.hold("agent-x", "x"):
                pass
        with locks.hold("agent-y", "y"):  # other agents are not blocked
            pass
        if kill:
            os.kill(holder.pid, signal.SIGKILL)  # a crashed holder must not leave the agent locked
        holder.wait(timeout=30)
        with locks.hold("agent-x", "x", wait=10):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_threads_queue_for_the_same_agent(tmp_path: Path) -> None:
    import threading
    import time

    locks = AgentLocks(create_engine(f"sqlite:///{tmp_path / 'm.db'}"))
    inside, overlaps = [], []

    def work() -> None:
        with locks.hold("agent-q", "q", wait=20):
            if inside:
                overlaps.append(1)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_memgpt_run_on_a_held_agent_says_so_in_one_line(agent_home: Path, fake_llm) -> None:  # noqa: ANN001
    from memgpt.config import load_settings
    from memgpt.runtime import Runtime
    from memgpt.service import Service

    s = load_settings()
    s.model_endpoint, s.model_provider, s.model_api_key = fake_llm.base_url, "openai-compatible", "none"
    svc = Service(Runtime(s))
    try:
        svc.create_agent("shared")
        with svc.open("shared"):
            r = subprocess.run([sys.executable, "-m", "memgpt", "run", "--agent", "shared", "-y", "--no-verify"],
                               input="hello\n/exit\n", capture_output=True, text=True, timeout=120,
                               env={**os.environ, "MEMGPT_HOME": str(agent_home)})
        assert r.returncode == AgentBusyError.exit_code, r.stdout + r.stderr
        assert r.stderr.strip().splitlines() == [
            "error: agent 'shared' is in use by another process (a memgpt run or a memgpt server) (wait for it to "
            "finish, or stop the other process; one writer per agent keeps its memory consistent)"]
        assert not [m for m in svc.list_messages("shared").messages if m.content == "hello"]
    finally:
        svc.close()
