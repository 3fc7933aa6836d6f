"""FakeLLMServer: scripting, recording, HTTP control, the demo responder, embeddings, the CLI."""

from __future__ import annotations

import base64
import json
import math
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from memgpt.llm.base import ChatRequest
from memgpt.llm.errors import LLMServerError, LLMTimeoutError
from memgpt.llm.openai_client import OpenAICompatibleClient
from memgpt.schemas import Message, ToolCall
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply, demo_responder, hashed_embedding


def _tool(name: str, **props: str) -> dict:
    properties = {k: {"type": v} for k, v in props.items()}
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": properties}}}


TOOLS = [
    _tool("send_message", message="string"),
    _tool("archival_memory_search", query="string", page="integer", request_heartbeat="boolean"),
    _tool("core_memory_append", label="string", content="string", request_heartbeat="boolean"),
]


def _http(method: str, url: str, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def client(fake_llm):
    return OpenAICompatibleClient(fake_llm.base_url, None, "fake-llm", max_retries=0)


# --------------------------------------------------------------------------- server basics


def test_base_url_and_models(fake_llm):
    assert fake_llm.base_url == f"http://127.0.0.1:{fake_llm.port}/v1"
    assert fake_llm.port > 0
    status, body = _http("GET", fake_llm.base_url + "/models")
    assert status == 200
    assert [m["id"] for m in body["data"]] == ["fake-llm", "fake-embedding"]
    assert fake_llm.requests[-1].path == "/v1/models" and fake_llm.requests[-1].method == "GET"


def test_unknown_route_is_404_json(fake_llm):
    status, body = _http("POST", fake_llm.url + "/v2/whatever", {})
    assert status == 404 and "no route" in body["error"]["message"]


def test_invalid_json_request_is_400(fake_llm):
    req = urllib.request.Request(fake_llm.base_url + "/chat/completions", data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert fake_llm.requests[-1].raw == "{nope"


def test_queue_is_fifo_and_recorded(fake_llm, client):
    fake_llm.queue("first", FakeReply.text("second"), {"type": "text", "content": "third"})
    assert fake_llm.pending() == 3
    req = ChatRequest(messages=[Message(role="user", content="x")], tools=[])
    assert [client.complete(req).content for _ in range(3)] == ["first", "second", "third"]
    assert fake_llm.pending() == 0
    assert len(fake_llm.chat_requests) == 3
    assert fake_llm.chat_requests[0]["messages"] == [{"role": "user", "content": "x"}]
    assert "user-agent" in fake_llm.chat_requests[0].headers


def test_callable_responder_sees_the_request(fake_llm, client):
    def responder(request):
        last = request["messages"][-1]["content"]
        return FakeReply.tool_call("send_message", {"message": last.upper()})

    fake_llm.queue(responder)
    resp = client.complete(ChatRequest(messages=[Message(role="user", content="shout")], tools=TOOLS))
    assert json.loads(resp.tool_calls[0].arguments) == {"message": "SHOUT"}


def test_responder_failure_becomes_500(fake_llm, client):
    fake_llm.queue(lambda request: 1 / 0)
    with pytest.raises(LLMServerError) as info:
        client.complete(ChatRequest(messages=[Message(role="user", content="x")]))
    assert "ZeroDivisionError" in info.value.message


def test_delay_then_reply(fake_llm, client):
    fake_llm.queue(FakeReply.delay(0.2, then="late but fine"))
    t0 = time.monotonic()
    resp = client.complete(ChatRequest(messages=[Message(role="user", content="x")], tools=[]))
    assert resp.content == "late but fine" and time.monotonic() - t0 >= 0.2


def test_stop_does_not_wait_for_delays():
    srv = FakeLLMServer().start()
    srv.queue(FakeReply.delay(30))
    c = OpenAICompatibleClient(srv.base_url, None, "m", timeout=0.2, max_retries=0)
    with pytest.raises(LLMTimeoutError):
        c.complete(ChatRequest(messages=[Message(role="user", content="x")]))
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 2


def test_error_reply_shape(fake_llm):
    fake_llm.queue(FakeReply.error(429, "slow down", code="rate_limit_exceeded", retry_after=7))
    req = urllib.request.Request(fake_llm.base_url + "/chat/completions", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 429
    assert info.value.headers["Retry-After"] == "7"
    body = json.loads(info.value.read())
    assert body["error"]["message"] == "slow down" and body["error"]["code"] == "rate_limit_exceeded"


def test_api_key_required_when_configured():
    with FakeLLMServer(api_key="sk-test") as srv:
        status, body = _http("GET", srv.base_url + "/models")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        ok = OpenAICompatibleClient(srv.base_url, "sk-test", "m")
        assert ok.complete(ChatRequest(messages=[Message(role="user", content="x")], tools=[])).content


def test_reply_specs_round_trip_and_validation():
    replies = [
        FakeReply.text("a"),
        FakeReply.tool_call("f", {"x": 1}, content="t"),
        FakeReply.tool_calls([("f", {}), {"name": "g", "arguments": "{}", "id": "call_9"}]),
        FakeReply.legacy_function_call("f", {"x": 1}),
        FakeReply.raw_arguments("f", "{broken"),
        FakeReply.error(429, retry_after=1),
        FakeReply.delay(0.1, then=FakeReply.text("x")),
        FakeReply.broken_body(),
        FakeReply.empty_choices(),
        FakeReply.raw({"a": 1}, status=201),
        FakeReply.demo(),
    ]
    for r in replies:
        spec = r.to_spec()
        json.dumps(spec)
        assert FakeReply.from_spec(spec).to_spec() == spec
    with pytest.raises(ValueError):
        FakeReply.from_spec({"type": "nope"})
    with pytest.raises(ValueError):
        FakeReply.from_spec({"type": "delay"})
    with pytest.raises(ValueError):
        FakeReply.respond(lambda r: None).to_spec()


def test_chat_replies_cannot_answer_embeddings(fake_llm):
    with pytest.raises(ValueError):
        fake_llm.queue(FakeReply.text("x"), endpoint="embeddings")
    with pytest.raises(ValueError):
        fake_llm.queue(FakeReply.delay(1, then=FakeReply.text("x")), endpoint="embeddings")
    fake_llm.queue(FakeReply.error(500), endpoint="embeddings")
    assert fake_llm.pending("embeddings") == 1 and fake_llm.pending("chat") == 0


# --------------------------------------------------------------------------- HTTP control


def test_http_control_queue_requests_reset(fake_llm, client):
    status, body = _http("POST", fake_llm.url + "/_fake/queue", [{"type": "text", "content": "via http"}, FakeReply.error(500).to_spec()])
    assert status == 200 and body == {"queued": 2, "pending": 2}
    status, _ = _http("POST", fake_llm.url + "/_fake/queue", {"type": "bogus"})
    assert status == 400

    req = ChatRequest(messages=[Message(role="user", content="hello")], tools=[])
    assert client.complete(req).content == "via http"
    with pytest.raises(LLMServerError):
        client.complete(req)

    status, recorded = _http("GET", fake_llm.url + "/_fake/requests")
    assert status == 200 and len(recorded) == 2
    assert recorded[0]["path"] == "/v1/chat/completions"
    assert recorded[0]["body"]["messages"][0]["content"] == "hello"
    assert "content-type" in recorded[0]["headers"]

    _http("POST", fake_llm.url + "/_fake/queue", {"type": "text", "content": "dropped"})
    assert _http("POST", fake_llm.url + "/_fake/reset", {}) == (200, {"ok": True})
    assert fake_llm.requests == [] and fake_llm.pending() == 0


def test_http_control_embeddings_queue(fake_llm):
    status, _ = _http("POST", fake_llm.url + "/_fake/queue?endpoint=embeddings", {"type": "error", "status": 503})
    assert status == 200 and fake_llm.pending("embeddings") == 1
    status, _ = _http("POST", fake_llm.base_url + "/embeddings", {"model": "e", "input": "x"})
    assert status == 503


# --------------------------------------------------------------------------- demo responder


def test_demo_user_message_searches_archival(fake_llm, client):
    resp = client.complete(
        ChatRequest(
            messages=[Message(role="system", content="persona"), Message(role="user", content="What did I say about Rome?")],
            tools=TOOLS,
        )
    )
    (call,) = resp.tool_calls
    assert call.name == "archival_memory_search"
    assert json.loads(call.arguments) == {"query": "What did I say about Rome?", "request_heartbeat": True}
    assert resp.content  # an inner thought


def test_demo_unpacks_json_user_messages():
    packed = json.dumps({"type": "user_message", "message": "tell me about cats", "time": "now"})
    reply = demo_responder({"messages": [{"role": "user", "content": packed}], "tools": TOOLS})
    assert reply.spec["calls"][0]["arguments"]["query"] == "tell me about cats"


def test_demo_tool_result_is_quoted_in_send_message(fake_llm, client):
    result = json.dumps({"status": "OK", "message": "Rome is the capital of Italy. " * 30})
    history = [
        Message(role="user", content="Rome?"),
        Message(role="assistant", content="search", tool_calls=[ToolCall("call_1", "archival_memory_search", '{"query": "Rome?"}')]),
        Message(role="tool", content=result, tool_call_id="call_1"),
    ]
    resp = client.complete(ChatRequest(messages=history, tools=TOOLS))
    (call,) = resp.tool_calls
    assert call.name == "send_message"
    args = json.loads(call.arguments)
    assert set(args) == {"message"}  # this send_message schema has no request_heartbeat
    assert "Rome is the capital of Italy." in args["message"]
    assert len(args["message"]) < 360
    assert "archival_memory_search" in resp.content


def test_demo_after_send_message_ends_the_turn(fake_llm, client):
    history = [
        Message(role="user", content="hi"),
        Message(role="assistant", tool_calls=[ToolCall("call_2", "send_message", '{"message": "hello"}')]),
        Message(role="tool", content='{"status": "OK", "message": "None"}', tool_call_id="call_2"),
    ]
    resp = client.complete(ChatRequest(messages=history, tools=TOOLS))
    assert resp.tool_calls == [] and resp.content


def test_demo_heartbeat_looks_at_the_previous_tool_result():
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "archival_memory_search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "found: blue whales"},
        {"role": "user", "content": json.dumps({"type": "heartbeat", "reason": "request_heartbeat=true"})},
    ]
    reply = demo_responder({"messages": messages, "tools": TOOLS})
    call = reply.spec["calls"][0]
    assert call["name"] == "send_message" and "blue whales" in call["arguments"]["message"]


def test_demo_without_archival_tool_acknowledges(fake_llm, client):
    resp = client.complete(ChatRequest(messages=[Message(role="user", content="hello there")], tools=[TOOLS[0]]))
    (call,) = resp.tool_calls
    assert call.name == "send_message" and "hello there" in json.loads(call.arguments)["message"]


def test_demo_system_only_acknowledges():
    reply = demo_responder({"messages": [{"role": "system", "content": "boot"}], "tools": TOOLS})
    assert reply.spec["calls"][0]["name"] == "send_message"


def test_demo_without_tools_summarises(fake_llm, client):
    history = [
        Message(role="system", content="Summarise the following."),
        Message(role="user", content="I like tea. I drink it daily."),
        Message(role="assistant", content="Noted! Tea is great."),
    ]
    resp = client.complete(ChatRequest(messages=history, tools=[]))
    assert resp.tool_calls == []
    assert "I like tea." in resp.content and "Noted!" in resp.content
    assert "I drink it daily" not in resp.content


# --------------------------------------------------------------------------- embeddings endpoint


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_hashed_embedding_properties():
    a = hashed_embedding("the cat sat on the mat", 64)
    assert len(a) == 64 and math.isclose(math.sqrt(_cos(a, a)), 1.0, rel_tol=1e-9)
    assert a == hashed_embedding("The cat sat on the mat!", 64)
    similar = hashed_embedding("the cat sat on a mat", 64)
    other = hashed_embedding("quantum chromodynamics lecture notes", 64)
    assert _cos(a, similar) > _cos(a, other)
    assert len(hashed_embedding("", 16)) == 16


def test_embeddings_endpoint_float_base64_dimensions(fake_llm):
    status, body = _http("POST", fake_llm.base_url + "/embeddings", {"model": "e", "input": ["a b", "c"]})
    assert status == 200 and [d["index"] for d in body["data"]] == [0, 1]
    assert body["data"][0]["embedding"] == pytest.approx(hashed_embedding("a b", 64))
    status, body = _http("POST", fake_llm.base_url + "/embeddings", {"model": "e", "input": "a b", "encoding_format": "base64", "dimensions": 8})
    vec = struct.unpack("<8f", base64.b64decode(body["data"][0]["embedding"]))
    assert vec == pytest.approx(hashed_embedding("a b", 8), abs=1e-6)
    status, body = _http("POST", fake_llm.base_url + "/embeddings", {"model": "e", "input": []})
    assert status == 400


# --------------------------------------------------------------------------- CLI


def test_cli_serves_a_script(tmp_path):
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"type": "text", "content": "scripted"}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "memgpt.testing.fake_llm", "--port", "0", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + proc.stderr.read()
        base_url = line.split("listening on ")[1].split()[0]
        c = OpenAICompatibleClient(base_url, None, "fake-llm", max_retries=0)
        req = ChatRequest(messages=[Message(role="user", content="hi")], tools=[])
        assert c.complete(req).content == "scripted"
        assert c.complete(req).content.startswith("Summary")  # the demo responder after the script
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_cli_rejects_a_bad_script(tmp_path):
    script = tmp_path / "bad.json"
    script.write_text(json.dumps([{"type": "bogus"}]))
    out = subprocess.run(
        [sys.executable, "-m", "memgpt.testing.fake_llm", "--port", "0", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 2 and "cannot load script" in out.stderr


def test_demo_greets_a_user_who_connects_instead_of_searching():
    login = {"role": "user", "content": "[system event] The user has just connected. Greet them in your persona."}
    system = {"role": "system", "content": "persona...\n<human>\nName: Ada\n</human>"}
    reply = demo_responder({"messages": [system, login], "tools": TOOLS})
    (call,) = reply.spec["calls"]
    assert call["name"] == "send_message"
    assert call["arguments"]["message"].startswith("Hi Ada, good to see you!")
    anonymous = demo_responder({"messages": [login], "tools": TOOLS})
    assert anonymous.spec["calls"][0]["arguments"]["message"].startswith("Hi, good to see you!")
    other = demo_responder({"messages": [{"role": "user", "content": "[system event] Memory pressure: 80%"}],
                            "tools": TOOLS})
    assert other.spec["type"] == "text" and "Memory pressure" in other.spec["content"]


def test_demo_quotes_the_first_passage_of_a_search_result():
    found = json.dumps([{"timestamp": "t", "content": "Core memory is always in view."},
                        {"timestamp": "t", "content": "Recall memory holds every message."}])
    messages = [
        {"role": "user", "content": "what is core memory?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                               "function": {"name": "archival_memory_search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"showing results 1-2 (page 0) of 9 passages:\n{found}"},
    ]
    message = demo_responder({"messages": messages, "tools": TOOLS}).spec["calls"][0]["arguments"]["message"]
    assert message == 'Here is what I found: "Core memory is always in view."'
