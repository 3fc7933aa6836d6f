"""Reading tool-call arguments that real models get slightly wrong.

Fixes, in order: code fences around the JSON, text around the object, Python
literals and single quotes (JSON's true/false/null are translated outside
string values only), trailing commas, raw newlines inside strings, and
a reply cut off before its closing quotes and braces. Anything still not an
object raises ``ValueError`` with a short reason the model can act on.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any


def parse_arguments(raw: str | None) -> dict[str, Any]:
    text = (raw or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text, strict=False)  # strict=False: raw control characters inside strings
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
    text = _object_only(text)
    for candidate in (text, _close(text)):
        for attempt in (candidate, _trailing_commas(candidate), _escape_newlines(_trailing_commas(candidate))):
            try:
                return json.loads(attempt, strict=False)
            except ValueError:
                pass
            try:
                return ast.literal_eval(_python_literals(attempt))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
    raise ValueError("arguments are not valid JSON")


def _scan(text: str) -> Iterator[tuple[int, str, str | None, bool]]:
    """Walk ``text`` knowing which characters sit inside '...' or "..." literals.

    Yields (index, char, the quote open before this char or None, whether this char is escaped),
    then a last (len(text), "", quote, escaped) with the state at the end.
    """
    quote: str | None = None
    esc = False
    for i, ch in enumerate(text):
        yield i, ch, quote, esc
        if quote is None:
            if ch in "'\"":
                quote = ch
        elif esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == quote:
            quote = None
    yield len(text), "", quote, esc


def _object_only(text: str) -> str:
    """Drop what follows the object's closing brace (``{...} hope this helps``)."""
    depth = 0
    for i, ch, quote, _ in _scan(text):
        if quote is not None or not ch:
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[: i + 1]
    return text


def _python_literals(text: str) -> str:
    """JSON's true/false/null as Python's, outside string literals only."""
    words = {"true": "True", "false": "False", "null": "None"}
    out: list[str] = []
    plain: list[str] = []

    def flush() -> None:
        out.append(re.sub(r"\b(true|false|null)\b", lambda m: words[m.group(1)], "".join(plain)))
        plain.clear()

    for _, ch, quote, _ in _scan(text):
        if quote is not None:
            flush()
            out.append(ch)
        else:
            plain.append(ch)
    flush()
    return "".join(out)


def _trailing_commas(text: str) -> str:
    return re.sub(r",\s*([}\]])", r"\1", text)


def _escape_newlines(text: str) -> str:
    return "".join("\\n" if quote and ch == "\n" else ch for _, ch, quote, _ in _scan(text))


def _close(text: str) -> str:
    """Append what a truncated object is missing: a closing quote, then brackets."""
    stack: list[str] = []
    quote: str | None = None
    esc = False
    for _, ch, quote, esc in _scan(text):
        if quote is None and ch in ("{", "["):
            stack.append("}" if ch == "{" else "]")
        elif quote is None and ch in ("}", "]") and stack:
            stack.pop()
    if esc:
        text = text[:-1]  # cut off right after a backslash: drop it, or it would escape the closing quote
    tail = quote or ""  # close an open '...' or "..." literal
    body = text + tail
    body = re.sub(r",\s*$", "", body)
    return body + "".join(reversed(stack))
