"""Reading JSON that real models get slightly wrong.

Tool-call arguments and calls written as text are parsed with ``json.loads``
first; what fails goes to the ``json-repair`` package, which handles code
fences, text around the object, Python literals and single quotes, trailing
commas, raw newlines, comments, unquoted keys, unescaped inner quotes and a
reply cut off before its closing quotes and braces. Anything still not an
object raises ``ValueError`` with a short reason the model can act on.
"""

from __future__ import annotations

import json
from typing import Any


def loads_lenient(raw: str) -> Any:
    """Any JSON value from ``raw``, repaired when needed; ``ValueError`` when there is none to be had."""
    text = raw.strip()
    try:
        return json.loads(text, strict=False)  # strict=False: raw control characters inside strings
    except ValueError:
        pass
    import json_repair  # imported on first broken input only

    if (len(text) - len(text.rstrip("\\"))) % 2:  # cut off right after a backslash: it escapes nothing
        text = text[:-1]
    value = json_repair.loads(text, skip_json_loads=True)
    if value == "" and not text.startswith(("\"", "'")):  # json-repair's answer for "nothing JSON-like here"
        raise ValueError("arguments are not valid JSON")
    return value


def parse_arguments(raw: str | None) -> dict[str, Any]:
    text = (raw or "").strip()
    if not text:
        return {}
    value = loads_lenient(text)
    if isinstance(value, str) and value.strip().startswith("{"):  # double-encoded: "{\"message\": ...}"
        try:
            value = loads_lenient(value)
        except ValueError:
            pass
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value
