"""The chat loop: read a line, hand it to the agent or a slash command, print what happens.

Works the same on a terminal and on piped stdin (scripts and tests drive it
that way). Ctrl-C and Ctrl-D save the agent and leave cleanly.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from memgpt.cli.slash import EXIT, dispatch
from memgpt.errors import LLMError, MemGPTError
from memgpt.runtime import Runtime
from memgpt.service import AgentSession
from memgpt.service.models import StepEvent

PROMPT = "> Enter your message: "

# --strip-ui (as in pymemgpt): words instead of the emoji markers, and no other emoji.
_PLAIN = [("⚡🧠 [function] ", "[function] "), ("⚡❌ [function] ", "[function error] "),
          ("⚡🟢 [function] ", "[function result] "), ("💭 ", "[inner thoughts] "), ("🤖 ", "[assistant] "),
          ("⚠️  ", "[warning] "), ("ℹ️  ", "[info] ")]
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]+ ?")


def plain(text: str) -> str:
    for marker, word in _PLAIN:
        if text.startswith(marker):
            text = word + text[len(marker):]
            break
    return _EMOJI.sub("", text)


@dataclass
class Output:
    """Prints agent activity the way the tutorial shows it."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)
    debug: bool = False
    strip_ui: bool = False
    spinner: Any = None  # a terminal.Spinner when the chat runs on a terminal

    def event(self, e: StepEvent) -> None:
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

    def _print(self, text: str) -> None:
        if self.strip_ui:
            text = plain(text)
        if self.spinner is None:
            print(text, file=self.stream, flush=True)
            return
        with self.spinner.lock:
            self.spinner.clear()
            print(text, file=self.stream, flush=True)


@dataclass
class Session:
    rt: Runtime
    agent: AgentSession  # the open agent: the service does the work, the REPL reads and prints
    out: Output
    interactive: bool
    choose: Callable[[str, list[str]], str | None]
    read: Callable[[str], str] = input
    failure: int = 0  # exit code of the last failure; a piped or -y run exits with it

    def failed(self, code: int) -> None:
        self.failure = code


def piped_reader(stream: TextIO | None = None) -> Callable[[str], str]:
    """Read lines without printing a prompt (the REPL echoes piped input itself)."""
    def read(_prompt: str) -> str:
        line = (stream or sys.stdin).readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    return read


def run_repl(session: Session) -> int:
    """Chat until /exit or end of input; returns the exit code (see ``memgpt.cli.main``)."""
    _chat(session)
    return 0 if session.interactive else session.failure


def _chat(session: Session) -> None:
    while True:
        try:
            text = session.read(PROMPT)
        except EOFError:
            session.agent.save()
            return
        except KeyboardInterrupt:
            session.out.info("")
            session.agent.save()
            return
        if not session.interactive:
            session.out.info(f"{PROMPT}{text}")  # echo piped input so transcripts read naturally
        if not text.strip():
            continue
        try:
            if text.startswith("/"):
                if dispatch(session, text) == EXIT:
                    return
            else:
                session.agent.step(text)
        except EOFError:
            session.agent.save()
            return
        except KeyboardInterrupt:
            session.failed(130)
            session.out.warn("interrupted; the agent is saved as of its last completed step")
        except LLMError as exc:
            session.failed(exc.exit_code)
            session.out.error(f"{exc.one_line()} — your message is saved; type /retry to try again")
        except MemGPTError as exc:
            session.failed(exc.exit_code)
            session.out.error(exc.one_line())
