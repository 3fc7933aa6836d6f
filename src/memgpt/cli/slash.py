"""Slash commands of the chat REPL: a registry of small handlers.

Each handler takes the session and the text after the command, and returns
``EXIT`` to end the session. Its docstring's first line is its ``/help`` line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memgpt.errors import MemGPTError, NotFoundError

if TYPE_CHECKING:
    from memgpt.cli.repl import Session

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
        session.out.warn(f"unknown command {name}; type /help for the list")
        return None
    return cmd.fn(session, arg.strip())


def _count(arg: str, default: int) -> int:
    try:
        return max(1, int(arg)) if arg else default
    except ValueError:
        raise MemGPTError(f"expected a number, got {arg!r}") from None


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
    session.out.info(f"saved agent {session.agent.state.name!r}")


@command("/attach", "[SOURCE]")
def attach(session: Session, arg: str) -> None:
    """Add a loaded data source to the agent's archival memory."""
    from memgpt.agent.factory import attach_source

    rt, agent = session.rt, session.agent
    sources = [s.source for s in rt.metadata.list_sources(rt.user.id)
               if (s.source.embedding_model, s.source.embedding_dim)
               == (agent.state.embedding_model, agent.state.embedding_dim)]
    if not arg:
        if not sources:
            session.out.warn("no data sources match this agent's embedding model; load one with: memgpt load directory")
            return
        arg = session.choose("Select data source", [s.name for s in sources])
        if not arg:
            return
    source = rt.metadata.get_source(rt.user.id, arg)
    n = rt.metadata.count_passages(source.id)
    if attach_source(rt, agent, source):
        session.out.progress(f"attaching {source.name}", n)
        session.out.info(f"attached {source.name!r}: {n} passages joined archival memory")
    else:
        session.out.info(f"{source.name!r} is already attached; nothing added")


@command("/detach", "SOURCE")
def detach(session: Session, arg: str) -> None:
    """Remove a data source from the agent's archival memory."""
    if not arg:
        raise MemGPTError("name the source: /detach SOURCE")
    rt, agent = session.rt, session.agent
    source = rt.metadata.get_source(rt.user.id, arg)
    if agent.store.detach(agent.state, source):
        agent.memory.sources_changed()
        session.out.info(f"detached {source.name!r}")
    else:
        raise NotFoundError(f"{source.name!r} is not attached to this agent")


@command("/memory")
def memory(session: Session, arg: str) -> None:
    """Show core memory and the size of recall and archival memory."""
    agent = session.agent
    for block in agent.state.blocks.values():
        session.out.info(f"--- {block.label} ({len(block.value)}/{block.limit} characters)\n{block.value}")
    session.out.info(f"recall memory: {agent.memory.recall_count()} messages")
    names = [src.name for src in agent.store.attached_sources(agent.state.id)]
    session.out.info(f"archival memory: {agent.memory.archival_count()} passages"
                     + (f" (attached sources: {', '.join(names)})" if names else ""))


@command("/dump", "[N]")
def dump(session: Session, arg: str) -> None:
    """Show the last N messages in the context window (all with no N)."""
    messages = session.agent.messages
    n = _count(arg, len(messages) or 1)
    for m in messages[-n:]:
        calls = " ".join(f"{c.name}({c.arguments})" for c in m.tool_calls)
        session.out.info(f"[{m.role}{'/' + m.name if m.name else ''}] {m.content or ''} {calls}".rstrip())


@command("/pop", "[N]")
def pop(session: Session, arg: str) -> None:
    """Drop the last N messages (default 3) from the context window; recall keeps them."""
    removed = session.agent.pop(_count(arg, 3))
    session.out.info(f"removed {len(removed)} messages from the context window")


@command("/retry")
def retry(session: Session, arg: str) -> None:
    """Ask the agent again for its answer to your last message (its memory edits in that turn are undone)."""
    session.agent.retry()


def _last_assistant(session: Session, with_message: bool = False):  # noqa: ANN202
    for m in reversed(session.agent.messages):
        if m.role == "assistant" and (not with_message or any(c.name == "send_message" for c in m.tool_calls)):
            return m
    raise MemGPTError("the agent has not replied yet")


@command("/rethink", "TEXT")
def rethink(session: Session, arg: str) -> None:
    """Replace the agent's last inner thoughts with TEXT."""
    if not arg:
        raise MemGPTError("give the new thoughts: /rethink TEXT")
    m = _last_assistant(session)
    m.content = arg
    session.agent.store.update_message(session.agent.state, m)
    session.agent.memory.index_messages([m])  # its recall vector follows the new text
    session.agent.budget.forget(m)
    session.out.info("inner thoughts replaced")


@command("/rewrite", "TEXT")
def rewrite(session: Session, arg: str) -> None:
    """Replace the agent's last message to you with TEXT."""
    if not arg:
        raise MemGPTError("give the new message: /rewrite TEXT")
    m = _last_assistant(session, with_message=True)
    for c in m.tool_calls:
        if c.name == "send_message":
            c.arguments = json.dumps({"message": arg}, ensure_ascii=False)
    session.agent.store.update_message(session.agent.state, m)
    session.agent.memory.index_messages([m])  # its recall vector follows the new text
    session.agent.budget.forget(m)
    session.out.info("message rewritten")


@command("/summarize")
def summarize(session: Session, arg: str) -> None:
    """Summarise the older part of the context window now."""
    n = session.agent.summarize_now()
    session.out.info(f"summarised {n} messages" if n else "nothing to summarise yet")


@command("/tokens")
def tokens(session: Session, arg: str) -> None:
    """Show how many tokens the next request uses."""
    t = session.agent.context_tokens()
    used = t["system"] + t["tools"] + t["messages"]
    session.out.info(f"system {t['system']} + functions {t['tools']} + messages {t['messages']} = {used} tokens "
                     f"of {t['context_window']} ({round(100 * used / t['context_window'])}%; "
                     f"summary above {t['limit']})")


@command("/heartbeat")
def heartbeat(session: Session, arg: str) -> None:
    """Wake the agent with a heartbeat event."""
    session.agent.step("Heartbeat: you may act now if you want to.", is_event=True)


@command("/memorywarning")
def memorywarning(session: Session, arg: str) -> None:
    """Send the agent a memory-pressure warning."""
    session.agent.warn_memory()
    session.agent.continue_turn()


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
