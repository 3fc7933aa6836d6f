"""Repairing tool-call arguments that real models get slightly wrong (memgpt.agent.jsonfix)."""

from __future__ import annotations

import pytest

from memgpt.agent.jsonfix import parse_arguments


@pytest.mark.parametrize("raw, expected", [
    ('{"message": "hi", "request_heartbeat": false}', {"message": "hi", "request_heartbeat": False}),
    ('  {"n": 1}\n', {"n": 1}),
    ("", {}),
    ("   ", {}),
    (None, {}),
], ids=["valid", "whitespace", "empty", "blank", "none"])
def test_valid_and_empty(raw: str | None, expected: dict) -> None:
    assert parse_arguments(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    # code fences, with and without a language
    ('```json\n{"message": "hi"}\n```', {"message": "hi"}),
    ('```\n{"message": "hi"}\n```', {"message": "hi"}),
    # text around the object
    ('Sure, here you go: {"message": "hi"}', {"message": "hi"}),
    ('{"message": "hi"} I hope this helps!', {"message": "hi"}),
    ('Calling now: {"message": "a } b"}. Done.', {"message": "a } b"}),
    ('{"message": "hi"}}', {"message": "hi"}),
    # Python literals and single quotes
    ("{'message': 'hi', 'request_heartbeat': True}", {"message": "hi", "request_heartbeat": True}),
    ("{'a': None, 'b': False, 'c': [1, 2]}", {"a": None, "b": False, "c": [1, 2]}),
    ("{'message': 'hi', 'request_heartbeat': true, 'x': null}", {"message": "hi", "request_heartbeat": True,
                                                                  "x": None}),
    ('{\'message\': "it\'s fine"}', {"message": "it's fine"}),
    # JSON words inside single-quoted strings stay as written
    ("{'message': 'that is true, not null', 'request_heartbeat': false}",
     {"message": "that is true, not null", "request_heartbeat": False}),
    # trailing commas
    ('{"message": "hi",}', {"message": "hi"}),
    ('{"items": [1, 2, 3,], "n": 1,\n}', {"items": [1, 2, 3], "n": 1}),
    # raw newlines inside strings
    ('{"message": "line one\nline two"}', {"message": "line one\nline two"}),
    ('{"message": "a\nb",}', {"message": "a\nb"}),
    # cut off before the end
    ('{"message": "hello wor', {"message": "hello wor"}),
    ('{"message": "hello"', {"message": "hello"}),
    ('{"message": "hello",', {"message": "hello"}),
    ('{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}),
    ('{"message": "He said \\"hi', {"message": 'He said "hi'}),
    # what the hand-written repair could not do (issue 12): inner quotes, unquoted keys, comments
    ('{"message": "He said "hi" to me"}', {"message": 'He said "hi" to me'}),
    ("{message: hi}", {"message": "hi"}),
    ('{message: "hi", request_heartbeat: true}', {"message": "hi", "request_heartbeat": True}),
    ('{\n  // the greeting\n  "message": "hi" /* done */\n}', {"message": "hi"}),
    # a word cut off mid-literal stays a string: the tool then reports the bad value
    ('{"message": "hi", "request_heartbeat": tr', {"message": "hi", "request_heartbeat": "tr"}),
    # double-encoded
    ('"{\\"message\\": \\"hi\\"}"', {"message": "hi"}),
    # an object instead of a string is fine too
    ('{"content": {"nested": true}}', {"content": {"nested": True}}),
], ids=["fence-json", "fence-plain", "text-before", "text-after", "text-both-sides-brace-in-string",
        "extra-brace", "python-literals", "python-none-false", "json-words-single-quotes", "apostrophe",
        "words-in-strings-kept", "trailing-comma", "trailing-comma-array", "raw-newline",
        "raw-newline-and-comma", "truncated-in-string", "truncated-brace", "truncated-after-comma",
        "truncated-nested", "truncated-escaped-quote", "inner-quotes", "unquoted-key", "unquoted-keys",
        "comments", "truncated-literal", "double-encoded", "nested-object"])
def test_repairs(raw: str, expected: dict) -> None:
    assert parse_arguments(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("message = hello", "not valid JSON"),
    ("hello there", "not valid JSON"),
    ("[1, 2]", "must be a JSON object, got list"),
    ("42", "must be a JSON object, got int"),
    ('"just a string"', "must be a JSON object, got str"),
    ("null", "must be a JSON object, got NoneType"),
])
def test_unrepairable_raises_a_short_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_arguments(raw)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_raw_carriage_return_and_tab_inside_strings() -> None:
    assert parse_arguments('{"message": "line1\r\nline2\tend"}') == {"message": "line1\r\nline2\tend"}


def test_truncated_right_after_a_backslash() -> None:
    assert parse_arguments('{"message": "abc\\') == {"message": "abc"}


def test_truncated_single_quoted_object() -> None:
    assert parse_arguments("{'message': 'hel") == {"message": "hel"}
