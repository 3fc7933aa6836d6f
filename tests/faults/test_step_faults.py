"""``memgpt run`` killed mid-step: nothing duplicated, nothing dangling, the unanswered message answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import cli_env, memgpt

from memgpt.testing.fake_llm import FakeReply

_MESSAGES = r"""
import json, sys
from pathlib import Path
from sqlalchemy import text
from memgpt.config import load_settings
from memgpt.runtime import Runtime
rt = Runtime(load_settings(Path(sys.argv[1])))
with rt.metadata.engine.connect() as conn:
    rows = conn.execute(text("SELECT id, role, content FROM messages ORDER BY seq")).all()
    in_context = json.loads(conn.scalar(text("SELECT in_context FROM agents")))
rt.close()
print(json.dumps({"rows": [list(r) for r in rows], "in_context": in_context}))
"""


def _stored(home: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", _MESSAGES, str(home)], env=cli_env(home), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def say(text: str) -> FakeReply:
    return FakeReply.tool_call("send_message", {"message": text}, content="Answer.")


@pytest.mark.parametrize("point", ["step:after-user-message", "step:after-reply"])
def test_a_step_killed_mid_way_resumes_cleanly(fhome: Path, fake_llm, point: str) -> None:  # noqa: ANN001
    run = ["run", "--agent", "kay", "--first", "-y", "--model-endpoint", fake_llm.base_url, "--model", "fake-llm"]
    fake_llm.queue(say("First answer."))
    killed = subprocess.run([sys.executable, "-m", "memgpt", *run], input="remember the lamp\n/exit\n", text=True,
                            capture_output=True, env=cli_env(fhome, MEMGPT_FAULT_KILL=point), timeout=120)
    assert killed.returncode == -9, killed.stderr
    # Killed before asking the LLM (first case), the scripted reply is still queued for the resumed run.
    resumed = subprocess.run([sys.executable, "-m", "memgpt", *run], input="/exit\n", text=True,
                             capture_output=True, env=cli_env(fhome), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    stored = _stored(fhome)
    ids = [r[0] for r in stored["rows"]]
    assert len(ids) == len(set(ids)) and set(stored["in_context"]) <= set(ids)  # nothing twice, nothing dangling
    users = [r for r in stored["rows"] if r[1] == "user" and r[2] == "remember the lamp"]
    assert len(users) == 1
    if point == "step:after-user-message":
        assert "not answered" in resumed.stdout and "🤖 First answer." in resumed.stdout
    else:  # the reply was stored before the kill: nothing is pending, nothing is asked again
        assert "not answered" not in resumed.stdout and "🤖" not in resumed.stdout
        assert memgpt(fhome, "doctor").returncode == 0
