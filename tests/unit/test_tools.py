"""Tools from plain Python functions: schemas, user tool folders, argument checks (memgpt.agent.tools)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Literal, Optional

import pytest

from memgpt.agent.functions import BUILTIN_TOOLS
from memgpt.agent.tools import HEARTBEAT_PARAM, Tool, ToolError, ToolSet, load_user_tools, make_tool, tool
from memgpt.errors import ConfigError


def plan_trip(memory, city: str, days: int, budget: float = 100.0, tags: list[str] | None = None,
              flexible: bool = False, mode: Literal["train", "car"] = "train", extra: dict | None = None,
              note: Optional[str] = None, untyped="x") -> str:
    """Plan a trip somewhere.

    The planner keeps it short.

    Args:
        city: Where to go.
        days (int): How many days,
            counting the travel days.
        budget: Money to spend: in euros.
        tags: Words describing the trip.
        flexible: Whether dates may move.
        mode: How to travel.
        extra: Anything else.
        note: A remark.

    Returns:
        The plan.
    """
    return f"{city}:{days}:{budget}:{tags}:{flexible}:{mode}:{extra}:{note}:{untyped}"


def test_schema_from_signature_and_docstring() -> None:
    t = make_tool(plan_trip)
    assert t.name == "plan_trip"
    assert t.description == "Plan a trip somewhere."  # the first paragraph
    assert t.schema["type"] == "function" and t.schema["function"]["name"] == "plan_trip"
    params = t.parameters
    assert params["type"] == "object"
    props = params["properties"]
    assert list(props) == ["city", "days", "budget", "tags", "flexible", "mode", "extra", "note", "untyped",
                           HEARTBEAT_PARAM]  # memory (the first parameter) is not shown to the model
    assert params["required"] == ["city", "days", HEARTBEAT_PARAM]
    assert props["city"] == {"type": "string", "description": "Where to go."}
    assert props["days"] == {"type": "integer", "description": "How many days, counting the travel days."}
    assert props["budget"] == {"type": "number", "description": "Money to spend: in euros."}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": "Words describing the trip."}
    assert props["flexible"]["type"] == "boolean"
    assert props["mode"] == {"type": "string", "enum": ["train", "car"], "description": "How to travel."}
    assert props["extra"]["type"] == "object"
    assert props["note"] == {"type": "string", "description": "A remark."}
    assert props["untyped"] == {"type": "string"}  # no annotation, no description
    assert props[HEARTBEAT_PARAM]["type"] == "boolean" and "another turn" in props[HEARTBEAT_PARAM]["description"]
    assert t.heartbeat is True


def test_description_is_the_first_paragraph_even_without_args() -> None:
    def count(memory, n: int) -> int:
        """Count to n,
        slowly.

        Returns:
            The number.
        """
        return n

    assert make_tool(count).description == "Count to n, slowly."


def test_no_heartbeat_parameter_when_disabled() -> None:
    @tool(heartbeat=False)
    def wave(memory, times: int = 1) -> str:
        """Wave at the user."""
        return "~" * times

    assert isinstance(wave, Tool)
    assert wave.parameters == {"type": "object", "properties": {"times": {"type": "integer"}}, "required": []}
    assert wave.heartbeat is False

    @tool
    def bare(memory) -> str:
        """No arguments at all."""
        return "ok"

    assert bare.parameters["required"] == [HEARTBEAT_PARAM]


def test_builtin_tools() -> None:
    by_name = {t.name: t for t in BUILTIN_TOOLS}
    assert list(by_name) == ["send_message", "pause_heartbeats", "core_memory_append", "core_memory_replace",
                             "conversation_search", "conversation_search_date", "archival_memory_insert",
                             "archival_memory_search"]
    for name, t in by_name.items():
        has_heartbeat = name not in ("send_message", "pause_heartbeats")
        assert (HEARTBEAT_PARAM in t.parameters["properties"]) is has_heartbeat, name
        assert t.heartbeat is has_heartbeat
        assert t.description and not t.description.startswith(" ")
        for pname, prop in t.parameters["properties"].items():
            assert prop.get("description"), f"{name}.{pname} has no description"
    assert by_name["send_message"].parameters["required"] == ["message"]
    assert by_name["conversation_search"].parameters["required"] == ["query", HEARTBEAT_PARAM]
    assert by_name["conversation_search"].parameters["properties"]["page"]["type"] == "integer"
    assert by_name["core_memory_replace"].parameters["required"] == ["name", "old_content", "new_content",
                                                                      HEARTBEAT_PARAM]


def test_a_tool_needs_a_docstring() -> None:
    def silent(memory, x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="silent has no docstring"):
        make_tool(silent)


# --------------------------------------------------------------------------- calling


def test_call_coerces_the_usual_type_slips() -> None:
    t = make_tool(plan_trip)
    out = t.call(None, {"city": 7, "days": "3", "budget": "12.5", "flexible": "TRUE", "tags": ["a"],
                        "extra": {"k": 1}, "note": {"why": "json"}, HEARTBEAT_PARAM: True})
    assert out == '7:3:12.5:[\'a\']:True:train:{\'k\': 1}:{"why": "json"}:x'
    assert t.call(None, {"city": "Oslo", "days": 2, "flexible": "no"}).startswith("Oslo:2:100.0:None:False:")


def test_call_checks_arguments() -> None:
    t = make_tool(plan_trip)
    with pytest.raises(ToolError, match=r"plan_trip is missing required argument\(s\): city, days"):
        t.call(None, {})
    with pytest.raises(ToolError, match="argument days should be integer, got 'three'"):
        t.call(None, {"city": "Oslo", "days": "three"})
    with pytest.raises(ToolError, match="argument budget should be number"):
        t.call(None, {"city": "Oslo", "days": 1, "budget": "lots"})
    # extra arguments and request_heartbeat never reach the function; omitting request_heartbeat is fine
    assert t.call(None, {"city": "Oslo", "days": 1, "weather": "sunny", HEARTBEAT_PARAM: "true"}).startswith("Oslo:1:")


def test_toolset() -> None:
    tools = ToolSet(BUILTIN_TOOLS)
    assert tools.get("send_message") is not None
    assert tools.get("nope") is None
    assert tools.names()[0] == "send_message"
    assert [s["function"]["name"] for s in tools.schemas()] == tools.names()


# --------------------------------------------------------------------------- user tools


def _write(folder: Path, name: str, code: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(code), encoding="utf-8")


def test_user_tools_from_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "functions"
    _write(folder, "dice.py", '''
        import random
        from os.path import join  # imported functions are not tools

        from memgpt.agent.tools import tool


        def roll_dice(memory, sides: int = 6, times: int = 1) -> str:
            """Roll dice.

            Args:
                sides: Faces per die.
                times: How many dice.
            """
            return str(sides * times)


        def _helper(memory) -> None:
            """Private: not a tool."""


        def undocumented(memory) -> None:
            pass


        @tool(heartbeat=False)
        def shout(memory, text: str) -> str:
            """Shout it."""
            return text.upper()
    ''')
    _write(folder, "weather.py", '''
        from __future__ import annotations


        def forecast(memory, city: str, days: int | None = None) -> str:
            """The weather ahead.

            Args:
                city: Which city.
            """
            return f"sunny in {city} for {days} days"
    ''')
    _write(folder, "notes.txt", "not python")
    tools = {t.name: t for t in load_user_tools(folder)}
    assert set(tools) == {"roll_dice", "shout", "forecast"}
    assert tools["roll_dice"].parameters["properties"]["sides"] == {"type": "integer", "description": "Faces per die."}
    assert tools["roll_dice"].parameters["required"] == [HEARTBEAT_PARAM]
    assert tools["roll_dice"].call(None, {"sides": "20", "times": 2}) == "40"
    assert tools["shout"].heartbeat is False and tools["shout"].call(None, {"text": "hi"}) == "HI"
    assert tools["forecast"].parameters["properties"]["days"] == {"type": "integer"}  # string annotations resolve
    assert tools["forecast"].call(None, {"city": "Bergen", "days": "3"}) == "sunny in Bergen for 3 days"


def test_user_tools_folder_missing_or_broken(tmp_path: Path) -> None:
    assert load_user_tools(tmp_path / "absent") == []
    _write(tmp_path / "functions", "broken.py", "def oops(:\n")
    with pytest.raises(ConfigError) as info:
        load_user_tools(tmp_path / "functions")
    assert "broken.py" in info.value.one_line() and "SyntaxError" in info.value.one_line()
