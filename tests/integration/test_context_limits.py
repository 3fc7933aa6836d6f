"""Huge pastes: counted honestly, capped in the context, kept whole in recall, never a stuck agent."""

from __future__ import annotations

import os
from pathlib import Path

from memgpt.agent.context import count_at_least
from memgpt.runtime import Runtime
from memgpt.testing.fake_llm import FakeLLMServer
from memgpt.tokens import default_counter

from test_agent_loop import new_agent, rows, rt, say  # noqa: F401 - rt is the module's shared Runtime fixture

WINDOW = 8192


def test_long_words_are_never_counted_as_one_token() -> None:
    hex_dump = os.urandom(200_000).hex()  # 400 KB with no spaces: one [UNK] to WordPiece
    assert default_counter().count(hex_dump) < 10  # the under-count the floor exists for
    assert count_at_least(default_counter(), hex_dump) >= len(hex_dump) // 4
    prose = "The agent keeps its memories in three tiers and moves them as the context fills. " * 20
    assert count_at_least(default_counter(), prose) <= 1.5 * default_counter().count(prose)


def test_a_pasted_hex_dump_is_capped_in_context_and_whole_in_recall(rt: Runtime, srv: FakeLLMServer) -> None:  # noqa: F811
    agent = new_agent(rt, srv, context_window=WINDOW)
    hex_dump = os.urandom(200_000).hex()
    srv.queue(say("That is a lot of hex."))
    assert agent.step(hex_dump).messages == ["That is a lot of hex."]
    sent = srv.chat_requests[-1]["messages"][-1]["content"]
    assert sent.startswith(hex_dump[:1000]) and "[truncated: showing the first" in sent
    assert len(sent) < WINDOW * 4 // 3  # what went out fits the window even at 4 characters a token
    stored = [r.content for r in rows(rt, agent) if r.role == "user" and (r.content or "").startswith(hex_dump[:64])]
    assert stored == [hex_dump]  # recall holds the whole paste

    # The next turns still fit: no request ever exceeds the window, and the agent answers.
    for i in range(3):
        srv.queue(say(f"Reply {i}."))
        assert agent.step(f"message {i}").messages == [f"Reply {i}."]
    tokens = agent.context_tokens()
    assert tokens["system"] + tokens["tools"] + tokens["messages"] <= agent.budget.limit
