"""The chat loop: read a line, hand it to the agent or a slash command, print what happens.

Works the same on a terminal and on piped stdin (scripts and tests drive it
that way). Ctrl-C and Ctrl-D save the agent and leave cleanly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from memgpt.cli.session import Output, Session
from memgpt.cli.slash import EXIT, dispatch
from memgpt.errors import LLMError, MemGPTError

__all__ = ["Output", "PROMPT", "Session", "piped_reader", "run_repl"]

PROMPT = "> Enter your message: "


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
