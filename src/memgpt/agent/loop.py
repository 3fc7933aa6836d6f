"""The agent loop: one user turn is a chain of LLM calls joined by heartbeats.

Each inner step sends the system message (prompt + core memory), the tool
schemas and the in-context queue to the LLM. The reply's text is the agent's
inner monologue; its tool calls run in order and their results join the
queue. The agent gets another step when a call asked for a heartbeat or
failed, or when it ran functions in a user's turn without having answered the
user yet; ``send_message`` without a heartbeat ends the turn. Every inner step
is saved in one transaction before the next begins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from memgpt.agent.context import (
    EVENT,
    KEEP_RATIO,
    WARN_AT,
    TokenBudget,
    event,
    memory_statistics,
    render_memory,
    render_system,
    with_statistics,
    split_point,
    summarize,
)
from memgpt import faults
from memgpt.agent.jsonfix import parse_arguments
from memgpt.agent.memory import AgentMemory
from memgpt.agent.tools import HEARTBEAT_PARAM, ToolError, ToolSet
from memgpt.errors import MemGPTError, StorageError
from memgpt.llm.base import ChatRequest, ChatResponse, LLMClient
from memgpt.llm.errors import ContextWindowExceededError
from memgpt.llm.local import overflow_limit
from memgpt.llm.textcalls import calls_from_text
from memgpt.schemas import Message, ToolCall
from memgpt.store.agents import AgentStore
from memgpt.tokens import TokenCounter

EventKind = Literal["thought", "call", "result", "message", "system", "warning"]

MEMORY_WARNING = ("Memory pressure: the context window is {pct}% full. Older messages will soon be summarised "
                  "and leave the context (they stay searchable in recall memory). Save anything important to "
                  "core memory or archival memory now.")
LOGIN = "The user has just connected. Greet them in your persona, using send_message."
EMPTY_REPLY = "Your last reply was empty. Answer the user with send_message."
BLOCKS_BEFORE_TURN = "blocks_before_turn"  # state key: core memory at the start of the last user turn
UNREADABLE_CALL = ("Your last reply looked like a function call but could not be read: {errors}. Write each call as "
                   '<tool_call>{{"name": "send_message", "arguments": {{"message": "..."}}}}</tool_call> '
                   "with the arguments as a JSON object.")
UNANSWERED_STEPS = 2  # extra steps a user's turn gets when functions ran but nothing was said yet
MAX_EMPTY_REPLIES = 2  # in a row; past that, asking again only repeats the cause (usually the server's chat format)
EMPTY_DIAGNOSIS = ("the model returned {n} empty replies in a row, so the turn was stopped; the server's chat format "
                   "is the likely cause (a function-calling format that hides the reply): serve the model with its "
                   "own chat template (llama.cpp: llama-server --jinja) or use `--model-wrapper json`")


@dataclass
class AgentEvent:
    kind: EventKind
    text: str
    name: str | None = None  # the function, for call/result events
    ok: bool = True


@dataclass
class TurnResult:
    messages: list[str]  # what the user was sent
    steps: int


class Agent:
    def __init__(self, memory: AgentMemory, llm: LLMClient, store: AgentStore, tools: ToolSet,
                 counter: TokenCounter, *, max_heartbeats: int = 10,
                 on_event: Callable[[AgentEvent], None] | None = None) -> None:
        self.memory = memory
        self.state = memory.state
        self.llm = llm
        self.store = store
        self.tools = tools
        self.budget = TokenBudget(counter, llm.context_window)
        self.max_heartbeats = max_heartbeats
        self.on_event = on_event or (lambda e: None)
        self.messages: list[Message] = store.messages(self.state.in_context)
        self._empty_replies = 0  # empty replies in a row within the current turn
        self._ran_calls = False  # whether the last inner step ran functions

    # public ---------------------------------------------------------------------
    def step(self, text: str, *, is_event: bool = False) -> TurnResult:
        """Handle one user message (or runtime event) through to the end of the agent's turn."""
        first = event(text) if is_event else Message(role="user", content=text)
        if not is_event:  # what /retry restores: core memory as it was before this turn's edits
            self.state.state[BLOCKS_BEFORE_TURN] = {b.label: b.value for b in self.state.blocks.values()}
        self._commit([first])  # saved at once: the user's words survive a failing LLM
        faults.point("step:after-user-message")
        return self.continue_turn(answer=not is_event)

    def pending_user_message(self) -> Message | None:
        """The user's message at the end of the context if nothing answered it (the process that
        took it stopped mid-step, or the endpoint failed): resuming answers it."""
        last = self.messages[-1] if self.messages else None
        return last if last is not None and last.role == "user" and last.name != EVENT else None

    def continue_turn(self, *, answer: bool = True) -> TurnResult:
        """Run inner steps from the current queue until the agent yields (used by step and /retry).

        With ``answer`` (a user's turn) the user is owed a reply: a step that ran functions without
        asking for a heartbeat, while nothing has reached the user yet, still gets the next step (up
        to ``UNANSWERED_STEPS`` times a turn). Small models search and then forget to request the
        heartbeat that would let them read the result, which left the user with silence.
        """
        self.memory.outbox.messages.clear()
        self._empty_replies = 0
        steps = unanswered = 0
        while True:
            steps += 1
            self._ran_calls = False
            again = self._inner_step()
            if (not again and answer and self._ran_calls and not self.memory.outbox.messages
                    and unanswered < UNANSWERED_STEPS):
                unanswered += 1
                again = True
            if not again:
                break
            if steps > self.max_heartbeats:
                self._emit("warning", f"stopped after {self.max_heartbeats} chained steps (max_heartbeats)")
                break
        return TurnResult(list(self.memory.outbox.messages), steps)

    def greet(self) -> TurnResult:
        return self.step(LOGIN, is_event=True)

    def system_message(self) -> Message:
        return Message(role="system", content=render_system(self.state), id="system")

    def statistics(self) -> str:
        return memory_statistics(self._archival_count(), self.memory.recall_count())

    def context_tokens(self) -> dict[str, int]:
        tools = self.budget.tools(self.tools.schemas())
        return {"system": self._system_tokens() - tools, "tools": tools,
                "messages": sum(self.budget.message(m) for m in self.messages),
                "limit": self.budget.limit, "context_window": self.budget.context_window}

    def summarize_now(self) -> int:
        """Summarise the older part of the queue now; returns how many messages left the context."""
        return self._evict(self._system_tokens())

    def warn_memory(self) -> None:
        used = self.budget.request(self.system_message().content or "", self.tools.schemas(), self.messages)
        self._commit([event(MEMORY_WARNING.format(pct=round(100 * used / self.budget.context_window)))])

    def pop(self, n: int) -> list[Message]:
        """Remove the newest ``n`` messages from the context (they stay in recall)."""
        n = max(0, min(n, len(self.messages)))
        removed = self.messages[len(self.messages) - n:]
        del self.messages[len(self.messages) - n:]
        start = self._unanswered_call()
        if start is not None:  # never leave a call without all of its results
            removed[:0] = self.messages[start:]
            del self.messages[start:]
        self._save([])
        return removed

    def retry(self) -> TurnResult:
        """Answer the last user message again: the turn's replies leave the context (recall keeps
        them) and its core-memory edits are undone, so a retried ``core_memory_append`` lands once."""
        i = self.last_user_index()
        if i is None:
            raise MemGPTError("there is no user message to retry")
        del self.messages[i + 1:]
        before = self.state.state.get(BLOCKS_BEFORE_TURN) or {}
        for label, value in before.items():
            if label in self.state.blocks:
                self.state.blocks[label].value = value
        self._save([])
        return self.continue_turn()

    def last_user_index(self) -> int | None:
        """Index in the context of the newest message the user (not the runtime) wrote."""
        for i in range(len(self.messages) - 1, -1, -1):
            m = self.messages[i]
            if m.role == "user" and m.name != EVENT:
                return i
        return None

    def _unanswered_call(self) -> int | None:
        """Index of the last assistant message if some of its tool calls have no result after it."""
        for j in range(len(self.messages) - 1, -1, -1):
            m = self.messages[j]
            if m.role == "tool":
                continue
            if m.role == "assistant" and m.tool_calls:
                answered = {x.tool_call_id for x in self.messages[j + 1:]}
                return None if {c.id for c in m.tool_calls} <= answered else j
            return None
        return None

    def save(self) -> None:
        self._save([])

    # one inner step ---------------------------------------------------------------
    def _inner_step(self) -> bool:
        self._fit()
        try:
            reply = self._complete()
        except ContextWindowExceededError as exc:
            if self._adopt_window(exc):
                self._fit()  # against the window the server really has
            else:
                self._emit("system", "the endpoint says the context is full; summarising older messages")
                if not self._evict(self._system_tokens(), keep_ratio=KEEP_RATIO / 2):
                    raise
            reply = self._complete()
        assistant = reply.to_message()
        if not assistant.tool_calls:
            # Open models served through their own chat templates write their calls as text.
            found = calls_from_text(assistant.content, self.tools.names())
            if found.errors and not found.calls:
                return self._unreadable_call(assistant, found.errors)
            if not found.calls:
                return self._no_tool_reply(assistant)  # its text is the message, not a thought
            assistant = Message(role="assistant", content=found.text, tool_calls=found.calls)
        self._empty_replies = 0
        if assistant.content:
            self._emit("thought", assistant.content)
        results: list[Message] = []
        again = False
        for call in assistant.tool_calls:
            result, ok, heartbeat = self._run(call)
            results.append(Message(role="tool", tool_call_id=call.id, name=call.name, content=result))
            again = again or heartbeat or not ok
        self._commit([assistant, *results])
        faults.point("step:after-reply")
        self._ran_calls = True
        return again

    def _adopt_window(self, exc: ContextWindowExceededError) -> bool:
        """Believe the server when its overflow error names a smaller window than the one assumed."""
        limit = overflow_limit(exc.message)
        if not limit or limit >= self.budget.context_window:
            return False
        self._emit("warning", f"the server's context window is {limit} tokens, not {self.budget.context_window}; "
                              f"using {limit} (set it with --context-window {limit})")
        self.budget.context_window = limit
        self.llm.context_window = limit
        self.state.llm_config["context_window"] = limit
        return True

    def _complete(self) -> ChatResponse:
        messages = with_statistics([self.budget.view(m) for m in self.messages], self.statistics())
        request = ChatRequest(messages=[self.system_message(), *messages], tools=self.tools.schemas())
        return self.llm.complete(request)

    def _no_tool_reply(self, assistant: Message) -> bool:
        if assistant.content:
            # The model answered in plain text instead of calling send_message: deliver it rather than
            # leave the user with silence.
            self.memory.outbox.messages.append(assistant.content)
            self._emit("message", assistant.content)
            self._commit([assistant])
            return False
        self._empty_replies += 1
        if self._empty_replies >= MAX_EMPTY_REPLIES:
            self._emit("warning", EMPTY_DIAGNOSIS.format(n=self._empty_replies))
            return False
        self._emit("warning", "the model returned an empty reply; asking it again")
        self._commit([event(EMPTY_REPLY)])
        return True

    def _unreadable_call(self, assistant: Message, errors: list[str]) -> bool:
        """A reply that tried to call a function in text but could not be read: say exactly why, ask again."""
        self._empty_replies = 0
        detail = "; ".join(errors)
        self._emit("warning", f"the model wrote a function call that could not be read ({detail}); asking it again")
        self._commit([assistant, event(UNREADABLE_CALL.format(errors=detail))])
        return True

    def _run(self, call: ToolCall) -> tuple[str, bool, bool]:
        """Run one call; returns (result JSON, ok, heartbeat requested)."""
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise ToolError(f"there is no function named {call.name!r}; available: {', '.join(self.tools.names())}")
            try:
                args = parse_arguments(call.arguments)
            except ValueError as exc:
                raise ToolError(f"{call.name}: {exc}; send the arguments again as a JSON object") from exc
            self._emit("call", _describe(call.name, args), name=call.name)
            before = len(self.memory.outbox.messages)
            value = tool.call(self.memory, args)
            for text in self.memory.outbox.messages[before:]:
                self._emit("message", text)
            heartbeat = args.get(HEARTBEAT_PARAM) if tool.heartbeat else False
            if isinstance(heartbeat, str):  # "false" is a non-empty string: read it, don't bool() it
                heartbeat = heartbeat.strip().lower() in ("true", "1", "yes")
            heartbeat = bool(heartbeat)
            self._emit("result", str(value) if value is not None else "OK", name=call.name)
            return _result("OK", value), True, heartbeat
        except ToolError as exc:
            self._emit("result", str(exc), name=call.name, ok=False)
            return _result("Failed", str(exc)), False, True
        except StorageError as exc:
            self._emit("result", exc.one_line(), name=call.name, ok=False)
            return _result("Failed", exc.one_line()), False, True
        except MemGPTError:
            raise
        except Exception as exc:  # noqa: BLE001 - a tool's bug is reported to the model, not fatal to the agent
            msg = f"{call.name} raised {type(exc).__name__}: {exc}"
            self._emit("result", msg, name=call.name, ok=False)
            return _result("Failed", msg), False, True

    # context management -------------------------------------------------------------
    def _system_tokens(self) -> int:
        """Tokens of the system message, the tool schemas and the statistics event, counted in parts: the
        prompt (cached; it rarely changes), core memory and the statistics (small; they change)."""
        memory = render_memory(self.state)
        return (self.budget.text(self.state.system_prompt.replace("{memory}", "")) + self.budget.count(memory)
                + self.budget.count(self.statistics()) + self.budget.tools(self.tools.schemas()))

    def _fit(self) -> None:
        fixed = self._system_tokens()
        used = fixed + sum(self.budget.message(m) for m in self.messages)
        if used > self.budget.limit:
            self._emit("system", f"context is full ({used} of {self.budget.limit} tokens); summarising older messages")
            self._evict(fixed)
        elif used > WARN_AT * self.budget.context_window and not self.state.state.get("memory_warning_sent"):
            self.state.state["memory_warning_sent"] = True
            self._emit("warning", "memory pressure: the context window is over 75% full")
            self._commit([event(MEMORY_WARNING.format(pct=round(100 * used / self.budget.context_window)))])

    def _evict(self, fixed_tokens: int, keep_ratio: float = KEEP_RATIO) -> int:
        if len(self.messages) < 2:
            return 0
        keep_tokens = max(0, int(keep_ratio * (self.budget.limit - fixed_tokens)))
        cut = split_point(self.messages, self.budget, keep_tokens)
        if cut <= 0:
            return 0
        evicted = self.messages[:cut]
        text = summarize(self.llm, evicted, self.budget, on_error=lambda m: self._emit("warning", m))
        note = event(f"Summary of {len(evicted)} earlier messages (all of them are still in recall memory): {text}")
        self.messages = [note, *self.messages[cut:]]
        for m in evicted:
            self.budget.forget(m)
        self.state.state["memory_warning_sent"] = False
        self._save([note])
        return len(evicted)

    # persistence ------------------------------------------------------------------
    def _commit(self, new: list[Message]) -> None:
        self.messages.extend(new)
        try:
            self._save(new)
        except Exception:
            # Nothing was stored (one transaction): the context must not hold what recall lacks.
            del self.messages[len(self.messages) - len(new):]
            self.state.in_context = [m.id for m in self.messages]
            raise

    def _save(self, new: list[Message]) -> None:
        self.state.in_context = [m.id for m in self.messages]
        self.store.save_step(self.state, new)
        self.memory.index_messages(new)

    def _archival_count(self) -> int:
        return self.memory.archival_count()

    def _emit(self, kind: EventKind, text: str, name: str | None = None, ok: bool = True) -> None:
        self.on_event(AgentEvent(kind, text, name, ok))


def _result(status: str, value: object) -> str:
    return json.dumps({"status": status, "message": value if value is None or isinstance(value, str) else str(value),
                       "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}, ensure_ascii=False)


_PHRASES = {
    "archival_memory_search": "searching memory with archival_memory_search",
    "archival_memory_insert": "saving to memory with archival_memory_insert",
    "conversation_search": "searching memory with conversation_search",
    "conversation_search_date": "searching memory with conversation_search_date",
    "core_memory_append": "updating memory with core_memory_append",
    "core_memory_replace": "updating memory with core_memory_replace",
    "send_message": "sending a message with send_message",
    "pause_heartbeats": "pausing heartbeats with pause_heartbeats",
}


def _describe(name: str, args: dict) -> str:
    shown = {k: v for k, v in args.items() if k != HEARTBEAT_PARAM}
    return _PHRASES.get(name, f"running {name}") + (f" {json.dumps(shown, ensure_ascii=False)[:200]}" if shown else "")


__all__ = ["Agent", "AgentEvent", "TurnResult", "EVENT"]
