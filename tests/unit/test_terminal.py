"""The terminal prompt (prompt_toolkit driven through its pipe input) and the spinner."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from memgpt.cli.repl import Output
from memgpt.cli.slash import COMMANDS
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from memgpt.cli.terminal import SlashCompleter, Spinner, SpinningLLM, TerminalReader

HELP = {c.name: c.help for c in COMMANDS.values()}


def typed(history: Path, keys: str, n: int = 1, sources: Callable[[], list[str]] = lambda: []) -> list[str]:
    """What ``n`` prompts return when ``keys`` are typed on a terminal."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        read = TerminalReader(history, HELP, sources, input=pipe, output=DummyOutput())
        return [read("> ") for _ in range(n)]


def test_history_persists_across_sessions(tmp_path: Path) -> None:
    history = tmp_path / "home" / "history"
    assert typed(history, "first message\rsecond message\r", n=2) == ["first message", "second message"]
    with create_pipe_input() as pipe:
        later = TerminalReader(history, HELP, lambda: [], input=pipe, output=DummyOutput())
        # Up arrow walks these, newest first (typed by hand in tmux: see the issue 12 report)
        assert list(later.session.history.load_history_strings()) == ["second message", "first message"]


def test_line_editing_and_esc_enter_for_a_new_line(tmp_path: Path) -> None:
    left, backspace = "\x1b[D", "\x7f"
    assert typed(tmp_path / "h", f"helo{left}l\r") == ["hello"]
    assert typed(tmp_path / "h", f"line one\x1b\rline two{backspace}o\r") == ["line one\nline two"]


def completions(text: str, sources: list[str] | None = None) -> list[str]:
    completer = SlashCompleter(HELP, lambda: sources or [])
    document = Document(text)
    return [document.text[:len(document.text) + c.start_position] + c.text
            for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def test_completion_of_commands_and_source_names() -> None:
    assert completions("/att") == ["/attach"]
    assert completions("/") == list(HELP)  # every registered command, in /help order
    assert completions("/me") == ["/memory", "/memorywarning"]
    assert completions("/attach pa", ["paper", "notes", "pages"]) == ["/attach paper", "/attach pages"]
    assert completions("/detach ", ["paper"]) == ["/detach paper"]
    assert completions("/dump ", ["paper"]) == []  # not a source argument
    assert completions("hello /att") == [] and completions("two\n/att") == []


def test_ctrl_d_is_end_of_input(tmp_path: Path) -> None:
    with pytest.raises(EOFError):
        typed(tmp_path / "h", "\x04")


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_spinner_shows_while_the_llm_works_and_output_clears_it() -> None:
    stream = io.StringIO()
    out = Output(stream=stream, spinner=Spinner(stream, interval=0.01))
    release = threading.Event()

    class SlowLLM:
        model = "slow"

        def complete(self, request: str) -> str:
            _wait_for(lambda: "thinking… " in stream.getvalue())
            out.info("💭 an event printed mid-call")
            release.wait(10)
            return f"answer to {request}"

    llm = SpinningLLM(SlowLLM(), out.spinner)
    assert llm.model == "slow"  # everything but complete passes through
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(llm.complete("q")))
    worker.start()
    _wait_for(lambda: "thinking… " in stream.getvalue().partition("an event printed mid-call\n")[2])  # redrawn
    release.set()
    worker.join(10)
    assert done == ["answer to q"]
    text = stream.getvalue()
    before, _, after = text.partition("💭 an event printed mid-call\n")
    assert re.search(r"^\r⠋ thinking… \d+s", before) and before.endswith("\r")  # the spinner line was erased first
    assert "thinking… " in after and text.endswith("\r")  # drawn again, and erased when the call returned
    out.info("after")
    assert stream.getvalue().endswith("\rafter\n")
