"""Tool calls that open models write as text instead of the API's ``tool_calls`` field.

Served through their own chat templates (llama.cpp, llama-cpp-python, Ollama,
vLLM without a tool parser), small models answer with the call spelled out in
the reply text. The shapes seen in practice, all read here:

* Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
  (several in a row; the closing tag is often missing at the end of a reply),
  and the same inside ``<tools>...</tools>`` or ``<function_call>...</function_call>``;
* a fenced block: ```` ```json {"name": ..., "arguments": ...} ``` ````;
* a bare JSON object (or a list of them) in the text;
* Llama 3.1: ``<|python_tag|>{"name": ..., "parameters": {...}}`` and its
  built-in-tool form ``<|python_tag|>name.call(key="value")``;
* Mistral: ``[TOOL_CALLS] [{"name": ..., "arguments": {...}}]``.

An object is a call when it names a function (``name``, or ``function`` as a
string or as ``{"name", "arguments"}``) and either carries an arguments field
(``arguments``, ``parameters``, ``params``, ``args``, ``input``) or names one of
the offered tools. Arguments may be an object or a JSON string of one. JSON
that the models break is read with :func:`memgpt.agent.jsonfix.loads_lenient`.

What a reply meant to be a call but could not be read as one (a ``<tool_call>``
block with broken JSON) is reported in :attr:`TextCalls.errors`, so the agent
can tell the model exactly what to fix.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from memgpt.schemas import ToolCall

NAME_KEYS = ("name", "function", "tool", "tool_name")
ARG_KEYS = ("arguments", "parameters", "params", "args", "input")

# Tags that wrap a call; the closing tag is optional (models stop at end-of-turn without it).
_TAGGED = re.compile(r"<(tool_call|tools|function_call|functioncall)>\s*(.*?)\s*(?:</\1>|(?=<\1>)|\Z)", re.S | re.I)
_FENCE = re.compile(r"```[ \t]*([A-Za-z_]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_PYTHON_TAG = re.compile(r"<\|python_tag\|>(.*?)(?:<\|eom_id\|>|<\|eot_id\|>|\Z)", re.S)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(.*)", re.S)
_LEFTOVER_TAGS = re.compile(r"</?(?:tool_call|tools|function_call|functioncall)>|<\|python_tag\|>|<\|eom_id\|>"
                            r"|<\|eot_id\|>|\[TOOL_CALLS\]", re.I)


@dataclass
class TextCalls:
    """What :func:`calls_from_text` found: the calls, the text left around them, unreadable call attempts."""

    calls: list[ToolCall] = field(default_factory=list)
    text: str | None = None
    errors: list[str] = field(default_factory=list)


def calls_from_text(text: str | None, tool_names: Collection[str] = ()) -> TextCalls:
    """Read the tool calls written in ``text`` (see the module docstring for the shapes)."""
    if not text or not text.strip():
        return TextCalls(text=None)
    names = set(tool_names)
    found = TextCalls()
    spans: list[tuple[int, int]] = []

    def take(start: int, end: int, body: str, explicit: bool) -> None:
        calls, error = _calls_in(body, names, explicit)
        if calls or error:
            spans.append((start, end))
            found.calls.extend(calls)
            if error:
                found.errors.append(error)

    for pattern, explicit in ((_TAGGED, True), (_PYTHON_TAG, True), (_MISTRAL, True)):
        for m in pattern.finditer(text):
            if not _inside(m.start(), spans):
                take(m.start(), m.end(), m.group(m.lastindex or 1), explicit)
    for m in _FENCE.finditer(text):
        if not _inside(m.start(), spans):
            # a ```json / ```tool_call fence is meant as data; an untagged fence may be anything
            explicit = m.group(1).lower() in ("json", "tool_call", "tool_code", "function_call")
            take(m.start(), m.end(), m.group(2), explicit and _looks_like_call_json(m.group(2)))
    if not spans:
        for start, end in _json_objects(text):
            if not _inside(start, spans):
                take(start, end, text[start:end], False)
    if not spans:
        return TextCalls(text=text.strip())
    rest = []
    pos = 0
    for start, end in sorted(spans):
        rest.append(text[pos:start])
        pos = max(pos, end)
    rest.append(text[pos:])
    left = _LEFTOVER_TAGS.sub("", "".join(rest)).strip()
    found.text = left or None
    return found


def _inside(index: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= index < b for a, b in spans)


def _looks_like_call_json(body: str) -> bool:
    return bool(re.search(r'["\']?(?:%s)["\']?\s*:' % "|".join(NAME_KEYS), body))


def _calls_in(body: str, names: set[str], explicit: bool) -> tuple[list[ToolCall], str | None]:
    """Calls in one block. ``explicit``: the block was marked as a call, so failing to read one is an error."""
    from memgpt.agent.jsonfix import loads_lenient

    body = body.strip()
    if not body:
        return [], ("an empty tool-call block" if explicit else None)
    if not body.startswith(("{", "[")):
        call = _python_call(body, names)
        if call is not None:
            return [call], None
        start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
        if start < 0:
            return [], (f"the tool-call block holds no JSON object: {_clip(body)}" if explicit else None)
        body = body[start:]
    try:
        value = loads_lenient(body)
    except ValueError:
        return [], (f"the tool-call block is not valid JSON: {_clip(body)}" if explicit else None)
    items = value if isinstance(value, list) else [value]
    calls: list[ToolCall] = []
    for item in items:
        call, error = _call_from_object(item, names, explicit)
        if error:
            return [], error
        if call is not None:
            calls.append(call)
    return calls, None


def _call_from_object(obj: Any, names: set[str], explicit: bool) -> tuple[ToolCall | None, str | None]:
    if not isinstance(obj, dict):
        return None, ("a tool call must be a JSON object with \"name\" and \"arguments\"" if explicit else None)
    if isinstance(obj.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        obj = {**obj, **obj["function"]}
        obj.pop("function", None)
    name = next((obj[k] for k in NAME_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
    arg_key = next((k for k in ARG_KEYS if k in obj), None)
    # Outside a call block, an object that names no offered tool is a call only with the argument keys the
    # call formats use: {"name": "Chad", "input": ...} in a reply is data, not a call.
    plausible = name is not None and (name in names or arg_key in (("arguments", "parameters", "params") if not explicit
                                                                   else ARG_KEYS))
    if not plausible:
        if explicit:
            return None, 'a tool call needs a "name" and an "arguments" object: {"name": ..., "arguments": {...}}'
        return None, None
    if arg_key:
        args: Any = obj.get(arg_key, {})
    else:  # {"name": "send_message", "message": "hi"}: the arguments sit beside the name
        args = {k: v for k, v in obj.items() if k not in (*NAME_KEYS, "type", "id", "thought")}
    if args is None:
        args = {}
    if isinstance(args, str):  # arguments as a JSON string (sometimes twice encoded)
        raw = args
    else:
        raw = json.dumps(args, ensure_ascii=False)
    return ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", name=name.strip(), arguments=raw), None


def _python_call(body: str, names: set[str]) -> ToolCall | None:
    """Llama 3.1's built-in-tool form: ``name.call(key="value")`` (or ``name(key="value")``)."""
    try:
        node = ast.parse(body.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "call" and isinstance(func.value, ast.Name):
        name = func.value.id
    elif isinstance(func, ast.Name) and func.id in names:
        name = func.id
    else:
        return None
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            return None
        try:
            args[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            return None
    return ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", name=name, arguments=json.dumps(args, ensure_ascii=False))


def _json_objects(text: str) -> Iterator[tuple[int, int]]:
    """Spans of balanced top-level ``{...}`` in free text (quotes respected); an unclosed one runs to the end."""
    depth, start, quote, esc = 0, -1, "", False
    for i, ch in enumerate(text):
        if quote:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                quote = ""
            continue
        if ch == '"' and depth:
            quote = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield start, i + 1
    if depth and start >= 0:
        yield start, len(text)


def _clip(text: str, limit: int = 80) -> str:
    s = " ".join(text.split())
    return repr(s if len(s) <= limit else s[: limit - 1] + "…")


__all__ = ["TextCalls", "calls_from_text"]
