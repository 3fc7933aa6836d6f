"""The built-in tools. Their docstrings are what the model reads about them."""

from __future__ import annotations

import json
from datetime import date

from memgpt.agent.memory import AgentMemory
from memgpt.agent.tools import Tool, ToolError, tool
from memgpt.schemas import Message


@tool(heartbeat=False)
def send_message(memory: AgentMemory, message: str) -> None:
    """Send a message to the user. This is the only way the user hears from you.

    Args:
        message: The full text the user will read.
    """
    memory.outbox.messages.append(message)


@tool(heartbeat=False)
def pause_heartbeats(memory: AgentMemory, minutes: int) -> str:
    """Stop timed heartbeat events for a while, so you are only woken by the user.

    Args:
        minutes: How many minutes to pause (at most 360).
    """
    minutes = max(0, min(int(minutes), 360))
    memory.outbox.heartbeats_paused_minutes = minutes
    memory.state.state["heartbeats_paused_minutes"] = minutes
    return f"heartbeats paused for {minutes} minutes"


@tool
def core_memory_append(memory: AgentMemory, name: str, content: str) -> str:
    """Add text to the end of a core memory block (always visible to you in the prompt).

    Args:
        name: The block to edit: "human" (what you know about the user, such as their name) or "persona" (who you are).
        content: The text to add. Blocks have a character limit; keep entries short.
    """
    return memory.core_append(name, content)


@tool
def core_memory_replace(memory: AgentMemory, name: str, old_content: str, new_content: str) -> str:
    """Replace text in a core memory block. To delete text, replace it with an empty string.

    Args:
        name: The block to edit: "human" (the user) or "persona" (you).
        old_content: Text currently in the block, copied exactly.
        new_content: The text to put in its place.
    """
    return memory.core_replace(name, old_content, new_content)


@tool
def conversation_search(memory: AgentMemory, query: str, page: int = 0) -> str:
    """Search your whole conversation history (recall memory) for messages containing these words.

    Args:
        query: Words to look for; results are ranked by relevance.
        page: Which page of results to show, starting at 0.
    """
    found, _ = memory.recall_search(query, page)
    return _messages_page(found, None, page, memory.page_size)


@tool
def conversation_search_date(memory: AgentMemory, start_date: str, end_date: str, page: int = 0) -> str:
    """Search your conversation history (recall memory) for messages from a range of dates.

    Args:
        start_date: First day, as YYYY-MM-DD.
        end_date: Last day (included), as YYYY-MM-DD.
        page: Which page of results to show, starting at 0.
    """
    try:
        start, end = date.fromisoformat(start_date.strip()[:10]), date.fromisoformat(end_date.strip()[:10])
    except ValueError as exc:
        raise ToolError(f"dates must look like 2024-01-31, got {start_date!r} and {end_date!r}") from exc
    if end < start:
        start, end = end, start
    found, total = memory.recall_search_date(start, end, page)
    return _messages_page(found, total, page, memory.page_size)


@tool
def archival_memory_insert(memory: AgentMemory, content: str) -> str:
    """Save text to archival memory, your unlimited long-term store searched by meaning.

    Args:
        content: What to remember, written so it makes sense on its own later.
    """
    if not content.strip():
        raise ToolError("content is empty")
    n = memory.archival_insert(content)
    return f"saved to archival memory ({n} passage{'s' if n != 1 else ''})"


@tool
def archival_memory_search(memory: AgentMemory, query: str, page: int = 0) -> str:
    """Search archival memory (your long-term store and any documents loaded into it) by meaning.

    Args:
        query: What you are looking for, in natural language.
        page: Which page of results to show, starting at 0.
    """
    hits, total = memory.archival_search(query, page)
    if not hits:
        return "no results" if page == 0 else f"no more results (page {page}; archival memory holds {total} passages)"
    results = [{"timestamp": h.passage.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"), "content": h.passage.text}
               for h in hits]
    first = page * memory.page_size
    return (f"showing results {first + 1}-{first + len(hits)} (page {page}) of archival memory's {total} passages:\n"
            + json.dumps(results, ensure_ascii=False))


def _messages_page(found: list[Message], total: int | None, page: int, size: int) -> str:
    """One page of messages; ``total`` is the exact number of matches when known (date search).

    Word-and-meaning search ranks every message, so it has no meaningful match count: its pages
    are simply "most relevant first".
    """
    if not found:
        return "no results" if page == 0 else f"no more results after page {page - 1}"
    first = page * size
    lines = [{"timestamp": m.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"), "role": m.role,
              "content": _said(m)} for m in found]
    if total is None:
        head = f"showing results {first + 1}-{first + len(found)} (page {page}), most relevant first"
    else:
        head = f"showing results {first + 1}-{first + len(found)} (page {page}) of {total} messages in that range"
    return head + ":\n" + json.dumps(lines, ensure_ascii=False)


def _said(m: Message) -> str:
    from memgpt.store.agents import search_text

    return search_text(m) or ""


BUILTIN_TOOLS: list[Tool] = [
    send_message, pause_heartbeats, core_memory_append, core_memory_replace, conversation_search,
    conversation_search_date, archival_memory_insert, archival_memory_search,
]
