"""Tool calls written as text by open models (memgpt.llm.textcalls), in the shapes seen from real models."""

from __future__ import annotations

import json

import pytest

from memgpt.llm.textcalls import calls_from_text

TOOLS = ["send_message", "archival_memory_search", "core_memory_append", "core_memory_replace"]


def _one(text: str) -> tuple[str, dict, str | None]:
    found = calls_from_text(text, TOOLS)
    assert not found.errors, found.errors
    assert len(found.calls) == 1, found
    call = found.calls[0]
    return call.name, json.loads(call.arguments), found.text


@pytest.mark.parametrize("text, name, args, rest", [
    # Hermes / Qwen, as Qwen2.5-Coder 1.5B wrote it
    ('<tool_call>\n{"name": "send_message", "arguments": {"message": "Hello Chad!"}}\n</tool_call>',
     "send_message", {"message": "Hello Chad!"}, None),
    # the closing tag is missing at the end of the reply
    ('Greeting the user.\n<tool_call>\n{"name": "send_message", "arguments": {"message": "Hi"}}',
     "send_message", {"message": "Hi"}, "Greeting the user."),
    # <tools> ... </tools>, as the 1.5B model also wrote it
    ('<tools>\n{"name": "archival_memory_search", "arguments": {"query": "MemGPT"}}\n</tools>',
     "archival_memory_search", {"query": "MemGPT"}, None),
    # ```json fence, as the 0.5B model wrote it
    ('```json\n{"name": "send_message", "arguments": {"message": "Hello! How can I help?"}}\n```',
     "send_message", {"message": "Hello! How can I help?"}, None),
    # arguments as a JSON string
    ('{"name": "send_message", "arguments": "{\\"message\\": \\"hi\\"}"}', "send_message", {"message": "hi"}, None),
    # {"function": ..., "params": ...}
    ('I will search. {"function": "archival_memory_search", "params": {"query": "tiers"}}',
     "archival_memory_search", {"query": "tiers"}, "I will search."),
    # OpenAI's own shape, written as text
    ('{"type": "function", "function": {"name": "send_message", "arguments": {"message": "hey"}}}',
     "send_message", {"message": "hey"}, None),
    # Llama 3.1 JSON form and built-in-tool form
    ('<|python_tag|>{"name": "send_message", "parameters": {"message": "Hi there"}}<|eom_id|>',
     "send_message", {"message": "Hi there"}, None),
    ('<|python_tag|>archival_memory_search.call(query="memory tiers")', "archival_memory_search",
     {"query": "memory tiers"}, None),
    # Mistral
    ('[TOOL_CALLS] [{"name": "send_message", "arguments": {"message": "Bonjour"}}]',
     "send_message", {"message": "Bonjour"}, None),
    # broken JSON inside the block: single quotes, a trailing comma
    ("<tool_call>{'name': 'send_message', 'arguments': {'message': 'hi',}}</tool_call>",
     "send_message", {"message": "hi"}, None),
    # a known tool with its arguments beside the name
    ('{"name": "send_message", "message": "hi"}', "send_message", {"message": "hi"}, None),
], ids=["hermes", "hermes-unclosed", "tools-tag", "json-fence", "arguments-string", "function-params",
        "openai-shape", "python-tag-json", "python-tag-call", "mistral", "repaired-json", "known-name-only"])
def test_shapes(text: str, name: str, args: dict, rest: str | None) -> None:
    got_name, got_args, got_rest = _one(text)
    assert (got_name, got_args, got_rest) == (name, args, rest)


def test_several_calls_in_order() -> None:
    text = ('<tool_call>{"name": "core_memory_append", "arguments": {"name": "human", "content": "Name: Chad"}}'
            '</tool_call>\n<tool_call>{"name": "send_message", "arguments": {"message": "Noted, Chad."}}</tool_call>')
    found = calls_from_text(text, TOOLS)
    assert [c.name for c in found.calls] == ["core_memory_append", "send_message"]
    assert len({c.id for c in found.calls}) == 2
    assert found.text is None


@pytest.mark.parametrize("text", [
    "Hello! I'm MemGPT. How can I help you today?",
    "Use a dict like {\"a\": 1} in Python.",  # JSON that is not a call stays text
    "```python\nprint({'x': 1})\n```",
])
def test_plain_text_is_not_a_call(text: str) -> None:
    found = calls_from_text(text, TOOLS)
    assert found.calls == [] and found.errors == []
    assert found.text == text.strip()


@pytest.mark.parametrize("text, reason", [
    ("<tool_call>\n</tool_call>", "empty tool-call block"),
    ("<tool_call>send the message please</tool_call>", "holds no JSON object"),
    ('<tool_call>{"arguments": {"message": "hi"}}</tool_call>', 'needs a "name"'),
])
def test_unreadable_call_blocks_are_reported(text: str, reason: str) -> None:
    found = calls_from_text(text, TOOLS)
    assert found.calls == []
    assert len(found.errors) == 1 and reason in found.errors[0]


def test_unknown_function_name_is_still_a_call() -> None:
    """The agent reports "no function named ..." back; the parser must not swallow the attempt as text."""
    name, args, _ = _one('<tool_call>{"name": "search_web", "arguments": {"q": "x"}}</tool_call>')
    assert (name, args) == ("search_web", {"q": "x"})


def test_empty_and_none() -> None:
    assert calls_from_text(None, TOOLS).text is None
    assert calls_from_text("   ", TOOLS).calls == []


def test_data_in_a_reply_is_not_taken_for_a_call() -> None:
    text = 'Here is the record: {"name": "Chad", "input": "tea"}'
    found = calls_from_text(text, TOOLS)
    assert found.calls == [] and found.text == text
