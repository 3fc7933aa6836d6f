"""``make demo``: the main job, whole, from a bare clone and offline.

    python -m memgpt.demo [--file docs/how-memgpt-works.md] [--home .memgpt-demo]

1. loads a document (by default the page this project wrote about how memgpt
   works) with the embedded defaults: Milvus Lite, SQLite, the local model;
2. starts the scripted stand-in LLM (``memgpt.testing.fake_llm``) on a free
   port of 127.0.0.1 and points the demo's configuration at it;
3. creates an agent, ``/attach``-es the source and asks one question, showing
   the agent's inner thoughts, its memory search and its answer;
4. stops the stand-in and says how to point memgpt at a real LLM.

Every step is a real ``memgpt`` command, printed before it runs. Everything
lives in a throw-away ``MEMGPT_HOME`` (``.memgpt-demo`` in the current folder,
emptied at the start of each demo), so a user's own ``~/.memgpt`` is never
read or changed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_FILE = Path("docs/how-memgpt-works.md")
DEFAULT_QUESTION = "What is core memory?"
OTHER_QUESTION = "What is this document about?"
AGENT = "demo"
MARKER = ".memgpt-demo-home"  # marks a folder this demo created, so it never empties anything else


def source_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", path.stem).strip("_").lower() or "document"


def _prepare_home(home: Path) -> None:
    if home.exists():
        if not (home / MARKER).exists():
            raise SystemExit(f"error: {home} exists and is not a demo home; pass another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by python -m memgpt.demo; safe to delete\n", encoding="utf-8")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["MEMGPT_HOME"] = str(home)
    return env


def _memgpt(env: dict[str, str], *argv: str, stdin: str | None = None) -> None:
    shown = " ".join(shlex.quote(a) for a in argv)
    print(f"\n$ memgpt {shown}" + (f"   (typed: {stdin.strip().splitlines()})" if stdin else ""), flush=True)
    proc = subprocess.run([sys.executable, "-m", "memgpt", *argv], env=env, input=stdin, text=True)
    if proc.returncode:
        raise SystemExit(proc.returncode)


def _start_stand_in(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "memgpt.testing.fake_llm", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "fake LLM listening on http://127.0.0.1:PORT/v1 ..."
    m = re.search(r"(http://\S+/v1)", line)
    if not m:
        proc.kill()
        proc.wait()
        raise SystemExit(f"error: the stand-in LLM did not start: {line.strip() or 'no output'}")
    return proc, m.group(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memgpt.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the document to load")
    parser.add_argument("--home", type=Path, default=Path(".memgpt-demo"), help="the throw-away MEMGPT_HOME")
    parser.add_argument("--question", help="what to ask (default: one that suits the sample document)")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: {args.file}: no such file (give PAPER=path/to/file to make demo)", file=sys.stderr)
        return 4
    home = args.home.resolve()
    question = args.question or (DEFAULT_QUESTION if args.file.name == DEFAULT_FILE.name else OTHER_QUESTION)
    name = source_name(args.file)
    _prepare_home(home)
    env = _env(home)
    print(f"memgpt demo: MEMGPT_HOME={home} (throw-away; your ~/.memgpt is not touched)")
    _memgpt(env, "load", "directory", "--name", name, "--input-files", str(args.file))
    print("\nStarting the scripted stand-in LLM (it always searches archival memory for what you type and "
          "quotes the best passage back)...", flush=True)
    stand_in, url = _start_stand_in(env)
    try:
        print(f"stand-in LLM at {url}", flush=True)
        _memgpt(env, "configure", "-y", "--model-endpoint", url, "--model", "fake-llm", "--model-api-key", "none")
        _memgpt(env, "run", "--agent", AGENT, "--persona", "memgpt_doc", "-y",
                stdin=f"/attach {name}\n{question}\n/exit\n")
    finally:
        stand_in.terminate()
        try:
            stand_in.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stand_in.kill()
            stand_in.wait()
        if stand_in.stdout:
            stand_in.stdout.close()
        print("\nstand-in LLM stopped.", flush=True)
    print(f"""
That was one whole turn: the agent searched its archival memory (⚡🧠) and answered from {args.file.name} (🤖).

Next, with a real LLM (in your own ~/.memgpt; the demo home above can be deleted):
  . .venv/bin/activate                      # puts memgpt on PATH (or call .venv/bin/memgpt)
  export OPENAI_API_KEY=sk-...              # either OpenAI (gpt-4o-mini by default),
  memgpt configure -y --model-provider ollama --model llama3.1   # or a local Ollama
  memgpt load directory --name {name} --input-files {args.file}
  memgpt run --persona memgpt_doc           # then type: /attach {name}
""", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
