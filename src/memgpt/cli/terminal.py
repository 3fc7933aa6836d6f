"""The chat prompt on a terminal: line editing, history, slash-command completion, a spinner.

Only used when stdin is a terminal; piped input keeps the plain line reader
(``repl.piped_reader``), so scripts and tests see exactly the same transcript
as before. prompt_toolkit comes with questionary and is imported only here.

Keys: Enter sends; Esc then Enter (or Alt-Enter, which terminals send as the
same two keys) starts a new line inside the message; Tab completes slash
commands and, after ``/attach`` or ``/detach``, source names; Up/Down and
Ctrl-R walk the history, which persists in ``$MEMGPT_HOME/history``.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings

NAMED_ARGUMENT = ("/attach", "/detach")  # commands whose argument is a source name


class SlashCompleter(Completer):
    """Completes ``/command`` names (with their help line) and source names after /attach and /detach."""

    def __init__(self, commands: Mapping[str, str], sources: Callable[[], list[str]]) -> None:
        self.commands = commands
        self.sources = sources

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, arg = text.partition(" ")
        if not space:
            for cmd, help_ in self.commands.items():
                if cmd.startswith(name.lower()):
                    yield Completion(cmd, start_position=-len(text), display_meta=help_)
        elif name.lower() in NAMED_ARGUMENT and " " not in arg:
            for source in self.sources():
                if source.startswith(arg):
                    yield Completion(source, start_position=-len(arg))


def _key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("escape", "enter")  # Esc-Enter, and Alt-Enter (terminals send it as Esc, Enter)
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    return kb


class TerminalReader:
    """``read(prompt) -> line`` for a terminal. Ctrl-D raises EOFError and Ctrl-C KeyboardInterrupt,
    as ``input()`` does. ``session_args`` go to ``PromptSession`` (tests pass a pipe input)."""

    def __init__(self, history: Path, commands: Mapping[str, str], sources: Callable[[], list[str]],
                 **session_args: Any) -> None:
        history.parent.mkdir(parents=True, exist_ok=True)
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)), completer=SlashCompleter(commands, sources),
            complete_while_typing=True, key_bindings=_key_bindings(), **session_args)

    def __call__(self, prompt: str) -> str:
        return self.session.prompt(prompt)


class Spinner:
    """``⠋ thinking… 3s`` on one terminal line while the LLM works; cleared before anything else prints.

    Output calls :meth:`clear` (under :attr:`lock`) before it prints a line, so
    agent events never mix with the spinner. The clock restarts after each
    printed line: it shows how long the current wait has lasted.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream = stream or sys.stdout
        self.interval = interval
        self.lock = threading.RLock()
        self._active = False
        self._drawn = 0
        self._since = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def running(self) -> Iterator[None]:
        self._stop.clear()
        self._since = time.monotonic()
        self._active = True
        self._thread = threading.Thread(target=self._spin, name="memgpt-spinner", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            with self.lock:
                self._active = False
                self.clear()

    def clear(self) -> None:
        """Erase the spinner line (call with :attr:`lock` held); the next tick redraws it."""
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0
            self._since = time.monotonic()

    def _spin(self) -> None:
        for frame in itertools.cycle(self.FRAMES):
            if self._stop.wait(self.interval):
                return
            with self.lock:
                if not self._active:
                    return
                text = f"{frame} thinking… {time.monotonic() - self._since:.0f}s"
                self.stream.write("\r" + text)
                self.stream.flush()
                self._drawn = len(text)


class SpinningLLM:
    """An LLM client that shows the spinner during each ``complete`` call; everything else passes through."""

    def __init__(self, llm: Any, spinner: Spinner) -> None:
        self._llm = llm
        self._spinner = spinner

    def complete(self, request: Any) -> Any:
        with self._spinner.running():
            return self._llm.complete(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)
