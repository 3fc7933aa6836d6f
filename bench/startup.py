"""Cold start: `memgpt --help`, and `memgpt run` until its first prompt appears.

`memgpt run` runs on a pseudo-terminal (as a person would), against the
scripted OpenAI-compatible server on 127.0.0.1, for a new agent (--first, so
no LLM call is made before the prompt) and for resuming it. Each figure is the
median of several fresh processes. Prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memgpt.testing.fake_llm import FakeLLMServer  # noqa: E402

PROMPT = b"Enter your message"


def time_help(n: int = 7) -> float:
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memgpt", "--help"], capture_output=True, check=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def time_to_prompt(args: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(sys.executable, [sys.executable, "-m", "memgpt", *args], env)
    t0 = time.perf_counter()
    seen = b""
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                seen += chunk
                if PROMPT in seen:
                    return time.perf_counter() - t0
        raise RuntimeError(f"no prompt within {timeout}s; output: {seen[-500:]!r}")
    finally:
        os.write(fd, b"/exit\n")
        deadline = time.time() + 20
        while time.time() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            try:
                os.read(fd, 4096)
            except OSError:
                pass
            time.sleep(0.05)
        os.close(fd)


def main() -> None:
    results: dict[str, float] = {"help_s": round(time_help(), 3)}
    with FakeLLMServer() as srv, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MEMGPT_HOME": home}
        subprocess.run([sys.executable, "-m", "memgpt", "configure", "-y", "--model-endpoint", srv.base_url,
                        "--model-api-key", "none", "--model", "fake-llm"], env=env, check=True, capture_output=True)
        new = [time_to_prompt(["run", "--agent", f"a{i}", "--first"], env) for i in range(3)]
        resume = [time_to_prompt(["run", "--agent", "a0"], env) for _ in range(3)]
        results["run_new_agent_s"] = round(statistics.median(new), 3)
        results["run_resume_s"] = round(statistics.median(resume), 3)
    print(f"{'what':<34} {'seconds':>8} {'target':>7}")
    print(f"{'memgpt --help':<34} {results['help_s']:>8} {'0.3':>7}")
    print(f"{'memgpt run, new agent, to prompt':<34} {results['run_new_agent_s']:>8} {'2':>7}")
    print(f"{'memgpt run, resume, to prompt':<34} {results['run_resume_s']:>8} {'2':>7}")
    print(json.dumps({"bench": "startup", **results}))


if __name__ == "__main__":
    main()
