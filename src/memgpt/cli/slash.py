"""Slash commands of the chat REPL: a registry of small handlers.

Each handler takes the session and the text after the command, and returns
``EXIT`` to end the session. Its docstring's first line is its ``/help`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memgpt.service.session import count_arg

if TYPE_CHECKING:
    from memgpt.cli.session import Session

EXIT = "exit"


@dataclass
class SlashCommand:
    name: str
    usage: str
    fn: Callable[[Session, str], str | None]

    @property
    def help(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0]


COMMANDS: dict[str, SlashCommand] = {}


def command(name: str, usage: str = "") -> Callable:
    def register(fn: Callable[[Session, str], str | None]) -> Callable[[Session, str], str | None]:
        COMMANDS[name] = SlashCommand(name, usage, fn)
        return fn
    return register


def dispatch(session: Session, line: str) -> str | None:
    name, _, arg = line.strip().partition(" ")
    cmd = COMMANDS.get(name.lower())
    if cmd is None:
        session.failed(2)  # bad usage
        session.out.warn(f"unknown command {name}; type /help for the list")
        return None
    return cmd.fn(session, arg.strip())


@command("/help")
def help_(session: Session, arg: str) -> None:
    """List the commands."""
    for cmd in COMMANDS.values():
        session.out.info(f"{(cmd.name + ' ' + cmd.usage).strip():<22} {cmd.help}")


@command("/exit")
def exit_(session: Session, arg: str) -> str:
    """Save the agent and leave."""
    session.agent.save()
    return EXIT


@command("/save")
def save(session: Session, arg: str) -> None:
    """Save the agent now (it is also saved after every step)."""
    session.agent.save()
    session.out.info(f"saved agent {session.agent.name!r}")


@command("/attach", "[SOURCE]")
def attach(session: Session, arg: str) -> None:
    """Add a loaded data source to the agent's archival memory."""
    if not arg:
        sources = session.agent.attachable_sources()
        if not sources:
            session.out.warn("no data sources match this agent's embedding model; load one with: memgpt load directory")
            return
        arg = session.choose("Select data source", [s.name for s in sources])
        if not arg:
            return
    source, added = session.agent.attach(arg)
    if added:
        session.out.info(f"attached {source.name!r}: {source.n_passages} passages joined archival memory")
    else:
        session.out.info(f"{source.name!r} is already attached; nothing added")


@command("/detach", "SOURCE")
def detach(session: Session, arg: str) -> None:
    """Remove a data source from the agent's archival memory."""
    _delegate(session, "detach", arg)


@command("/memory")
def memory(session: Session, arg: str) -> None:
    """Show core memory and the size of recall and archival memory."""
    view = session.agent.memory()
    for block in view.core.values():
        session.out.info(f"--- {block.label} ({len(block.value)}/{block.limit} characters)\n{block.value}")
    session.out.info(f"recall memory: {view.recall_count} messages")
    session.out.info(f"archival memory: {view.archival_count} passages"
                     + (f" (attached sources: {', '.join(view.sources)})" if view.sources else ""))


@command("/dump", "[N]")
def dump(session: Session, arg: str) -> None:
    """Show the last N messages in the context window (all with no N)."""
    for m in session.agent.context(count_arg(arg, 0) if arg else None):
        calls = " ".join(f"{c.name}({c.arguments})" for c in m.tool_calls)
        session.out.info(f"[{m.role}{'/' + m.name if m.name else ''}] {m.content or ''} {calls}".rstrip())


def _delegate(session: Session, name: str, arg: str) -> None:
    """Run the service's command of that name and print its one-line outcome."""
    result = session.agent.command(f"/{name} {arg}".strip())
    if result.info:
        session.out.info(result.info)


@command("/pop", "[N]")
def pop(session: Session, arg: str) -> None:
    """Drop the last N messages (default 3) from the context window; recall keeps them."""
    _delegate(session, "pop", arg)


@command("/retry")
def retry(session: Session, arg: str) -> None:
    """Ask the agent again for its answer to your last message."""
    _delegate(session, "retry", arg)


@command("/rethink", "TEXT")
def rethink(session: Session, arg: str) -> None:
    """Replace the agent's last inner thoughts with TEXT."""
    _delegate(session, "rethink", arg)


@command("/rewrite", "TEXT")
def rewrite(session: Session, arg: str) -> None:
    """Replace the agent's last message to you with TEXT."""
    _delegate(session, "rewrite", arg)


@command("/summarize")
def summarize(session: Session, arg: str) -> None:
    """Summarise the older part of the context window now."""
    _delegate(session, "summarize", arg)


@command("/tokens")
def tokens(session: Session, arg: str) -> None:
    """Show how many tokens the next request uses."""
    _delegate(session, "tokens", arg)


@command("/heartbeat")
def heartbeat(session: Session, arg: str) -> None:
    """Wake the agent with a heartbeat event."""
    _delegate(session, "heartbeat", arg)


@command("/memorywarning")
def memorywarning(session: Session, arg: str) -> None:
    """Send the agent a memory-pressure warning."""
    _delegate(session, "memorywarning", arg)


@command("//")
def multiline(session: Session, arg: str) -> None:
    """Type a multi-line message, ended by a line holding only //."""
    lines = [arg] if arg else []
    while True:
        line = session.read("")
        if not session.interactive:
            session.out.info(line or " ")  # echo piped lines, as the REPL does for single ones
        if line.strip() == "//":
            break
        lines.append(line)
    if any(ln.strip() for ln in lines):
        session.agent.step("\n".join(lines))
