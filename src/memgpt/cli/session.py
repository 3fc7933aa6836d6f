"""What the chat prints and the state of one chat: shared by the REPL and the slash commands.

(Kept apart from ``repl.py`` so that ``slash.py`` and ``repl.py`` do not import each other.)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from memgpt.runtime import Runtime
from memgpt.service import AgentSession
from memgpt.service.models import StepEvent

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
