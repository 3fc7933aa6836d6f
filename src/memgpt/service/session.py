"""An open agent: loaded under its lock, stepped, saved, released.

``AgentSession`` is what every face uses to talk to an agent. ``memgpt run``
keeps one open for the whole chat; the server and the Python client open one
per request. Opening takes the agent's lock (``memgpt.store.locks``) and then
reads the agent's state, so a session always starts from the last saved step
of whichever process wrote it, and nobody else can write until it closes.

The operations behind the slash commands live here too, so ``/pop`` in the
REPL and ``run_command("/pop")`` over REST are the same code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from memgpt.errors import MemGPTError, NotFoundError, UsageError
from memgpt.service.convert import memory_view, message_info, source_info
from memgpt.service.models import AgentMemory, MessageInfo, SourceInfo, StepEvent, StepResult, StepUsage

if TYPE_CHECKING:
    from memgpt.agent.loop import Agent, AgentEvent
    from memgpt.llm.base import ChatRequest, ChatResponse, LLMClient
    from memgpt.service.core import Service


class UsageMeter:
    """An LLM client that counts calls and reported tokens for the step's ``usage``."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner
        self.usage = StepUsage()

    def __getattr__(self, name: str) -> Any:  # model, context_window, base_url, verify ...
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # The agent adopts a smaller window an overflow error reports: that belongs to the real client.
        if name in ("inner", "usage"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def complete(self, request: ChatRequest) -> ChatResponse:
        reply = self.inner.complete(request)
        self.usage.llm_calls += 1
        if reply.usage is not None:
            self.usage.prompt_tokens += reply.usage.prompt_tokens
            self.usage.completion_tokens += reply.usage.completion_tokens
            self.usage.total_tokens += reply.usage.total_tokens
        return reply


class AgentSession:
    """One agent, held exclusively until :meth:`close`."""

    def __init__(self, service: Service, agent: Agent, meter: UsageMeter, release: AbstractContextManager,
                 on_event: Callable[[StepEvent], None] | None = None) -> None:
        self.service = service
        self.agent = agent
        self.meter = meter
        self._release = release
        self._on_event = on_event
        self._events: list[StepEvent] = []
        agent.on_event = self._record

    # lifecycle ---------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.agent.state.id

    @property
    def name(self) -> str:
        return self.agent.state.name

    def close(self) -> None:
        try:
            self.agent.save()
        finally:
            self._release.__exit__(None, None, None)

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, e: AgentEvent) -> None:
        event = StepEvent(e.kind, e.text, e.name, e.ok)
        self._events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _run(self, fn: Callable[[], Any], info: str | None = None) -> StepResult:
        """Run one operation and return everything it produced."""
        self._events = []
        self.meter.usage = StepUsage()
        turn = fn()
        return StepResult(agent_id=self.id, events=list(self._events),
                          messages=list(getattr(turn, "messages", []) or []), steps=getattr(turn, "steps", 0),
                          usage=self.meter.usage, info=info)

    # messages ----------------------------------------------------------------------
    def step(self, text: str) -> StepResult:
        """The user's message, answered through to the end of the agent's turn."""
        if not text.strip():
            raise UsageError("the message is empty")
        return self._run(lambda: self.agent.step(text))

    def system_event(self, text: str) -> StepResult:
        """A runtime event (``role: system`` from a client) that the agent may act on."""
        return self._run(lambda: self.agent.step(text, is_event=True))

    def greet(self) -> StepResult:
        return self._run(self.agent.greet)

    def heartbeat(self) -> StepResult:
        return self.system_event("Heartbeat: you may act now if you want to.")

    def memory_warning(self) -> StepResult:
        def warn():  # noqa: ANN202
            self.agent.warn_memory()
            return self.agent.continue_turn(answer=False)
        return self._run(warn)

    def retry(self) -> StepResult:
        """Ask the agent again for its answer to the last user message (that turn's memory edits are undone)."""
        return self._run(self.agent.retry)

    def has_unanswered_message(self) -> bool:
        """Whether the last user message never got its turn (the process stopped mid-step)."""
        return self.agent.pending_user_message() is not None

    def answer_unanswered(self) -> StepResult:
        return self._run(self.agent.continue_turn)

    def rethink(self, text: str) -> StepResult:
        """Replace the agent's last inner thoughts."""
        if not text:
            raise UsageError("give the new thoughts: /rethink TEXT")
        m = _last_assistant(self.agent)
        m.content = text
        self._rewritten(m)
        return StepResult(agent_id=self.id, info="inner thoughts replaced")

    def rewrite(self, text: str) -> StepResult:
        """Replace the agent's last message to the user."""
        if not text:
            raise UsageError("give the new message: /rewrite TEXT")
        m = _last_assistant(self.agent, with_message=True)
        for c in m.tool_calls:
            if c.name == "send_message":
                c.arguments = json.dumps({"message": text}, ensure_ascii=False)
        self._rewritten(m)
        return StepResult(agent_id=self.id, info="message rewritten")

    def _rewritten(self, m: Any) -> None:
        agent = self.agent
        agent.store.update_message(agent.state, m)
        agent.memory.index_messages([m])  # its recall vector follows the new text
        agent.budget.forget(m)

    def pop(self, n: int = 3) -> StepResult:
        """Drop the newest messages from the context window (recall keeps them)."""
        removed = self.agent.pop(n)
        return StepResult(agent_id=self.id, info=f"removed {len(removed)} messages from the context window")

    def summarize(self) -> StepResult:
        n = self.agent.summarize_now()
        return StepResult(agent_id=self.id, info=f"summarised {n} messages" if n else "nothing to summarise yet")

    def tokens(self) -> dict[str, int]:
        """Tokens of the next request by part, and the window."""
        return self.agent.context_tokens()

    def context_warning(self) -> str | None:
        """A warning when the window cannot hold the system prompt and the functions."""
        a = self.agent
        fixed = a.budget.text(a.state.system_prompt) + a.budget.tools(a.tools.schemas())
        if fixed < a.budget.limit:
            return None
        return (f"the context window ({a.budget.context_window} tokens) leaves no room for messages: the system "
                f"prompt and functions alone take {fixed}. Use a model with a larger window, or set it with "
                "--context-window if the model's real window is larger")

    def context(self, n: int | None = None) -> list[MessageInfo]:
        """The newest ``n`` messages of the context window (all with None)."""
        messages = self.agent.messages
        return [message_info(m, in_context=True) for m in (messages[-n:] if n else messages)]

    def save(self) -> None:
        self.agent.save()

    # memory ------------------------------------------------------------------------
    def memory(self) -> AgentMemory:
        return memory_view(self.agent.memory)

    def attachable_sources(self) -> list[SourceInfo]:
        """Sources whose embedding model matches the agent's (those /attach can offer)."""
        state = self.agent.state
        return [s for s in self.service.list_sources()
                if (s.embedding_model, s.embedding_dim) == (state.embedding_model, state.embedding_dim)]

    def attach(self, source_ref: str) -> tuple[SourceInfo, bool]:
        """Attach a source; False when it already was."""
        from memgpt.agent.factory import attach_source

        source = self.service._source(source_ref)
        added = attach_source(self.agent.memory, source)
        self.agent.state.source_names = sorted({*self.agent.state.source_names, source.name})
        return source_info(source, self.service.rt.metadata), added

    def detach(self, source_ref: str) -> SourceInfo:
        source = self.service._source(source_ref)
        if not self.agent.store.detach(self.agent.state, source):
            raise NotFoundError(f"{source.name!r} is not attached to agent {self.name!r}")
        self.agent.memory.sources_changed()
        return source_info(source, self.service.rt.metadata)

    # commands by name (run_command over REST, the same code as the REPL's) ------------
    def command(self, line: str) -> StepResult:
        name, _, arg = line.strip().lstrip("/").partition(" ")
        arg = arg.strip()
        handler = COMMANDS.get(name.lower())
        if handler is None:
            raise UsageError(f"unknown command /{name}", f"commands: {', '.join('/' + c for c in COMMANDS)}")
        return handler(self, arg)


def count_arg(arg: str, default: int) -> int:
    try:
        return max(1, int(arg)) if arg else default
    except ValueError:
        raise UsageError(f"expected a number, got {arg!r}") from None


def _info(text: str, agent_id: str) -> StepResult:
    return StepResult(agent_id=agent_id, info=text)


def _attach_cmd(s: AgentSession, arg: str) -> StepResult:
    if not arg:
        raise UsageError("name the source: /attach SOURCE")
    src, added = s.attach(arg)
    return _info(f"attached {src.name!r}: {src.n_passages} passages joined archival memory" if added
                 else f"{src.name!r} is already attached; nothing added", s.id)


def _detach_cmd(s: AgentSession, arg: str) -> StepResult:
    if not arg:
        raise UsageError("name the source: /detach SOURCE")
    return _info(f"detached {s.detach(arg).name!r}", s.id)


def _save_cmd(s: AgentSession, arg: str) -> StepResult:
    s.save()
    return _info(f"saved agent {s.name!r}", s.id)


def _tokens_cmd(s: AgentSession, arg: str) -> StepResult:
    t = s.tokens()
    used = t["system"] + t["tools"] + t["messages"]
    return _info(f"system {t['system']} + functions {t['tools']} + messages {t['messages']} = {used} tokens of "
                 f"{t['context_window']} ({round(100 * used / t['context_window'])}%; summary above {t['limit']})",
                 s.id)


COMMANDS: dict[str, Callable[[AgentSession, str], StepResult]] = {
    "retry": lambda s, a: s.retry(),
    "rethink": lambda s, a: s.rethink(a),
    "rewrite": lambda s, a: s.rewrite(a),
    "pop": lambda s, a: s.pop(count_arg(a, 3)),
    "summarize": lambda s, a: s.summarize(),
    "tokens": _tokens_cmd,
    "heartbeat": lambda s, a: s.heartbeat(),
    "memorywarning": lambda s, a: s.memory_warning(),
    "attach": _attach_cmd,
    "detach": _detach_cmd,
    "save": _save_cmd,
}


def _last_assistant(agent: Agent, with_message: bool = False) -> Any:
    for m in reversed(agent.messages):
        if m.role == "assistant" and (not with_message or any(c.name == "send_message" for c in m.tool_calls)):
            return m
    raise MemGPTError("the agent has not replied yet")

