"""Function calling for servers and models without it: the functions go in the prompt, one JSON object comes back.

pymemgpt called these prompt formats "model wrappers". ``--model-wrapper json``
wraps any :class:`~memgpt.llm.base.LLMClient`:

* the request carries no ``tools``; the system message ends with the function
  list (name, description, parameters) and the answer format;
* the history is rewritten as plain chat: an assistant's calls become the JSON
  it would have written, a function's result a user message saying so (many
  chat templates drop or mangle ``tool`` messages);
* ``response_format`` asks for JSON matching a schema (llama.cpp, vLLM and
  Ollama constrain decoding to it) when ``constrain`` is set, which it is for
  local servers; elsewhere the instructions alone ask for it. The OpenAI shape
  (``json_schema``) is tried first; a server that refuses it by name
  (llama-cpp-python knows only ``json_object``, with the schema beside it) is
  asked the other way from then on;
* the reply is read with :func:`memgpt.llm.textcalls.calls_from_text`, so a
  model that ignores the format still gets its call read, and the loop sees an
  ordinary tool call.
"""

from __future__ import annotations

import json
from typing import Any

from memgpt.llm.base import ChatRequest, ChatResponse, LLMClient
from memgpt.llm.textcalls import calls_from_text
from memgpt.schemas import Message

WRAPPERS = ("json",)

INSTRUCTIONS = """

### Functions
You act only by calling functions. Answer every time with exactly one JSON object and nothing else:
{{"thought": "<your private reasoning, one short sentence>", "function": "<function name>", "params": {{<arguments>}}}}
To talk to the user, call send_message. The functions:
{functions}"""


def _describe(tool: dict[str, Any]) -> str:
    fn = tool.get("function", tool)
    props = fn.get("parameters", {}).get("properties", {})
    required = set(fn.get("parameters", {}).get("required", []))
    params = "; ".join(f"{name} ({spec.get('type', 'any')}{', required' if name in required else ''}): "
                       f"{spec.get('description', '')}".strip() for name, spec in props.items())
    return f"- {fn['name']}: {fn.get('description', '').strip()}\n  params: {params or 'none'}"


def reply_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON schema of one answer: a thought, one of the functions, its arguments."""
    names = [t.get("function", t)["name"] for t in tools]
    return {"type": "object",
            "properties": {"thought": {"type": "string"}, "function": {"type": "string", "enum": names},
                           "params": {"type": "object"}},
            "required": ["thought", "function", "params"]}


def _as_text(m: Message) -> Message:
    if m.role == "assistant" and m.tool_calls:
        parts = []
        for c in m.tool_calls:
            try:
                params = json.loads(c.arguments)
            except ValueError:
                params = c.arguments
            parts.append(json.dumps({"thought": m.content or "", "function": c.name, "params": params},
                                    ensure_ascii=False))
        return Message(role="assistant", content="\n".join(parts), id=m.id)
    if m.role == "tool":
        return Message(role="user", content=f"[function {m.name} returned] {m.content}", id=m.id)
    return m


class JSONWrapper:
    """An :class:`LLMClient` that does function calling through the prompt (see the module docstring)."""

    def __init__(self, inner: LLMClient, *, constrain: bool = True) -> None:
        self.inner = inner
        self.constrain = constrain
        self.format_type = "json_schema"  # becomes "json_object" when the server refuses json_schema

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @context_window.setter
    def context_window(self, value: int) -> None:
        self.inner.context_window = value

    def __getattr__(self, name: str) -> Any:  # base_url, verify, local ... of the wrapped client
        return getattr(self.inner, name)

    def wrap(self, request: ChatRequest) -> ChatRequest:
        if not request.tools:
            return request  # summaries and other plain requests go through unchanged
        system, *rest = request.messages
        listing = "\n".join(_describe(t) for t in request.tools)
        system = Message(role="system", content=(system.content or "") + INSTRUCTIONS.format(functions=listing),
                         id=system.id)
        fmt = _response_format(self.format_type, reply_schema(request.tools)) if self.constrain else None
        return ChatRequest(messages=[system, *(_as_text(m) for m in rest)], tools=[], tool_choice=None,
                           temperature=request.temperature, max_tokens=request.max_tokens, response_format=fmt)

    def complete(self, request: ChatRequest) -> ChatResponse:
        from memgpt.errors import LLMError

        try:
            reply = self.inner.complete(self.wrap(request))
        except LLMError as exc:
            # llama-cpp-python: "response_format ... Input should be 'text' or 'json_object'"
            if not (self.constrain and request.tools and self.format_type == "json_schema"
                    and "json_object" in str(exc) and "response_format" in str(exc)):
                raise
            self.format_type = "json_object"
            reply = self.inner.complete(self.wrap(request))
        if not request.tools or reply.tool_calls:
            return reply
        found = calls_from_text(reply.content, [t.get("function", t)["name"] for t in request.tools])
        if not found.calls:
            return reply  # plain text (or an unreadable call): the loop handles it as usual
        thought = _thought(reply.content)
        return ChatResponse(content=thought or found.text, tool_calls=found.calls[:1],
                            finish_reason=reply.finish_reason, usage=reply.usage, raw_model=reply.raw_model)


def _response_format(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    if kind == "json_object":  # llama-cpp-python, llama.cpp and Ollama read the schema here
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "function_call", "schema": schema}}


def _thought(text: str | None) -> str | None:
    from memgpt.agent.jsonfix import loads_lenient

    try:
        value = loads_lenient((text or "").strip())
    except ValueError:
        return None
    thought = value.get("thought") if isinstance(value, dict) else None
    return thought.strip() if isinstance(thought, str) and thought.strip() else None


def wrap(llm: LLMClient, wrapper: str | None, *, constrain: bool) -> LLMClient:
    """``llm`` behind the named wrapper (``None`` or "none": unchanged)."""
    if not wrapper or wrapper == "none":
        return llm
    if wrapper != "json":
        from memgpt.errors import ConfigError

        raise ConfigError(f"unknown model wrapper {wrapper!r}", f"use one of: {', '.join(WRAPPERS)} (or none)")
    return JSONWrapper(llm, constrain=constrain)


__all__ = ["JSONWrapper", "WRAPPERS", "reply_schema", "wrap"]
