"""The context window: what goes into each request, and what happens when it fills.

Each request is the system message (prompt + rendered core memory), the tool
schemas and the in-context queue. Past ``WARN_AT`` of the window the agent is
warned once so it can save what matters; when the next request would not fit
(or the endpoint says it did not), the oldest part of the queue is summarised
and replaced by the summary. Evicted messages stay in recall memory. A tool
call is never separated from its results. If the summary itself cannot be had
(the endpoint is down, or refuses even small requests), a plain note takes its
place: an agent is never stuck because its history grew.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from memgpt.errors import LLMError
from memgpt.llm.base import ChatRequest, LLMClient
from memgpt.schemas import AgentState, Message
from memgpt.tokens import TokenCounter

WARN_AT = 0.75
KEEP_RATIO = 0.35  # share of the budget the kept recent messages may fill after a summary
MESSAGE_OVERHEAD = 4  # role and separators per message
MESSAGE_CAP_SHARE = 0.25  # most of the request budget one message may fill in the context
EVENT = "event"  # Message.name marking messages the runtime (not the user) wrote

SUMMARY_INSTRUCTIONS = (
    "You condense part of a conversation between an AI agent and a user so the agent can keep working after "
    "these messages leave its context window. Write a compact summary in the agent's first person: what the "
    "user said and wanted, what the agent did and promised, facts learned, and any open threads. Keep names, "
    "numbers and dates exact. Under 250 words. Reply with the summary only."
)


def event(text: str) -> Message:
    """A message from the runtime to the agent (login, warnings, summaries, heartbeats)."""
    return Message(role="user", content=f"[system event] {text}", name=EVENT)


def render_system(state: AgentState) -> str:
    """The system message: the prompt with core memory. It changes only when core memory does, so the
    servers' prompt caches (llama.cpp, vLLM, OpenAI) reuse it and the tool schemas that follow it."""
    memory = render_memory(state)
    prompt = state.system_prompt
    return prompt.replace("{memory}", memory) if "{memory}" in prompt else f"{prompt}\n\n{memory}"


def render_memory(state: AgentState) -> str:
    """Core memory as it appears in the system message."""
    blocks = "\n".join(
        f'<{b.label} characters="{len(b.value)}/{b.limit}">\n{b.value}\n</{b.label}>' for b in state.blocks.values())
    return f"### Memory\nCore memory:\n{blocks}"


def memory_statistics(archival_count: int, recall_count: int, now: datetime | None = None) -> str:
    """The part that changes every step (time, counts). It travels as an event near the end of the request
    (see :func:`with_statistics`) rather than in the system message, where it would defeat prompt caching."""
    now = now or datetime.now().astimezone()
    return (f"[system event] Memory statistics as of {now.strftime('%Y-%m-%d %H:%M %Z').strip()}: "
            f"recall memory holds {recall_count} messages (search with conversation_search); "
            f"archival memory holds {archival_count} passages (search with archival_memory_search).")


def with_statistics(messages: Sequence[Message], statistics: str) -> list[Message]:
    """``messages`` with the statistics inserted just before the user's newest message (or the newest event
    when the user has said nothing yet).

    Before it, not after, so the model still answers the user's words last; and only the newest turn
    follows it, so consecutive requests share everything up to there (measured in the tests)."""
    out = list(messages)
    users = [i for i, m in enumerate(out) if m.role == "user"]
    said = [i for i in users if out[i].name != EVENT]
    at = said[-1] if said else users[-1] if users else len(out)
    out.insert(at, Message(role="user", content=statistics, name=EVENT, id="memory-statistics"))
    return out


def count_at_least(counter: TokenCounter, text: str) -> int:
    """Tokens of ``text``, never fewer than one per four characters.

    The offline WordPiece counter maps any word over 100 characters to one [UNK] token, so a
    pasted hex dump or base64 blob would count as a handful of tokens while an LLM's own
    tokenizer sees hundreds of thousands; the floor bounds that under-count.
    """
    return max(counter.count(text), -(-len(text) // 4))


class TokenBudget:
    """Counts request tokens offline, caching per message."""

    def __init__(self, counter: TokenCounter, context_window: int) -> None:
        self.counter = counter
        self.context_window = context_window
        self._cache: dict[str, int] = {}
        self._texts: dict[str, int] = {}
        self._views: dict[str, Message] = {}

    @property
    def limit(self) -> int:
        """Tokens a request may use, leaving room for the reply."""
        return self.context_window - max(256, min(2048, self.context_window // 8))

    @property
    def message_cap(self) -> int:
        """The most tokens one message may take in the context: a quarter of the budget, so that
        the newest message always fits beside the prompt and a summary."""
        return max(128, int(MESSAGE_CAP_SHARE * self.limit))

    def count(self, text: str) -> int:
        return count_at_least(self.counter, text)

    def message(self, m: Message) -> int:
        n = self._cache.get(m.id)
        if n is None:
            v = self.view(m)
            text = (v.content or "") + "".join(c.name + c.arguments for c in v.tool_calls)
            n = self.count(text) + MESSAGE_OVERHEAD
            self._cache[m.id] = n
        return n

    def view(self, m: Message) -> Message:
        """``m`` as the context shows it: a message over ``message_cap`` is cut, with a note saying
        so (the whole text stays in recall memory)."""
        if m.id in self._views:
            return self._views[m.id]
        content = m.content or ""
        cap = self.message_cap
        n = self.count(content)
        if n <= cap:
            return m
        keep = max(0, len(content) * (cap - 64) // n)
        while keep and self.count(content[:keep]) > cap - 64:
            keep = keep * 3 // 4
        note = (f"\n[truncated: showing the first {keep:,} of {len(content):,} characters; the whole message "
                "is in recall memory (conversation_search)]")
        view = Message(role=m.role, content=content[:keep] + note, tool_calls=m.tool_calls,
                       tool_call_id=m.tool_call_id, name=m.name, id=m.id, created_at=m.created_at)
        self._views[m.id] = view
        return view

    def text(self, text: str) -> int:
        """Tokens of ``text``; the last few texts are remembered (the system message rarely changes)."""
        n = self._texts.get(text)
        if n is None:
            n = self.count(text)
            if len(self._texts) >= 8:
                self._texts.pop(next(iter(self._texts)))
            self._texts[text] = n
        return n

    def forget(self, m: Message) -> None:
        self._cache.pop(m.id, None)
        self._views.pop(m.id, None)

    def request(self, system: str, tools: Sequence[dict], messages: Sequence[Message]) -> int:
        return self.text(system) + self.tools(tools) + sum(self.message(m) for m in messages)

    def tools(self, tools: Sequence[dict]) -> int:
        # keyed by the tool names: the agent passes a new list each time, and an id() key grew the cache
        # by an entry per request (and could collide when CPython reused an id)
        key = "tools:" + ",".join(str(t.get("function", {}).get("name")) for t in tools)
        n = self._cache.get(key)
        if n is None:
            n = self.count(json.dumps(tools)) if tools else 0
            self._cache[key] = n
        return n


def split_point(messages: Sequence[Message], budget: TokenBudget, keep_tokens: int) -> int:
    """Index of the first message to keep: the newest messages that fit ``keep_tokens``.

    The kept part never starts with a tool result (its call would be evicted),
    and at least the newest exchange is kept.
    """
    n = len(messages)
    used, cut = 0, n
    while cut > 0 and used + budget.message(messages[cut - 1]) <= keep_tokens:
        cut -= 1
        used += budget.message(messages[cut])
    if cut == n:
        cut = n - 1  # keep the newest message even when it alone is large
    while 0 < cut < n and messages[cut].role == "tool":
        cut += 1  # move past orphaned results: their call is being evicted too
    if cut >= n:
        # Everything after the cut was tool results: keep from the assistant call instead.
        cut = n - 1
        while cut > 0 and messages[cut].role == "tool":
            cut -= 1
    return max(cut, 0)


def summarize(llm: LLMClient, messages: Sequence[Message], budget: TokenBudget,
              on_error: Callable[[str], None] | None = None) -> str:
    """A summary of ``messages`` from the LLM; pieces are summarised separately if they do not fit."""
    transcript = [_line(m) for m in messages]
    piece_limit = max(256, budget.limit // 2)
    try:
        return _summarize_lines(llm, transcript, budget, piece_limit)
    except LLMError as exc:
        if on_error:
            on_error(f"summary failed ({exc.one_line()}); kept a plain note instead")
        return fallback_summary(messages)


def _summarize_lines(llm: LLMClient, lines: list[str], budget: TokenBudget, piece_limit: int) -> str:
    pieces: list[list[str]] = [[]]
    used = 0
    for line in lines:
        n = budget.text(line)
        if n > piece_limit:
            line = line[: piece_limit * 3]  # a single huge message: keep its start
            n = budget.text(line)
        if used + n > piece_limit and pieces[-1]:
            pieces.append([])
            used = 0
        pieces[-1].append(line)
        used += n
    summaries = [_ask(llm, "\n".join(p)) for p in pieces]
    if len(summaries) == 1:
        return summaries[0]
    return _summarize_lines(llm, summaries, budget, piece_limit)


def _ask(llm: LLMClient, transcript: str) -> str:
    reply = llm.complete(ChatRequest(
        messages=[Message(role="system", content=SUMMARY_INSTRUCTIONS),
                  Message(role="user", content=f"Conversation excerpt:\n{transcript}")],
        tools=[], tool_choice=None))
    text = (reply.content or "").strip()
    if not text:
        raise _EmptySummary("the model returned an empty summary")
    return text


class _EmptySummary(LLMError):
    pass


def fallback_summary(messages: Sequence[Message]) -> str:
    users = [m for m in messages if m.role == "user" and m.name != EVENT and m.content]
    last = users[-1].content[:300] if users else ""
    return ("no summary could be made, so search recall memory (conversation_search) for details."
            + (f' The last user message among them was: "{last}"' if last else ""))


def _line(m: Message) -> str:
    from memgpt.store.agents import search_text

    if m.role == "tool":
        return f"[function {m.name or ''} returned] {(m.content or '')[:500]}"
    if m.role == "assistant":
        calls = ", ".join(f"{c.name}({c.arguments[:200]})" for c in m.tool_calls if c.name != "send_message")
        said = search_text(m) or ""
        return f"agent: {said}" + (f" [called {calls}]" if calls else "")
    who = "system" if m.name == EVENT else m.role
    return f"{who}: {m.content or ''}"
