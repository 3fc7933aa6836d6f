"""Reading tool-call arguments that real models get slightly wrong.

Fixes, in order: code fences around the JSON, text around the object, Python
literals and single quotes, trailing commas, raw newlines inside strings, and
a reply cut off before its closing quotes and braces. Anything still not an
object raises ``ValueError`` with a short reason the model can act on.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any


def parse_arguments(raw: str | None) -> dict[str, Any]:
    text = (raw or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = _repair(text)
    if isinstance(value, str):  # double-encoded: "{\"message\": ...}"
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


def _repair(text: str) -> Any:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    start = text.find("{")
    if start > 0:
        text = text[start:]
    for candidate in (text, _close(text)):
        for attempt in (candidate, _trailing_commas(candidate), _escape_newlines(_trailing_commas(candidate))):
            try:
                return json.loads(attempt)
            except ValueError:
                pass
            try:
                return ast.literal_eval(attempt.replace("true", "True").replace("false", "False")
                                        .replace("null", "None"))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
    raise ValueError("arguments are not valid JSON")


def _trailing_commas(text: str) -> str:
    return re.sub(r",\s*([}\]])", r"\1", text)


def _escape_newlines(text: str) -> str:
    out, in_str, esc = [], False, False
    for ch in text:
        if in_str and ch == "\n":
            out.append("\\n")
            continue
        out.append(ch)
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            in_str = not in_str
    return "".join(out)


def _close(text: str) -> str:
    """Append what a truncated object is missing: a closing quote, then brackets."""
    stack, in_str, esc = [], False, False
    for ch in text:
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            in_str = not in_str
        elif not in_str and ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif not in_str and ch in "}]" and stack:
            stack.pop()
    tail = '"' if in_str else ""
    body = text + tail
    body = re.sub(r",\s*$", "", body)
    return body + "".join(reversed(stack))
