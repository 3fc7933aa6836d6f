"""The agent loop against real parts: SQLite, Milvus Lite, the local embedding model, and the real
``OpenAICompatibleClient`` talking HTTP to ``FakeLLMServer`` on 127.0.0.1.

The fake server is scripted with queues (the product's request order is deterministic) or with
responder functions that decide from the request they receive; no reply is chosen by counting.
Assertions look at what the client sent (``srv.chat_requests``), at stored rows and at what the
user was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from memgpt.agent import factory
from memgpt.agent.context import SUMMARY_INSTRUCTIONS
from memgpt.agent.functions import BUILTIN_TOOLS
from memgpt.agent.loop import Agent, AgentEvent
from memgpt.config import Settings
from memgpt.errors import LLMError
from memgpt.llm.openai_client import OpenAICompatibleClient
from memgpt.runtime import Runtime
from memgpt.store import tables as t
from memgpt.store.agents import AgentStore

from conftest import copy_home  # tests/integration/conftest.py: shared with the CLI tests
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply

PAPER_SOURCE = "memgpt_research_paper"  # loaded by the paper_home fixture (conftest.py)
BUILTIN_NAMES = [tool.name for tool in BUILTIN_TOOLS]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory, base_home: Path) -> Iterator[Runtime]:
    """One Runtime (SQLite + Milvus Lite files) shared by this module's tests; each test makes its own agent."""
    runtime = Runtime(Settings(home=copy_home(base_home, tmp_path_factory.mktemp("loop-home"))))
    yield runtime
    runtime.close()


def client(srv: FakeLLMServer, context_window: int = 8192, **kw: Any) -> OpenAICompatibleClient:
    kw.setdefault("sleep", lambda _s: None)
    return OpenAICompatibleClient(srv.base_url, "sk-test", "fake-llm", context_window=context_window, **kw)


def new_agent(runtime: Runtime, srv: FakeLLMServer, *, persona: str = "sam_pov", context_window: int = 8192,
              events: list[AgentEvent] | None = None, **client_kw: Any) -> Agent:
    llm = client(srv, context_window, **client_kw)
    state = factory.create_agent(runtime, runtime.user.id, persona=persona, llm=llm)
    return factory.open_agent(runtime, state, llm, on_event=events.append if events is not None else None)


def call(function: str, thought: str | None = None, /, **args: Any) -> FakeReply:
    """A reply calling ``function(**args)`` with ``thought`` as the inner monologue."""
    return FakeReply.tool_call(function, args, content=thought)


def say(text: str, thought: str = "Answer the user.") -> FakeReply:
    return call("send_message", thought, message=text)


def rows(runtime: Runtime, agent: Agent) -> list[Any]:
    """The agent's stored messages, oldest first."""
    with runtime.metadata.engine.connect() as conn:
        return conn.execute(select(t.messages).where(t.messages.c.agent_id == agent.state.id)
                            .order_by(t.messages.c.seq)).all()


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def result_of(message: dict[str, Any]) -> dict[str, Any]:
    """The JSON a tool message carries: {"status", "message", "time"}."""
    return json.loads(message["content"])


def last_result(request: dict[str, Any]) -> dict[str, Any]:
    assert request["messages"][-1]["role"] == "tool", request["messages"][-1]
    return result_of(request["messages"][-1])


def assistant_calls(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for m in request["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []]


def check_pairs(messages: list[dict[str, Any]] | list[Any]) -> None:
    """Every tool message answers a call made by an earlier assistant message, and every call is answered."""
    def get(m: Any, key: str) -> Any:
        return m.get(key) if isinstance(m, dict) else getattr(m, key)

    open_calls: set[str] = set()
    for m in messages:
        if get(m, "role") == "assistant":
            assert not open_calls, f"calls {open_calls} were never answered"
            calls = get(m, "tool_calls") or []
            open_calls = {c["id"] if isinstance(c, dict) else c.id for c in calls}
        elif get(m, "role") == "tool":
            assert get(m, "tool_call_id") in open_calls, f"tool result {get(m, 'tool_call_id')} has no call"
            open_calls.discard(get(m, "tool_call_id"))
    assert not open_calls, f"calls {open_calls} were never answered"


# --------------------------------------------------------------------------- 1. the tutorial path


def test_tutorial_paper_question_answers_from_archival_memory(paper_agent_home: Path, srv: FakeLLMServer) -> None:
    runtime = Runtime(Settings(home=paper_agent_home))
    try:
        agent = new_agent(runtime, srv, persona="memgpt_doc")
        source = runtime.metadata.get_source(runtime.user.id, PAPER_SOURCE)
        n_passages = runtime.metadata.count_passages(source.id)
        assert agent.memory.archival_count() == 0
        assert factory.attach_source(agent.memory, source) is True
        assert agent.memory.archival_count() == n_passages > 20
        assert factory.attach_source(agent.memory, source) is False  # attaching twice adds nothing
        assert agent.memory.archival_count() == n_passages
        assert [s.name for s in agent.store.attached_sources(agent.state.id)] == [PAPER_SOURCE]

        seen: dict[str, str] = {}

        def answer_from_tool_result(request: dict[str, Any]) -> FakeReply:
            passages = json.loads(last_result(request)["message"].split("\n", 1)[1])
            text = " ".join(p["content"] for p in passages)
            m = re.search(r"[^.]*virtual context[^.]*\.", text, re.I | re.S)
            assert m, "the search result carries no sentence about virtual context"
            seen["quote"] = " ".join(m.group(0).split())
            return say(f"The paper says: {seen['quote']}", "I found it in the paper; pass it on.")

        srv.queue(call("archival_memory_search", "The user asks about the MemGPT paper; search it.",
                       query="MemGPT virtual context management operating system", request_heartbeat=True),
                  FakeReply.respond(answer_from_tool_result))
        result = agent.step("The paper I loaded is called MemGPT. Can you tell me more about it?")

        requests = srv.chat_requests
        assert len(requests) == 2 and srv.pending() == 0
        tool = requests[1]["messages"][-1]
        call_id = requests[1]["messages"][-2]["tool_calls"][0]["id"]
        assert tool["role"] == "tool" and tool["tool_call_id"] == call_id
        body = result_of(tool)
        assert body["status"] == "OK"
        assert "virtual context" in body["message"].lower()
        assert "operating system" in body["message"].lower()
        assert f"of archival memory's {n_passages} passages" in body["message"]
        assert result.messages == [f"The paper says: {seen['quote']}"]
        assert "virtual context" in result.messages[0].lower()
        # the same answer is what recall memory stored
        assert rows(runtime, agent)[-2].search_text.endswith(seen["quote"])
    finally:
        runtime.close()


# --------------------------------------------------------------------------- 2. heartbeats


def test_heartbeat_chain_runs_each_call_in_order(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(
        call("core_memory_append", "Remember the name.", name="human", content="Name: Ada", request_heartbeat=True),
        call("archival_memory_insert", "Save the detail.", content="Ada keeps bees on her roof.",
             request_heartbeat=True),
        call("conversation_search", "Check what she said.", query="bees", request_heartbeat=True),
        say("Nice to meet you, Ada!"),
    )
    result = agent.step("Hi, I'm Ada and I keep bees.")
    requests = srv.chat_requests
    assert len(requests) == 4 and result.steps == 4
    assert result.messages == ["Nice to meet you, Ada!"]
    assert requests[0]["messages"][-1] == {"role": "user", "content": "Hi, I'm Ada and I keep bees."}
    # request k ends with the result of the call made in reply k-1
    assert [r["messages"][-2]["tool_calls"][0]["function"]["name"] for r in requests[1:]] == [
        "core_memory_append", "archival_memory_insert", "conversation_search"]
    assert last_result(requests[1])["message"].startswith("appended to human")
    assert last_result(requests[2])["message"] == "saved to archival memory (1 passage)"
    assert "I'm Ada and I keep bees" in last_result(requests[3])["message"]
    assert "Name: Ada" in requests[1]["messages"][0]["content"]  # core memory edit is in the next system prompt
    stored = rows(rt, agent)
    assert [(r.role, (r.tool_calls or [{}])[0].get("name") or r.name) for r in stored] == [
        ("user", None), ("assistant", "core_memory_append"), ("tool", "core_memory_append"),
        ("assistant", "archival_memory_insert"), ("tool", "archival_memory_insert"),
        ("assistant", "conversation_search"), ("tool", "conversation_search"),
        ("assistant", "send_message"), ("tool", "send_message")]
    assert agent.state.in_context == [r.id for r in stored]


def test_max_heartbeats_stops_a_model_that_always_asks_for_more(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events=events)
    agent.max_heartbeats = 3

    def search_again(request: dict[str, Any]) -> FakeReply:
        return call("conversation_search", "Keep looking.", query="anything", request_heartbeat=True)

    srv.responder = search_again
    result = agent.step("Find everything.")
    assert len(srv.chat_requests) == 4 == result.steps  # the first step plus max_heartbeats heartbeats
    assert result.messages == []
    assert any(e.kind == "warning" and "max_heartbeats" in e.text for e in events)
    assert rows(rt, agent)[-1].role == "tool"  # the last step was saved whole


# --------------------------------------------------------------------------- 3. malformed replies


def test_several_tool_calls_in_one_reply_all_run_in_order(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(
        FakeReply.tool_calls([
            {"id": "call_a", "name": "core_memory_append",
             "arguments": {"name": "human", "content": "Likes chess.", "request_heartbeat": False}},
            {"id": "call_b", "name": "core_memory_replace",
             "arguments": {"name": "human", "old_content": "Likes chess.", "new_content": "Loves chess.",
                           "request_heartbeat": False}},
            {"id": "call_c", "name": "conversation_search", "arguments": {"query": "chess", "request_heartbeat": True}},
        ], content="Three things at once."),
        say("Noted: you love chess."),
    )
    result = agent.step("I like chess. Actually, I love it.")
    requests = srv.chat_requests
    assert len(requests) == 2 and result.messages == ["Noted: you love chess."]
    tools = tool_messages(requests[1])
    assert [m["tool_call_id"] for m in tools] == ["call_a", "call_b", "call_c"]
    assert [result_of(m)["status"] for m in tools] == ["OK", "OK", "OK"]
    assert agent.state.blocks["human"].value.endswith("Loves chess.")  # the replace ran after the append
    assert "I like chess" in result_of(tools[2])["message"]
    check_pairs(requests[1]["messages"])
    stored = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert stored is not None and stored.blocks["human"].value.endswith("Loves chess.")


@pytest.mark.parametrize("raw", [
    '{"message": "repaired!",}',                      # trailing comma
    "{'message': 'repaired!'}",                       # single quotes
    '{"message": "repaired!',                         # cut off
    '```json\n{"message": "repaired!"}\n```',         # code fence
    'Sure: {"message": "repaired!"}',                 # text before the object
], ids=["trailing-comma", "single-quotes", "truncated", "fenced", "prefixed"])
def test_repairable_arguments_are_executed(rt: Runtime, srv: FakeLLMServer, raw: str) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.raw_arguments("send_message", raw, content="Say it."))
    result = agent.step("Hello?")
    assert result.messages == ["repaired!"]
    assert len(srv.chat_requests) == 1
    assert rows(rt, agent)[-2].tool_calls[0]["arguments"] == raw  # stored verbatim
    assert result_of_row(rows(rt, agent)[-1])["status"] == "OK"


def result_of_row(row: Any) -> dict[str, Any]:
    return json.loads(row.content)


def test_unrepairable_arguments_are_reported_and_the_model_asked_again(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.raw_arguments("send_message", "message = hello there", content="Say it."),
              say("Hello there, properly."))
    result = agent.step("Hi!")
    requests = srv.chat_requests
    assert len(requests) == 2
    assert result.messages == ["Hello there, properly."]  # the broken call delivered nothing
    error = last_result(requests[1])
    assert error["status"] == "Failed"
    assert "not valid JSON" in error["message"] and "send_message" in error["message"]


def test_unknown_function_gets_an_error_listing_the_available_ones(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(call("launch_rockets", "Why not.", count=3), say("Sorry, I can't do that."))
    result = agent.step("Launch the rockets.")
    error = last_result(srv.chat_requests[1])
    assert error["status"] == "Failed"
    assert "launch_rockets" in error["message"]
    available = error["message"].split("available:", 1)[1]
    assert [n.strip() for n in available.split(",")] == BUILTIN_NAMES
    assert result.messages == ["Sorry, I can't do that."]


def test_missing_argument_is_an_error_and_extra_argument_is_ignored(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    before = agent.state.blocks["human"].value
    srv.queue(call("core_memory_append", "Save it.", name="human", request_heartbeat=True),
              call("send_message", "Answer.", message="Saved nothing, sorry.", mood="sheepish"))
    result = agent.step("Remember that I like tea.")
    error = last_result(srv.chat_requests[1])
    assert error["status"] == "Failed"
    assert error["message"] == "core_memory_append is missing required argument(s): content"
    assert agent.state.blocks["human"].value == before
    assert result.messages == ["Saved nothing, sorry."]  # the extra argument did no harm
    assert len(srv.chat_requests) == 2


def answered_and(function: str, **args: Any) -> FakeReply:
    """One reply that answers the user and then calls ``function(**args)``."""
    return FakeReply.tool_calls([{"id": "call_say", "name": "send_message", "arguments": {"message": "Noted."}},
                                 {"id": "call_fn", "name": function, "arguments": args}], content="Answer, then save.")


def test_omitted_request_heartbeat_means_false(rt: Runtime, srv: FakeLLMServer) -> None:
    """The system prompt says "leave it false or omit it": omitting it is not an error."""
    agent = new_agent(rt, srv)
    srv.queue(answered_and("core_memory_append", name="human", content="Likes tea."))
    result = agent.step("I like tea.")
    assert len(srv.chat_requests) == 1 and result.steps == 1 and result.messages == ["Noted."]
    assert result_of_row(rows(rt, agent)[-1])["status"] == "OK"
    assert agent.state.blocks["human"].value.endswith("Likes tea.")


def test_request_heartbeat_sent_as_a_string(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(answered_and("core_memory_append", name="human", content="Likes tea.", request_heartbeat="false"))
    assert agent.step("I like tea.").steps == 1
    srv.queue(call("core_memory_append", "Save it.", name="human", content="Likes jam.", request_heartbeat="true"),
              say("Tea and jam, noted."))
    assert agent.step("And jam.").messages == ["Tea and jam, noted."]
    assert len(srv.chat_requests) == 3


def test_a_user_turn_that_ran_functions_without_answering_gets_another_step(rt: Runtime, srv: FakeLLMServer) -> None:
    """Small models search and forget the heartbeat: the user is still owed an answer, from the result."""
    agent = new_agent(rt, srv)
    srv.queue(call("conversation_search", "Look it up.", query="tea"),  # no request_heartbeat
              say("You told me you like tea."))
    result = agent.step("What do I like to drink? I like tea, by the way.")
    requests = srv.chat_requests
    assert len(requests) == 2 and result.steps == 2 and result.messages == ["You told me you like tea."]
    last = requests[1]["messages"][-1]  # the next step reads the search's result, no nudge between
    assert last["role"] == "tool" and result_of(last)["status"] == "OK"
    assert "I like tea" in result_of(last)["message"]


def test_a_model_that_never_answers_gets_a_bounded_number_of_extra_steps(rt: Runtime, srv: FakeLLMServer) -> None:
    from memgpt.agent.loop import UNANSWERED_STEPS

    agent = new_agent(rt, srv)
    srv.responder = lambda request: call("conversation_search", "Look again.", query="anything")
    result = agent.step("Hello?")
    assert len(srv.chat_requests) == 1 + UNANSWERED_STEPS == result.steps
    assert result.messages == []


def test_an_event_turn_owes_no_answer(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(call("core_memory_append", "Note the login.", name="persona", content="Saw a login."))
    result = agent.step("[login]", is_event=True)
    assert len(srv.chat_requests) == 1 and result.steps == 1 and result.messages == []


def test_empty_reply_gets_a_nudge_and_another_try(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.text(""), say("Sorry, here I am."))
    result = agent.step("Hello?")
    requests = srv.chat_requests
    assert len(requests) == 2 and result.messages == ["Sorry, here I am."]
    nudge = requests[1]["messages"][-1]
    assert nudge["role"] == "user" and nudge["content"].startswith("[system event]")
    assert "empty" in nudge["content"] and "send_message" in nudge["content"]
    assert requests[1]["messages"][-2] == {"role": "user", "content": "Hello?"}


def test_legacy_function_call_field_is_run_and_replayed_as_a_tool_call(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.legacy_function_call("send_message", {"message": "Old style works."}, content="Reply."))
    assert agent.step("Hi").messages == ["Old style works."]
    srv.queue(say("Still here."))
    agent.step("Still there?")
    history = srv.chat_requests[1]["messages"]
    legacy = [m for m in history if m["role"] == "assistant"][0]
    assert legacy["tool_calls"][0]["function"] == {"name": "send_message",
                                                   "arguments": '{"message": "Old style works."}'}
    check_pairs(history)


def test_text_without_a_tool_call_is_delivered_as_the_message(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events=events)
    srv.queue(FakeReply.text("Plain words, no function."))
    result = agent.step("Hi")
    assert result.messages == ["Plain words, no function."] and result.steps == 1
    assert len(srv.chat_requests) == 1
    assert [e.text for e in events if e.kind == "message"] == ["Plain words, no function."]
    assert not [e for e in events if e.kind == "thought"]  # shown once, as the message
    last = rows(rt, agent)[-1]
    assert (last.role, last.content, last.tool_calls) == ("assistant", "Plain words, no function.", None)


def test_pop_never_leaves_a_call_without_all_its_results(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.tool_calls([("conversation_search", {"query": "a"}),
                                    ("conversation_search", {"query": "b"})], content="Two searches."))
    agent.step("Search twice.", is_event=True)  # an event's turn may end on its calls
    assert [m.role for m in agent.messages] == ["user", "assistant", "tool", "tool"]
    removed = agent.pop(1)  # only the second result asked for, but its call would dangle
    assert [m.role for m in removed] == ["assistant", "tool", "tool"]
    assert [m.role for m in agent.messages] == ["user"]
    stored = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert stored is not None and stored.in_context == [agent.messages[0].id]
    assert len(rows(rt, agent)) == 4  # recall keeps what left the context
    srv.queue(say("Back to you."))
    agent.continue_turn()
    check_pairs(srv.chat_requests[-1]["messages"])


# --------------------------------------------------------------------------- 4. retries


def test_server_errors_and_rate_limits_are_retried(rt: Runtime, srv: FakeLLMServer) -> None:
    waits: list[float] = []
    agent = new_agent(rt, srv, sleep=waits.append)
    srv.queue(FakeReply.error(500, "boom"), FakeReply.error(429, "slow down", retry_after=7), say("Made it."))
    result = agent.step("Are you there?")
    assert result.messages == ["Made it."]
    assert len(srv.chat_requests) == 3
    assert 0 < waits[0] < 1 and waits[1] == 7.0  # exponential backoff first, then the server's Retry-After
    assert [r.role for r in rows(rt, agent)] == ["user", "assistant", "tool"]  # one user message, not three


def test_endpoint_that_stays_down_leaves_the_user_message_saved(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv, max_retries=1)
    srv.queue(FakeReply.error(503, "down"), FakeReply.error(503, "down"))
    with pytest.raises(LLMError):
        agent.step("Anyone?")
    assert [(r.role, r.content) for r in rows(rt, agent)] == [("user", "Anyone?")]
    srv.queue(say("Back now."))
    assert agent.continue_turn().messages == ["Back now."]  # what /retry does


# --------------------------------------------------------------------------- 5. memory pressure


WINDOW = 4000  # the system prompt and the eight tool schemas alone take ~2,600 tokens


def _summary_or_ack(request: dict[str, Any]) -> FakeReply:
    if "tools" not in request:
        return FakeReply.text("SUMMARY: the user told me long stories about their garden.")
    return say("Lovely, tell me more.")


def _story(i: int) -> str:
    return (f"Story {i}: in my garden the tomatoes, beans and sunflowers grew tall this year, and every morning "
            f"I watered them before work while the neighbour's cat watched from the fence, unimpressed. " * 2)


def test_memory_warning_then_summary_keeps_recall_and_the_agent_working(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, persona="memgpt_starter", context_window=WINDOW, events=events)
    srv.responder = _summary_or_ack
    warn_at = 0.75 * WINDOW

    def used() -> int:
        tok = agent.context_tokens()
        return tok["system"] + tok["tools"] + tok["messages"]

    def summary_requests() -> list[Any]:
        return [r for r in srv.chat_requests if "tools" not in r]

    turn = 0
    before_summary: list[str] = []
    while not summary_requests():
        turn += 1
        assert turn < 40, "no summary was ever requested"
        warned_before = [r for r in rows(rt, agent) if "Memory pressure" in (r.content or "")]
        # what the next request will hold when the warning check runs: everything so far plus this story
        next_request = used() + agent.budget.text(_story(turn)) + 4
        before_summary = list(agent.state.in_context)
        agent.step(_story(turn))
        warnings = [r for r in rows(rt, agent) if "Memory pressure" in (r.content or "")]
        if next_request < warn_at - 10:  # (a margin for the clock and counts rendered in the system prompt)
            assert warnings == warned_before, f"warned at {next_request} tokens, under 75% of {WINDOW}"
        if not warned_before and warnings:
            # inserted once the request passed 75% of the window, and sent in the very next request
            assert used() > warn_at
            warning_request = [r for r in srv.chat_requests if "tools" in r][-1]
            assert warning_request["messages"][-1]["content"] == warnings[0].content
            assert warnings[0].name == "event" and warnings[0].role == "user"
    warnings = [r for r in rows(rt, agent) if "Memory pressure" in (r.content or "")]
    assert len(warnings) == 1, "the memory warning must be sent once"
    assert any(e.kind == "warning" and "memory pressure" in e.text for e in events)

    summary = summary_requests()[0]
    assert "tool_choice" not in summary
    assert summary["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert "Story 1:" in summary["messages"][1]["content"]  # the oldest messages were summarised

    # the queue now starts with the summary, the evicted messages left the context but not the database
    first = agent.messages[0]
    assert first.role == "user" and "SUMMARY: the user told me long stories" in first.content
    evicted = [i for i in before_summary if i not in agent.state.in_context]
    assert evicted
    stored_ids = {r.id for r in rows(rt, agent)}
    assert set(evicted) <= stored_ids
    check_pairs(agent.messages)
    assert agent.state.state["memory_warning_sent"] is False
    assert used() < agent.budget.limit
    # the request right after the summary carried it, and the turn was answered
    after = [r for r in srv.chat_requests if "tools" in r][-1]
    assert after["messages"][1]["content"] == first.content
    check_pairs(after["messages"])
    n = len(srv.chat_requests)
    assert agent.step("And the pumpkins?").messages == ["Lovely, tell me more."]
    assert len(srv.chat_requests) == n + 1
    persisted = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert persisted is not None and persisted.in_context == [m.id for m in agent.messages]


def _chat(agent: Agent, srv: FakeLLMServer, turns: int) -> None:
    for i in range(turns):
        srv.queue(call("conversation_search", "Look it up.", query=f"topic {i}", request_heartbeat=True),
                  say(f"Reply {i}."))
        agent.step(_story(i))


def test_context_length_exceeded_from_the_endpoint_summarises_and_retries(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv, persona="memgpt_starter", context_window=8000)
    _chat(agent, srv, 4)
    in_context = list(agent.state.in_context)
    n = len(srv.chat_requests)

    def summary(request: dict[str, Any]) -> FakeReply:
        assert "tools" not in request, "expected the summary request"
        return FakeReply.text("SUMMARY: four garden stories.")

    srv.queue(FakeReply.error(400, "This model's maximum context length is 8000 tokens. However, your messages "
                                   "resulted in 9100 tokens.", code="context_length_exceeded"),
              FakeReply.respond(summary), say("Got it, despite the full context."))
    result = agent.step("One more story, please remember it.")
    assert result.messages == ["Got it, despite the full context."]
    requests = srv.chat_requests[n:]
    assert len(requests) == 3 and "tools" not in requests[1] and "tools" in requests[2]
    retried = requests[2]["messages"]
    assert "SUMMARY: four garden stories." in retried[1]["content"]
    assert len(retried) < len(requests[0]["messages"])
    check_pairs(retried)
    assert retried[-1] == {"role": "user", "content": "One more story, please remember it."}
    assert {m for m in in_context if m not in agent.state.in_context} <= {r.id for r in rows(rt, agent)}


def test_failed_summary_leaves_a_plain_note_and_the_agent_keeps_going(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, persona="memgpt_starter", context_window=WINDOW, events=events)

    def summary_fails(request: dict[str, Any]) -> FakeReply:
        if "tools" not in request:
            return FakeReply.error(400, "summaries are not allowed here")
        return say("Lovely, tell me more.")

    srv.responder = summary_fails
    for turn in range(1, 40):
        reply = agent.step(_story(turn))
        assert reply.messages == ["Lovely, tell me more."]  # never stuck
        if any("no summary could be made" in (m.content or "") for m in agent.messages):
            break
    else:
        pytest.fail("no eviction happened")
    note = agent.messages[0]
    assert "no summary could be made" in note.content and "still in recall memory" in note.content
    evicted_stories = [r.content for r in rows(rt, agent)
                       if r.role == "user" and r.name is None and r.id not in agent.state.in_context]
    assert evicted_stories
    assert evicted_stories[-1][:80] in note.content  # names the last user message among the evicted ones
    assert any(e.kind == "warning" and "summary failed" in e.text for e in events)
    check_pairs(agent.messages)
    assert agent.step("Still with me?").messages == ["Lovely, tell me more."]


# --------------------------------------------------------------------------- 6. core memory


def test_core_memory_edits_persist_and_reach_the_prompt(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(call("core_memory_append", "Note the name.", name="human", content="Name: Chad.",
                   request_heartbeat=True),
              call("core_memory_replace", "Fix the persona.", name="persona", old_content="Sam",
                   new_content="Samantha", request_heartbeat=True),
              say("Hi Chad!"))
    agent.step("I'm Chad.")
    stored = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert stored is not None
    assert stored.blocks["human"].value.endswith("\nName: Chad.")
    assert "Samantha" in stored.blocks["persona"].value
    system = srv.chat_requests[2]["messages"][0]["content"]
    assert "Name: Chad." in system and "Samantha" in system
    assert f'<human characters="{len(stored.blocks["human"].value)}/' in system
    with rt.metadata.engine.connect() as conn:
        value = conn.scalar(select(t.blocks.c.value).where(t.blocks.c.agent_id == agent.state.id,
                                                           t.blocks.c.label == "human"))
    assert value == stored.blocks["human"].value


def test_core_memory_edit_past_the_limit_is_refused_with_the_numbers(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    block = agent.state.blocks["human"]
    size, limit = len(block.value), block.limit
    srv.queue(call("core_memory_append", "Save everything.", name="human", content="x" * limit,
                   request_heartbeat=False),
              say("That was too much; I'll keep it short."))
    agent.step("Remember all of this.")
    error = last_result(srv.chat_requests[1])
    assert error["status"] == "Failed"
    assert f"over its limit of {limit}" in error["message"]
    assert f"(now {size})" in error["message"]
    assert f"would hold {size + 1 + limit} characters" in error["message"]
    stored = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert stored is not None and len(stored.blocks["human"].value) == size


# --------------------------------------------------------------------------- 7. recall memory


@pytest.fixture
def recall_rt(db_url: str, base_home: Path, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(home=copy_home(base_home, tmp_path / "home"), metadata_uri=db_url))
    yield runtime
    runtime.close()


def _tell(agent: Agent, srv: FakeLLMServer, texts: list[str]) -> None:
    for text in texts:
        srv.queue(call("send_message", message="OK."))  # no thought: recall holds exactly "OK."
        agent.step(text)


def _search_results(request: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    msg = last_result(request)["message"]
    head, _, body = msg.partition("\n")
    return head, json.loads(body) if body else []


def test_conversation_search_ranks_by_words_with_pages(recall_rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(recall_rt, srv)
    _tell(agent, srv, ["My sister adopted a purple parrot last spring.",
                       "The elephant at the zoo was enormous.",
                       "A purple elephant balloon floated over the parade.",
                       "We painted the garage door purple."])
    tickets = {f"Ticket number {i} is for the concert." for i in range(7)}
    _tell(agent, srv, sorted(tickets))
    n = len(srv.chat_requests)
    # no thoughts in these calls: they would be searchable themselves
    srv.queue(call("conversation_search", query="purple elephant", request_heartbeat=True),
              call("conversation_search", query="ticket", request_heartbeat=True),
              call("conversation_search", query="ticket", page=1, request_heartbeat=True),
              call("send_message", message="Found them."))
    agent.step("Look through our conversation, please.")
    requests = srv.chat_requests[n + 1:]  # each ends with the result of one search
    assert len(requests) == 3

    _, found = _search_results(requests[0])
    assert found[0]["content"] == "A purple elephant balloon floated over the parade."  # both words beat one
    assert {f["content"] for f in found[1:4]} == {"My sister adopted a purple parrot last spring.",
                                                  "The elephant at the zoo was enormous.",
                                                  "We painted the garage door purple."}
    head0, page0 = _search_results(requests[1])
    head1, page1 = _search_results(requests[2])
    assert head0.startswith("showing results 1-5 (page 0)") and head1.startswith("showing results 6-")
    assert len(page0) == 5 and {p["content"] for p in page0} <= tickets
    assert not {p["content"] for p in page0} & {p["content"] for p in page1}
    assert tickets <= {p["content"] for p in page0 + page1}

    # word search matches words, not substrings ("ant" is inside "elephant")
    words_only, total = agent.memory.recall.search(agent.state.id, "ant")
    assert (words_only, total) == ([], 0)
    stems, _ = agent.memory.recall.search(agent.state.id, "elephants")
    assert {m.content for m in stems} == {"The elephant at the zoo was enormous.",
                                          "A purple elephant balloon floated over the parade."}


def test_conversation_search_date(recall_rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(recall_rt, srv)
    _tell(agent, srv, ["First thing today.", "Second thing today."])
    today = datetime.now(timezone.utc).date()
    n = len(srv.chat_requests)
    srv.queue(call("conversation_search_date", start_date=today.isoformat(), end_date=today.isoformat(),
                   request_heartbeat=True),
              call("conversation_search_date", start_date=str(today - timedelta(days=400)),
                   end_date=str(today - timedelta(days=300)), request_heartbeat=True),
              call("conversation_search_date", start_date="yesterday", end_date="today", request_heartbeat=True),
              say("Done."))
    agent.step("What did we talk about today?")
    requests = srv.chat_requests[n + 1:]
    head, found = _search_results(requests[0])
    assert [f["content"] for f in found[:4]] == ["First thing today.", "OK.", "Second thing today.", "OK."]
    assert [f["role"] for f in found[:4]] == ["user", "assistant", "user", "assistant"]
    assert last_result(requests[1])["message"] == "no results"
    bad = last_result(requests[2])
    assert bad["status"] == "Failed" and "2024-01-31" in bad["message"]
