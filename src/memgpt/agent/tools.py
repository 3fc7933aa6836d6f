"""Tools the model can call, defined once as plain Python functions.

A tool's first parameter receives the agent's memory (``AgentMemory``); every
other parameter is visible to the model. The JSON schema comes from the
signature (types, defaults) and the docstring (the first paragraph describes
the tool; an ``Args:`` section describes each parameter). Tools that let the
model chain further steps get a ``request_heartbeat`` parameter added.

User tools are written the same way in ``$MEMGPT_HOME/functions/*.py``: every
public function with a docstring becomes a tool.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memgpt.errors import ConfigError

HEARTBEAT_PARAM = "request_heartbeat"
HEARTBEAT_DOC = ("Set true to get another turn right after this function returns (to chain steps); "
                 "false returns control to the user.")


class ToolError(Exception):
    """A failure the model should read and recover from (sent back as the tool result)."""


@dataclass
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments
    heartbeat: bool

    @property
    def schema(self) -> dict[str, Any]:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def call(self, memory: Any, args: dict[str, Any]) -> Any:
        """Check ``args`` against the signature and run the tool; raises ToolError on bad arguments."""
        props = self.parameters["properties"]
        # request_heartbeat is listed as required so models see it, but omitting it means false
        # (as the system prompt tells them), not a failed call.
        missing = [p for p in self.parameters.get("required", []) if p not in args and p != HEARTBEAT_PARAM]
        if missing:
            raise ToolError(f"{self.name} is missing required argument(s): {', '.join(missing)}")
        kwargs = {}
        for key, value in args.items():
            if key == HEARTBEAT_PARAM or key not in props:
                continue  # extra arguments are ignored rather than fatal
            kwargs[key] = _coerce(self.name, key, value, props[key])
        return self.fn(memory, **kwargs)


def tool(fn: Callable[..., Any] | None = None, *, heartbeat: bool = True) -> Any:
    """Make a Tool from a function (usable bare, ``@tool``, or as ``@tool(heartbeat=False)``)."""
    def build(f: Callable[..., Any]) -> Tool:
        return make_tool(f, heartbeat=heartbeat)
    return build(fn) if fn is not None else build


def make_tool(fn: Callable[..., Any], heartbeat: bool = True) -> Tool:
    doc = inspect.getdoc(fn)
    if not doc:
        raise ConfigError(f"tool {fn.__name__} has no docstring", "describe it for the model in its docstring")
    summary, arg_docs = _parse_doc(doc)
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]  # the first receives the agent's memory
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        schema = _json_type(hints.get(p.name, str))
        if p.name in arg_docs:
            schema["description"] = arg_docs[p.name]
        props[p.name] = schema
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    if heartbeat:
        props[HEARTBEAT_PARAM] = {"type": "boolean", "description": HEARTBEAT_DOC}
        required.append(HEARTBEAT_PARAM)
    parameters = {"type": "object", "properties": props, "required": required}
    return Tool(name=fn.__name__, fn=fn, description=summary, parameters=parameters, heartbeat=heartbeat)


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    parts = re.split(r"\n\s*(?:Args|Arguments|Parameters):\s*\n", doc, maxsplit=1)
    summary = " ".join(re.split(r"\n\s*\n", parts[0].strip())[0].split())  # the first paragraph
    args: dict[str, str] = {}
    if len(parts) > 1:
        section = re.split(r"\n\s*(?:Returns?|Raises|Examples?):", parts[1])[0]
        current = None
        for line in section.splitlines():
            m = re.match(r"\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", line)
            if m and (current is None or len(line) - len(line.lstrip()) <= _indent_of(section)):
                current = m.group(1)
                args[current] = m.group(2).strip()
            elif current and line.strip():
                args[current] += " " + line.strip()
    return summary, args


def _indent_of(section: str) -> int:
    lines = [ln for ln in section.splitlines() if ln.strip()]
    return min((len(ln) - len(ln.lstrip()) for ln in lines), default=0)


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _json_type(inner[0]) if len(inner) == 1 else {"anyOf": [_json_type(a) for a in inner]}
    if origin in (list, tuple, set) or hint in (list, tuple, set):
        args = typing.get_args(hint)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin is typing.Literal:
        return {"type": "string", "enum": list(typing.get_args(hint))}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, "string")}


def _coerce(tool_name: str, key: str, value: Any, schema: dict[str, Any]) -> Any:
    """Forgive the usual type slips of real models ("2" for 2, "true" for true)."""
    kind = schema.get("type")
    try:
        if kind == "integer" and not isinstance(value, bool):
            return int(value) if value is not None else None
        if kind == "number":
            return float(value)
        if kind == "boolean" and isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        if kind == "string" and value is not None and not isinstance(value, str):
            return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    except (TypeError, ValueError) as exc:
        raise ToolError(f"{tool_name}: argument {key} should be {kind}, got {value!r}") from exc
    return value


class ToolSet:
    """The tools offered to one agent, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {t.name: t for t in tools}

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema for t in self._tools.values()]


def load_user_tools(folder: Path) -> list[Tool]:
    """Every public, documented function in ``folder/*.py`` as a tool."""
    found: list[Tool] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"memgpt_user_tools.{path.stem}", path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - a user file; name it and carry on
            raise ConfigError(f"cannot load tools from {path}: {type(exc).__name__}: {exc}",
                              "fix the file or move it out of the functions folder") from exc
        for name, obj in vars(module).items():
            if isinstance(obj, Tool):
                found.append(obj)
            elif (inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")
                  and obj.__doc__):
                found.append(make_tool(obj))
    return found
