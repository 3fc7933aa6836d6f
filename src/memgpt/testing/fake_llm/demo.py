"""The demo responder: what the fake server answers when nothing is scripted."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from memgpt.testing.fake_llm.replies import FakeReply

# --------------------------------------------------------------------------- the demo responder


def _tool_schemas(request: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> JSON-schema parameters, from ``tools`` (or legacy ``functions``)."""
    out: dict[str, dict[str, Any]] = {}
    for t in request.get("tools") or []:
        fn = t.get("function") if isinstance(t, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = dict(fn.get("parameters") or {})
    for fn in request.get("functions") or []:
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = dict(fn.get("parameters") or {})
    return out


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") if isinstance(p, Mapping) else str(p) for p in content)
    return json.dumps(content)


def _unpack(content: Any) -> tuple[str | None, str]:
    """``(type, text)`` of a message packed as JSON by the agent (``{"type", "message"}``), else ``(None, text)``."""
    text = _text_of(content)
    try:
        data = json.loads(text)
    except ValueError:
        return None, text
    if isinstance(data, Mapping):
        kind = data.get("type") if isinstance(data.get("type"), str) else None
        for key in ("message", "result", "reason"):
            if isinstance(data.get(key), str):
                return kind, data[key]
        return kind, text
    return None, text


def _args_for(params: Mapping[str, Any], main_key: str, value: str, heartbeat: bool | None) -> dict[str, Any]:
    props = params.get("properties") if isinstance(params.get("properties"), Mapping) else None
    key = main_key
    if props and main_key not in props:
        required = [k for k in params.get("required") or [] if k != "request_heartbeat"]
        strings = [k for k, v in props.items() if isinstance(v, Mapping) and v.get("type") == "string"]
        key = (required or strings or [main_key])[0]
    args: dict[str, Any] = {key: value}
    if heartbeat is not None and (not props or "request_heartbeat" in props):
        args["request_heartbeat"] = heartbeat
    return args


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    m = re.search(r"(.+?[.!?])(\s|$)", text)
    s = m.group(1) if m else text
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _summary(messages: list[Mapping[str, Any]], limit: int = 1200) -> str:
    chosen = [m for m in messages if m.get("role") != "system"] or list(messages)
    parts = []
    for m in chosen:
        _, text = _unpack(m.get("content"))
        if text.strip():
            parts.append(f"{m.get('role', '?')}: {_first_sentence(text)}")
    out = "Summary of the conversation so far: " + (" | ".join(parts) if parts else "nothing was said.")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _tool_name_for(messages: list[Mapping[str, Any]], index: int) -> str | None:
    """The name of the tool whose result is ``messages[index]``."""
    msg = messages[index]
    if isinstance(msg.get("name"), str):
        return msg["name"]
    call_id = msg.get("tool_call_id")
    for prev in reversed(messages[:index]):
        if prev.get("role") != "assistant":
            continue
        for call in prev.get("tool_calls") or []:
            if isinstance(call, Mapping) and call.get("id") == call_id:
                fn = call.get("function") or {}
                return fn.get("name")
        if isinstance(prev.get("function_call"), Mapping):
            return prev["function_call"].get("name")
    return None


def demo_responder(request: Mapping[str, Any]) -> FakeReply:
    """The keyless demo: search archival memory for what the user said, then tell them what was found."""
    messages = [m for m in request.get("messages") or [] if isinstance(m, Mapping)]
    tools = _tool_schemas(request)
    if not tools:
        return FakeReply.text(_summary(messages))
    if not messages:
        return _acknowledge(tools, "Hello! I am the memgpt demo model (no real LLM is connected).")

    last_index = len(messages) - 1
    last = messages[last_index]
    role = last.get("role")

    if role == "user":
        kind, text = _unpack(last.get("content"))
        if kind is None and text.startswith(SYSTEM_EVENT):  # the runtime speaking, not the user
            return _on_event(tools, text[len(SYSTEM_EVENT):].strip(), messages)
        if kind in (None, "user_message"):
            short = _first_sentence(text, 120)
            if "archival_memory_search" in tools:
                return FakeReply.tool_call(
                    "archival_memory_search",
                    _args_for(tools["archival_memory_search"], "query", text, True),
                    content=f'The user said "{short}". Let me search my archival memory for anything related.',
                )
            return _acknowledge(tools, f'You said: "{short}" (this is the memgpt demo model; no real LLM is connected).')
        if kind == "heartbeat":  # the agent's "carry on" nudge after a tool call: look at that tool's result
            for i in range(last_index - 1, -1, -1):
                if messages[i].get("role") in ("tool", "function"):
                    last_index, role = i, "tool"
                    break
                if messages[i].get("role") == "user":
                    break
        if role == "user":
            return _acknowledge(tools, "Noted. (This is the memgpt demo model; no real LLM is connected.)")

    if role in ("tool", "function"):
        result = messages[last_index]
        source = _tool_name_for(messages, last_index)
        if source == "send_message":
            return FakeReply.text("I have replied to the user; waiting for their next message.")
        _, text = _unpack(result.get("content"))
        quote = " ".join(_best_found(text).split())
        quote = quote if len(quote) <= 300 else quote[:299] + "…"
        if "send_message" not in tools:
            return FakeReply.text(f"The tool {source or 'call'} returned: {quote}")
        return FakeReply.tool_call(
            "send_message",
            _args_for(tools["send_message"], "message", f'Here is what I found: "{quote}"', False),
            content=f"{source or 'The tool'} returned a result; I will pass it on to the user.",
        )

    return _acknowledge(tools, "Hello! I am the memgpt demo model (no real LLM is connected).")


SYSTEM_EVENT = "[system event]"  # how memgpt's agent marks messages from the runtime (agent/context.py)


def _on_event(tools: Mapping[str, Mapping[str, Any]], text: str, messages: list[Mapping[str, Any]]) -> FakeReply:
    """A runtime event: greet a user who just connected (by name when core memory has one); note anything else."""
    if "connected" in text.lower() or "greet" in text.lower():
        system = _text_of(messages[0].get("content")) if messages and messages[0].get("role") == "system" else ""
        m = re.search(r"(?im)^\s*(?:first\s+)?name:\s*([^\n,.]{1,40})", system)
        who = f" {m.group(1).strip()}" if m else ""
        message = (f"Hi{who}, good to see you! What would you like to talk about? (I am the memgpt demo model: "
                   "I look up what you ask in my archival memory and tell you what I find.)")
        if "send_message" in tools:
            return FakeReply.tool_call("send_message", _args_for(tools["send_message"], "message", message, False),
                                       content="The user just connected. I will greet them.")
        return FakeReply.text(message)
    return FakeReply.text(f"Noted the system event: {_first_sentence(text, 120)}")


def _best_found(result: str) -> str:
    """The first passage of a memory search result (a header line, then a JSON list), else the result itself."""
    head, _, body = result.partition("\n")
    try:
        found = json.loads(body)
    except ValueError:
        return result
    if isinstance(found, list) and found and isinstance(found[0], Mapping) and isinstance(found[0].get("content"), str):
        return found[0]["content"]
    return result


def _acknowledge(tools: Mapping[str, Mapping[str, Any]], message: str) -> FakeReply:
    if "send_message" in tools:
        return FakeReply.tool_call(
            "send_message",
            _args_for(tools["send_message"], "message", message, False),
            content="Acknowledge the user.",
        )
    return FakeReply.text(message)


