"""The chat loop: read a line, hand it to the agent or a slash command, print what happens.

Works the same on a terminal and on piped stdin (scripts and tests drive it
that way). Ctrl-C and Ctrl-D save the agent and leave cleanly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from memgpt.agent.loop import Agent, AgentEvent
from memgpt.cli.slash import EXIT, dispatch
from memgpt.errors import LLMError, MemGPTError
from memgpt.runtime import Runtime

PROMPT = "> Enter your message: "


@dataclass
class Output:
    """Prints agent activity the way the tutorial shows it."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)
    debug: bool = False
    _waiting: bool = False

    def event(self, e: AgentEvent) -> None:
        if e.kind == "thought":
            self._print(f"💭 {e.text}")
        elif e.kind == "message":
            self._print(f"🤖 {e.text}")
        elif e.kind == "call":
            if e.name != "send_message":
                self._print(f"⚡🧠 [function] {e.text}")
        elif e.kind == "result":
            if not e.ok:
                self._print(f"⚡❌ [function] {e.name} failed: {e.text}")
            elif self.debug and e.name != "send_message":
                self._print(f"⚡🟢 [function] {e.text[:500]}")
        elif e.kind == "warning":
            self._print(f"⚠️  {e.text}")
        else:
            self._print(f"ℹ️  {e.text}")

    def info(self, text: str) -> None:
        if text:
            self._print(text)

    def warn(self, text: str) -> None:
        self._print(f"⚠️  {text}")

    def error(self, text: str) -> None:
        self._print(f"error: {text}")

    def waiting(self, seconds: float) -> None:
        """The LLM client's on_wait hook: elapsed seconds on one line that the next output replaces."""
        if self.stream.isatty():
            self.stream.write(f"\r⏳ waiting for the model… {int(seconds)} s (Ctrl-C interrupts)")
            self.stream.flush()
            self._waiting = True

    def progress(self, desc: str, total: int) -> None:
        from tqdm import tqdm

        with tqdm(total=max(total, 1), desc=desc, file=self.stream, disable=not self.stream.isatty()) as bar:
            bar.update(max(total, 1))

    def _print(self, text: str) -> None:
        if self._waiting:  # wipe the waiting line first
            self.stream.write("\r\033[K")
            self._waiting = False
        print(text, file=self.stream, flush=True)


@dataclass
class Session:
    rt: Runtime
    agent: Agent
    out: Output
    interactive: bool
    choose: Callable[[str, list[str]], str | None]
    read: Callable[[str], str] = input


def piped_reader(stream: TextIO | None = None) -> Callable[[str], str]:
    """Read lines without printing a prompt (the REPL echoes piped input itself)."""
    def read(_prompt: str) -> str:
        line = (stream or sys.stdin).readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    return read


def run_repl(session: Session) -> int:
    while True:
        try:
            text = session.read(PROMPT)
        except EOFError:
            session.agent.save()
            return 0
        except KeyboardInterrupt:
            session.out.info("")
            session.agent.save()
            return 0
        if not session.interactive:
            session.out.info(f"{PROMPT}{text}")  # echo piped input so transcripts read naturally
        if not text.strip():
            continue
        try:
            if text.startswith("/"):
                if dispatch(session, text) == EXIT:
                    return 0
            else:
                session.agent.step(text)
        except EOFError:
            session.agent.save()
            return 0
        except KeyboardInterrupt:
            session.out.warn("interrupted; the agent is saved as of its last completed step")
        except LLMError as exc:
            session.out.error(f"{exc.one_line()} — your message is saved; type /retry to try again")
        except MemGPTError as exc:
            session.out.error(exc.one_line())
