"""What open models on local servers do, replayed through the real client over HTTP (``FakeLLMServer``).

The reply shapes are the ones Qwen2.5-Coder 0.5B/1.5B, Llama 3.1 and Mistral models wrote when served
through their own chat templates (issue 11); the routes are the ones llama.cpp, vLLM and Ollama answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memgpt.agent import factory
from memgpt.agent.loop import Agent, AgentEvent
from memgpt.config import Settings
from memgpt.llm.errors import LLMTimeoutError
from memgpt.llm.openai_client import OpenAICompatibleClient
from memgpt.runtime import Runtime

from conftest import copy_home
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory, base_home: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(home=copy_home(base_home, tmp_path_factory.mktemp("local-home"))))
    yield runtime
    runtime.close()


def new_agent(runtime: Runtime, srv: FakeLLMServer, events: list[AgentEvent] | None = None, **kw: Any) -> Agent:
    kw.setdefault("context_window", 8192)
    llm = OpenAICompatibleClient(srv.base_url, None, "qwen2.5-coder-1.5b-instruct", sleep=lambda _s: None, **kw)
    state = factory.create_agent(runtime, runtime.user.id, persona="sam_pov", llm=llm)
    return factory.open_agent(runtime, state, llm, on_event=events.append if events is not None else None)


def results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


# --------------------------------------------------------------------------- 1. calls written as text

SHAPES = {
    "hermes": '<tool_call>\n{"name": "send_message", "arguments": {"message": "Hello Chad!"}}\n</tool_call>',
    "hermes-unclosed": 'Greet him.\n<tool_call>\n{"name": "send_message", "arguments": {"message": "Hello Chad!"}}',
    "tools-tag": '<tools>\n{"name": "send_message", "arguments": {"message": "Hello Chad!"}}\n</tools>',
    "json-fence": '```json\n{"name": "send_message", "arguments": {"message": "Hello Chad!"}}\n```',
    "bare-object": 'Sure. {"name": "send_message", "arguments": {"message": "Hello Chad!"}}',
    "function-params": '{"function": "send_message", "params": {"message": "Hello Chad!"}}',
    "arguments-string": '{"name": "send_message", "arguments": "{\\"message\\": \\"Hello Chad!\\"}"}',
    "python-tag": '<|python_tag|>{"name": "send_message", "parameters": {"message": "Hello Chad!"}}<|eom_id|>',
}


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_a_call_written_as_text_runs_and_is_replayed_as_a_tool_call(rt: Runtime, srv: FakeLLMServer,
                                                                     text: str) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events)
    srv.queue(FakeReply.text(text))
    result = agent.step("Hi, I'm Chad.")
    assert result.messages == ["Hello Chad!"]  # delivered through send_message, not printed as JSON
    assert not [e for e in events if e.kind == "message" and "{" in e.text]
    srv.queue(FakeReply.tool_call("send_message", {"message": "Still here."}))
    agent.step("Still there?")
    history = srv.chat_requests[1]["messages"]
    call = next(m for m in history if m["role"] == "assistant")
    assert call["tool_calls"][0]["function"]["name"] == "send_message"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"message": "Hello Chad!"}
    assert "send_message" not in (call.get("content") or "")  # the call left the text
    assert results(srv.chat_requests[1])[0]["status"] == "OK"


def test_text_calls_in_a_chain_run_in_order(rt: Runtime, srv: FakeLLMServer) -> None:
    """Qwen 1.5B's core-memory step: a call with a heartbeat, then send_message, both as <tool_call> text."""
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.text('<tool_call>{"name": "core_memory_append", "arguments": {"name": "human", '
                             '"content": "Name: Chad", "request_heartbeat": true}}</tool_call>'),
              FakeReply.text('<tool_call>{"name": "send_message", "arguments": {"message": "Noted, Chad."}}'
                             '</tool_call>'))
    result = agent.step("My name is Chad, remember it.")
    assert result.messages == ["Noted, Chad."]
    assert agent.state.blocks["human"].value.endswith("Name: Chad")
    assert results(srv.chat_requests[1])[-1]["status"] == "OK"


def test_a_text_call_with_missing_arguments_gets_the_schema_error(rt: Runtime, srv: FakeLLMServer) -> None:
    """The 1.5B model called core_memory_replace with empty arguments: it is told which ones are missing."""
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.text('<tool_call>{"name": "core_memory_replace", "arguments": {}}</tool_call>'),
              FakeReply.tool_call("send_message", {"message": "Sorry."}))
    agent.step("My name is Chad.")
    error = results(srv.chat_requests[1])[-1]
    assert error["status"] == "Failed"
    assert error["message"] == "core_memory_replace is missing required argument(s): name, old_content, new_content"


def test_an_unreadable_call_block_is_explained_and_asked_again(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events)
    srv.queue(FakeReply.text("<tool_call>send a greeting</tool_call>"),
              FakeReply.text("Hello! How can I help?"))
    result = agent.step("Hi")
    assert result.messages == ["Hello! How can I help?"]
    nudge = srv.chat_requests[1]["messages"][-1]
    assert nudge["role"] == "user" and nudge["content"].startswith("[system event]")
    assert "holds no JSON object" in nudge["content"] and "<tool_call>" in nudge["content"]
    assert [e.kind for e in events].count("warning") == 1


def test_plain_text_still_reaches_the_user(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.text('A dict looks like {"a": 1}.'))
    assert agent.step("Show me a dict").messages == ['A dict looks like {"a": 1}.']
    assert len(srv.chat_requests) == 1


# --------------------------------------------------------------------------- 3. empty replies, prompt caching


def test_two_empty_replies_stop_the_turn_with_a_diagnosis(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events)
    srv.queue(FakeReply.text(""), FakeReply.text(""))  # a third request would get the fixture's 400
    result = agent.step("Hello?")
    assert len(srv.chat_requests) == 2 and result.messages == []
    warning = [e.text for e in events if e.kind == "warning"][-1]
    assert "2 empty replies in a row" in warning and "chat template" in warning and "\n" not in warning
    srv.queue(FakeReply.text(""), FakeReply.tool_call("send_message", {"message": "Back."}))
    assert agent.step("Hello again?").messages == ["Back."]  # the count starts again each turn


def _rendered(request: dict[str, Any]) -> str:
    """The request in the order a chat template renders it: system message, tools, then the messages."""
    system, *rest = request["messages"]
    return json.dumps([system, request.get("tools")] + rest)


def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def test_the_changing_statistics_sit_at_the_end_so_prompt_caches_hold(rt: Runtime, srv: FakeLLMServer) -> None:
    agent = new_agent(rt, srv)
    srv.queue(FakeReply.tool_call("archival_memory_search", {"query": "tea", "request_heartbeat": True}),
              FakeReply.tool_call("send_message", {"message": "Nothing on tea."}))
    agent.step("What do you know about tea?")
    srv.queue(FakeReply.tool_call("send_message", {"message": "Hi again."}))
    agent.step("Hello again.")
    first, second, third = (dict(r) for r in srv.chat_requests)
    assert first["messages"][0] == second["messages"][0] == third["messages"][0]  # the system message
    stats = [m for m in third["messages"] if (m.get("content") or "").startswith("[system event] Memory statistics")]
    assert len(stats) == 1 and third["messages"][-1]["content"] == "Hello again."
    assert third["messages"][-2] is stats[0] or third["messages"][-2] == stats[0]
    # Everything before the statistics is shared with the request before it (the step inside a turn)...
    shared = _common_prefix(_rendered(first), _rendered(second))
    assert shared >= _rendered(first).index("[system event] Memory statistics")
    # ...and across turns all but the newest turn is (measured: the share of the rendered prompt reused).
    ratio = _common_prefix(_rendered(second), _rendered(third)) / len(_rendered(third))
    assert ratio > 0.8, ratio


# --------------------------------------------------------------------------- 4. context windows


@pytest.fixture
def local_rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(home=tmp_path))
    yield runtime
    runtime.close()


def test_llama_cpp_props_give_the_window(local_rt: Runtime, srv: FakeLLMServer) -> None:
    srv.route("GET", "/props", {"default_generation_settings": {"n_ctx": 2048}})
    llm = local_rt.llm(endpoint=srv.base_url, provider="custom")
    assert llm.local and llm.context_window == 2048
    assert llm.server.kind == "llamacpp"


def test_vllm_max_model_len_gives_the_window(local_rt: Runtime, srv: FakeLLMServer) -> None:
    srv.route("GET", "/v1/models", {"object": "list", "data": [
        {"id": "Qwen/Qwen2.5-1.5B-Instruct", "object": "model", "owned_by": "vllm", "max_model_len": 16384}]})
    llm = local_rt.llm(model="Qwen/Qwen2.5-1.5B-Instruct", endpoint=srv.base_url, provider="custom")
    assert llm.context_window == 16384 and llm.server.kind == "vllm"


def test_ollama_show_gives_the_window_and_num_ctx_is_sent(local_rt: Runtime, srv: FakeLLMServer) -> None:
    srv.route("POST", "/api/show", {"parameters": "num_ctx 4096\nstop \"<|im_end|>\"",
                                    "model_info": {"qwen2.context_length": 32768}})
    llm = local_rt.llm(model="qwen2.5:1.5b", endpoint=srv.base_url, provider="ollama")
    assert llm.context_window == 4096
    shows = [r for r in srv.requests if r.path == "/api/show"]
    assert dict(shows[0]) == {"model": "qwen2.5:1.5b"}
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    srv.queue(FakeReply.text("hi"))
    llm.complete(ChatRequest(messages=[Message(role="user", content="hi")]))
    assert srv.chat_requests[-1]["options"] == {"num_ctx": 4096}


def test_an_unknown_model_on_a_local_server_gets_8k_not_the_names_window(local_rt: Runtime,
                                                                          srv: FakeLLMServer) -> None:
    llm = local_rt.llm(model="gpt-4o-mini", endpoint=srv.base_url, provider="custom")  # the default name
    assert llm.local and llm.context_window == 8192
    hosted = local_rt.llm(model="gpt-4o-mini", endpoint="https://api.example.com/v1", provider="custom")
    assert not hosted.local and hosted.context_window == 128_000


def test_the_window_an_overflow_error_reports_is_adopted(rt: Runtime, srv: FakeLLMServer) -> None:
    events: list[AgentEvent] = []
    agent = new_agent(rt, srv, events, context_window=32768)
    srv.queue(FakeReply.error(400, "Requested tokens (5000) exceed context window of 4096"),
              FakeReply.tool_call("send_message", {"message": "Fits now."}))
    assert agent.step("Hello").messages == ["Fits now."]
    assert agent.budget.context_window == agent.llm.context_window == 4096
    warning = next(e.text for e in events if e.kind == "warning" and "4096" in e.text)
    assert "--context-window 4096" in warning


# --------------------------------------------------------------------------- 2. timeouts and the deadline


def test_a_local_server_that_times_out_is_not_asked_again(srv: FakeLLMServer) -> None:
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    srv.queue(FakeReply.delay(3, FakeReply.text("too late")), FakeReply.text("second"))
    llm = OpenAICompatibleClient(srv.base_url, None, "m", 8192, timeout=0.5, local=True, sleep=lambda _s: None)
    with pytest.raises(LLMTimeoutError) as info:
        llm.complete(ChatRequest(messages=[Message(role="user", content="hi")]))
    assert len(srv.chat_requests) == 1  # the server is still computing the first: no second request
    assert "--llm-timeout" in info.value.hint and "local" in info.value.message


def test_one_deadline_bounds_a_reply_across_retries(srv: FakeLLMServer) -> None:
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    srv.queue(*[FakeReply.delay(3, FakeReply.text("late")) for _ in range(5)])
    llm = OpenAICompatibleClient(srv.base_url, None, "m", 8192, timeout=0.4, deadline=1.0, max_retries=4,
                                 sleep=lambda _s: None)
    with pytest.raises(LLMTimeoutError) as info:
        llm.complete(ChatRequest(messages=[Message(role="user", content="hi")]))
    assert "deadline" in info.value.message
    assert len(srv.chat_requests) < 5  # without the deadline all five attempts would have been made


def test_the_wait_hook_reports_elapsed_seconds(srv: FakeLLMServer) -> None:
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    ticks: list[float] = []
    srv.queue(FakeReply.delay(2.5, FakeReply.text("done")))
    llm = OpenAICompatibleClient(srv.base_url, None, "m", 8192, on_wait=ticks.append)
    assert llm.complete(ChatRequest(messages=[Message(role="user", content="hi")])).content == "done"
    assert ticks and ticks == sorted(ticks) and ticks[0] >= 1.0


def test_runtime_sees_a_local_server_by_its_url(local_rt: Runtime) -> None:
    for url in ("http://127.0.0.1:8080/v1", "http://localhost:1234/v1", "http://192.168.1.20:8000/v1",
                "http://10.0.0.5:11434/v1"):
        assert local_rt.llm(endpoint=url, provider="custom", context_window=4096).local, url
    assert not local_rt.llm(endpoint="https://api.together.xyz/v1", provider="custom", context_window=4096).local


# --------------------------------------------------------------------------- 5. the JSON wrapper


def test_json_wrapper_puts_functions_in_the_prompt_and_reads_one_object(rt: Runtime, srv: FakeLLMServer) -> None:
    from memgpt.llm.wrappers import JSONWrapper

    events: list[AgentEvent] = []
    llm = JSONWrapper(OpenAICompatibleClient(srv.base_url, None, "m", 8192, sleep=lambda _s: None))
    state = factory.create_agent(rt, rt.user.id, persona="sam_pov", llm=llm)
    agent = factory.open_agent(rt, state, llm, on_event=events.append)
    srv.queue(FakeReply.text('{"thought": "Save the name first.", "function": "core_memory_append", '
                             '"params": {"name": "human", "content": "Name: Chad", "request_heartbeat": true}}'),
              FakeReply.text('{"thought": "Now answer.", "function": "send_message", '
                             '"params": {"message": "Got it, Chad."}}'))
    assert agent.step("My name is Chad, remember it.").messages == ["Got it, Chad."]
    assert agent.state.blocks["human"].value.endswith("Name: Chad")
    assert [e.text for e in events if e.kind == "thought"] == ["Save the name first.", "Now answer."]
    first, second = (dict(r) for r in srv.chat_requests)
    assert "tools" not in first and "tool_choice" not in first
    system = first["messages"][0]["content"]
    assert "- core_memory_append:" in system and "exactly one JSON object" in system
    schema = first["response_format"]["json_schema"]["schema"]
    assert "send_message" in schema["properties"]["function"]["enum"]
    roles = [m["role"] for m in second["messages"]]
    assert "tool" not in roles
    replayed = [m for m in second["messages"] if m["role"] == "assistant"][-1]
    assert json.loads(replayed["content"])["function"] == "core_memory_append"
    assert second["messages"][-1]["content"].startswith("[function core_memory_append returned]")


LLAMA_CPP_PYTHON_REFUSAL = ("1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                            "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}")


def test_json_wrapper_falls_back_to_json_object_where_json_schema_is_refused() -> None:
    """llama-cpp-python's server (as measured, 0.3.36) refuses ``json_schema`` with HTTP 500 and takes the
    schema beside ``json_object``; the wrapper asks that way from then on."""
    from memgpt.llm.wrappers import JSONWrapper
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    def llama_cpp_python(request: dict[str, Any]) -> FakeReply:
        kind = (request.get("response_format") or {}).get("type", "text")
        if kind not in ("text", "json_object"):
            return FakeReply.error(500, LLAMA_CPP_PYTHON_REFUSAL)
        return FakeReply.text('{"thought": "Say hi.", "function": "send_message", "params": {"message": "Hi"}}')

    server = FakeLLMServer(responder=llama_cpp_python)
    server.start()
    try:
        llm = JSONWrapper(OpenAICompatibleClient(server.base_url, None, "m", 8192, sleep=lambda _s: None))
        request = ChatRequest(messages=[Message(role="system", content="You are an agent."),
                                        Message(role="user", content="Hello")],
                              tools=[{"type": "function", "function": {"name": "send_message", "description": "Talk.",
                                      "parameters": {"type": "object", "properties": {}}}}])
        for _ in range(2):
            reply = llm.complete(request)
            assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("send_message", {"message": "Hi"})]
        formats = [r.get("response_format", {}).get("type") for r in server.chat_requests]
        # refused (the client retries a 500 before giving up), then json_object, and json_object again
        assert formats[0] == "json_schema" and formats[-2:] == ["json_object", "json_object"], formats
        assert server.chat_requests[-1]["response_format"]["schema"]["properties"]["function"]["enum"] == ["send_message"]
    finally:
        server.stop()


def test_a_local_server_gets_greedy_decoding_unless_the_request_says_otherwise(srv: FakeLLMServer) -> None:
    from memgpt.llm.base import ChatRequest
    from memgpt.schemas import Message

    ask = [Message(role="user", content="Hello")]
    local = OpenAICompatibleClient(srv.base_url, None, "m", 8192, local=True)
    hosted = OpenAICompatibleClient(srv.base_url, None, "m", 8192)
    assert local.request_body(ChatRequest(messages=ask))["temperature"] == 0.0
    assert local.request_body(ChatRequest(messages=ask, temperature=0.7))["temperature"] == 0.7
    assert "temperature" not in hosted.request_body(ChatRequest(messages=ask))
    srv.queue(FakeReply.text("Hi."))
    local.complete(ChatRequest(messages=ask))
    assert srv.chat_requests[-1]["temperature"] == 0.0  # what went over the wire


def test_runtime_applies_the_configured_wrapper(local_rt: Runtime, srv: FakeLLMServer) -> None:
    from memgpt.errors import ConfigError
    from memgpt.llm.wrappers import JSONWrapper

    llm = local_rt.llm(endpoint=srv.base_url, provider="custom", context_window=4096, wrapper="json")
    assert isinstance(llm, JSONWrapper) and llm.constrain and llm.context_window == 4096
    assert not isinstance(local_rt.llm(endpoint=srv.base_url, provider="custom", wrapper="none"), JSONWrapper)
    with pytest.raises(ConfigError, match="unknown model wrapper"):
        local_rt.llm(endpoint=srv.base_url, provider="custom", wrapper="chatml")


def test_a_server_whose_model_list_says_llama_cpp_becomes_local(srv: FakeLLMServer) -> None:
    """A URL that does not look local (a tunnel, a DNS name) is still recognised by what /v1/models says."""
    srv.route("GET", "/v1/models", {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "llamacpp"}]})
    srv.route("GET", "/props", {"default_generation_settings": {"n_ctx": 3072}})
    llm = OpenAICompatibleClient(srv.base_url, None, "m", timeout=60, deadline=60, local_deadline=600)
    assert not llm.local
    llm.verify()
    assert llm.local and llm.transport.local and llm.transport.deadline == 600
    assert llm.context_window == 3072
