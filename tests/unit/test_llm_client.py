"""OpenAICompatibleClient over real HTTP against FakeLLMServer; providers; error classification."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from email.utils import formatdate

import pytest

from memgpt.errors import ConfigError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, LLMClient, Usage
from memgpt.llm.errors import (
    ContextWindowExceededError,
    LLMAuthError,
    LLMBadResponseError,
    LLMConnectionError,
    LLMRateLimitError,
    LLMRequestError,
    LLMServerError,
    LLMTimeoutError,
    error_from_status,
    is_context_overflow,
    parse_retry_after,
)
from memgpt.llm.openai_client import OpenAICompatibleClient, RetryPolicy
from memgpt.llm.providers import context_window_for, resolve_endpoint
from memgpt.schemas import Message, ToolCall
from memgpt.testing.fake_llm import FakeReply

SEND_MESSAGE = {
    "type": "function",
    "function": {
        "name": "send_message",
        "description": "Send a message to the user.",
        "parameters": {
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
    },
}


def _request(tools=None, **kw) -> ChatRequest:
    return ChatRequest(
        messages=[Message(role="system", content="You are helpful."), Message(role="user", content="hi there")],
        tools=[SEND_MESSAGE] if tools is None else tools,
        **kw,
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake_llm, sleeps) -> OpenAICompatibleClient:
    c = OpenAICompatibleClient(fake_llm.base_url, None, "gpt-4o", timeout=5.0, max_retries=4, sleep=sleeps.append)
    yield c
    c.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- happy paths


def test_plain_text_reply(client, fake_llm):
    fake_llm.queue(FakeReply.text("Hello, human."))
    resp = client.complete(_request())
    assert isinstance(resp, ChatResponse)
    assert resp.content == "Hello, human."
    assert resp.tool_calls == []
    assert resp.finish_reason == "stop"
    assert isinstance(resp.usage, Usage) and resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.raw_model == "gpt-4o"


def test_one_tool_call_with_inner_thought(client, fake_llm):
    fake_llm.queue(FakeReply.tool_call("send_message", {"message": "hi"}, content="greet them"))
    resp = client.complete(_request())
    assert resp.content == "greet them"
    assert len(resp.tool_calls) == 1
    call = resp.tool_calls[0]
    assert call.name == "send_message" and json.loads(call.arguments) == {"message": "hi"}
    assert call.id
    assert resp.finish_reason == "tool_calls"
    msg = resp.to_message()
    assert msg.role == "assistant" and msg.tool_calls == resp.tool_calls


def test_several_tool_calls(client, fake_llm):
    fake_llm.queue(
        FakeReply.tool_calls(
            [("core_memory_append", {"label": "human", "content": "likes tea"}), ("send_message", {"message": "ok"})]
        )
    )
    resp = client.complete(_request())
    assert [c.name for c in resp.tool_calls] == ["core_memory_append", "send_message"]
    assert len({c.id for c in resp.tool_calls}) == 2
    assert resp.content is None


def test_legacy_function_call_becomes_tool_call(client, fake_llm):
    fake_llm.queue(FakeReply.legacy_function_call("send_message", {"message": "old style"}, content="thinking"))
    resp = client.complete(_request())
    assert len(resp.tool_calls) == 1
    call = resp.tool_calls[0]
    assert call.name == "send_message" and json.loads(call.arguments) == {"message": "old style"}
    assert call.id.startswith("call_")
    assert resp.content == "thinking"


def test_broken_json_arguments_are_kept_raw(client, fake_llm):
    fake_llm.queue(FakeReply.raw_arguments("send_message", '{"message": "hi"'))
    resp = client.complete(_request())
    assert resp.tool_calls[0].arguments == '{"message": "hi"'


def test_odd_but_valid_replies(client, fake_llm):
    """Empty content, content parts, object arguments, missing ids, missing usage."""
    body = {
        "id": "x",
        "model": "served-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"type": "function", "function": {"name": "send_message", "arguments": {"message": "obj"}}},
                        {"id": "", "type": "function", "function": {"name": "pause", "arguments": None}},
                    ],
                },
            }
        ],
    }
    fake_llm.queue(FakeReply.raw(body))
    resp = client.complete(_request())
    assert resp.content is None
    assert resp.usage is None
    assert resp.raw_model == "served-model"
    assert json.loads(resp.tool_calls[0].arguments) == {"message": "obj"}
    assert resp.tool_calls[1].arguments == "{}"
    assert all(c.id.startswith("call_") for c in resp.tool_calls)

    parts = {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}
    fake_llm.queue(FakeReply.raw(parts))
    assert client.complete(_request()).content == "ab"


def test_text_without_usage(client, fake_llm):
    fake_llm.queue(FakeReply.text("no usage", usage=False))
    resp = client.complete(_request())
    assert resp.content == "no usage" and resp.usage is None


def test_request_body_carries_model_messages_tools(client, fake_llm):
    fake_llm.queue(FakeReply.text("ok"))
    history = [
        Message(role="system", content="sys"),
        Message(role="user", content="hello"),
        Message(role="assistant", content="thought", tool_calls=[ToolCall("call_1", "send_message", '{"message": "x"}')]),
        Message(role="tool", content='{"status": "OK"}', tool_call_id="call_1"),
    ]
    client.complete(ChatRequest(messages=history, tools=[SEND_MESSAGE], temperature=0.2, max_tokens=128))
    (sent,) = fake_llm.chat_requests
    assert sent.path == "/v1/chat/completions" and sent.method == "POST"
    assert sent["model"] == "gpt-4o"
    assert sent["messages"] == [m.to_openai() for m in history]
    assert sent["tools"] == [SEND_MESSAGE]
    assert sent["tool_choice"] == "auto"
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 128
    assert sent.headers["authorization"] == "Bearer not-needed"


def test_empty_tools_sends_no_tools_param(client, fake_llm):
    fake_llm.queue(FakeReply.text("summary"))
    client.complete(_request(tools=[]))
    sent = fake_llm.chat_requests[0]
    assert "tools" not in sent and "tool_choice" not in sent
    assert "temperature" not in sent and "max_tokens" not in sent


def test_reasoning_models_use_max_completion_tokens(fake_llm):
    c = OpenAICompatibleClient(fake_llm.base_url, "sk-x", "o3-mini", max_retries=0)
    fake_llm.queue(FakeReply.text("ok"))
    c.complete(_request(temperature=0.5, max_tokens=50))
    sent = fake_llm.chat_requests[0]
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent and "temperature" not in sent
    assert sent.headers["authorization"] == "Bearer sk-x"


def test_api_key_and_extra_headers_are_sent(fake_llm):
    fake_llm.api_key = "sk-right"
    good = OpenAICompatibleClient(fake_llm.base_url, "sk-right", "m", extra_headers={"X-Title": "memgpt"})
    fake_llm.queue(FakeReply.text("ok"))
    assert good.complete(_request()).content == "ok"
    assert fake_llm.requests[-1].headers["x-title"] == "memgpt"

    bad = OpenAICompatibleClient(fake_llm.base_url, "sk-wrong", "m", sleep=lambda s: None)
    with pytest.raises(LLMAuthError):
        bad.complete(_request())


def test_context_window_defaults_from_table(fake_llm):
    assert OpenAICompatibleClient(fake_llm.base_url, None, "gpt-4").context_window == 8192
    assert OpenAICompatibleClient(fake_llm.base_url, None, "gpt-4", context_window=1000).context_window == 1000


def test_client_satisfies_protocol(client):
    assert isinstance(client, LLMClient)


# --------------------------------------------------------------------------- retries


def test_500_500_then_success(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(500), FakeReply.error(502), FakeReply.text("finally"))
    resp = client.complete(_request())
    assert resp.content == "finally"
    assert len(fake_llm.chat_requests) == 3
    assert len(sleeps) == 2
    policy = RetryPolicy()
    assert policy.base_delay * 0.75 <= sleeps[0] <= policy.base_delay * 1.25
    assert 2 * policy.base_delay * 0.75 <= sleeps[1] <= 2 * policy.base_delay * 1.25


def test_429_honours_retry_after(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(429, retry_after=1), FakeReply.text("ok"))
    assert client.complete(_request()).content == "ok"
    assert sleeps == [1.0]
    assert len(fake_llm.chat_requests) == 2


def test_retry_after_ms_and_cap(client, fake_llm, sleeps):
    fake_llm.queue(
        FakeReply.error(503, retry_after_ms=250),
        FakeReply.error(429, retry_after=3600),
        FakeReply.text("ok"),
    )
    assert client.complete(_request()).content == "ok"
    assert sleeps == [0.25, RetryPolicy().max_retry_after]


def test_gives_up_after_max_retries(fake_llm, sleeps):
    c = OpenAICompatibleClient(fake_llm.base_url, None, "m", max_retries=2, sleep=sleeps.append)
    fake_llm.queue(*[FakeReply.error(500, message="boom")] * 3, FakeReply.text("never"))
    with pytest.raises(LLMServerError) as info:
        c.complete(_request())
    assert len(fake_llm.chat_requests) == 3 and len(sleeps) == 2
    assert "boom" in info.value.message and "3 attempts" in info.value.message
    assert info.value.status_code == 500
    assert fake_llm.pending() == 1


def test_quota_exhausted_429_is_not_retried(client, fake_llm):
    fake_llm.queue(FakeReply.error(429, message="You exceeded your current quota", code="insufficient_quota"))
    with pytest.raises(LLMRateLimitError) as info:
        client.complete(_request())
    assert len(fake_llm.chat_requests) == 1
    assert "billing" in info.value.hint


def test_401_is_auth_error_with_env_var_hint(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(401, message="Incorrect API key provided", code="invalid_api_key"))
    with pytest.raises(LLMAuthError) as info:
        client.complete(_request())
    err = info.value
    assert isinstance(err, LLMError)
    assert "OPENAI_API_KEY" in err.hint and "memgpt configure" in err.hint
    assert fake_llm.base_url in err.message
    assert len(fake_llm.chat_requests) == 1 and sleeps == []


def test_403_is_auth_error(client, fake_llm):
    fake_llm.queue(FakeReply.error(403, message="not allowed"))
    with pytest.raises(LLMAuthError):
        client.complete(_request())


def test_key_hint_from_endpoint(fake_llm):
    ep = resolve_endpoint("groq", fake_llm.base_url, "gsk-x", env={})
    c = OpenAICompatibleClient.from_endpoint(ep, "llama-3.1-8b-instant", max_retries=0)
    assert c.context_window == 131072
    fake_llm.queue(FakeReply.error(401))
    with pytest.raises(LLMAuthError) as info:
        c.complete(_request())
    assert "GROQ_API_KEY" in info.value.hint


def test_context_length_400(client, fake_llm):
    fake_llm.queue(
        FakeReply.error(
            400,
            message="This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            code="context_length_exceeded",
        )
    )
    with pytest.raises(ContextWindowExceededError) as info:
        client.complete(_request())
    assert "8192" in info.value.message
    assert len(fake_llm.chat_requests) == 1


def test_other_4xx_not_retried(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(400, message="Invalid value for 'tool_choice'"), FakeReply.text("unused"))
    with pytest.raises(LLMRequestError) as info:
        client.complete(_request())
    assert "tool_choice" in info.value.message
    assert len(fake_llm.chat_requests) == 1 and fake_llm.pending() == 1 and sleeps == []


def test_404_hints_at_model_and_url(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(404, message="model 'nope' not found"))
    with pytest.raises(LLMRequestError) as info:
        client.complete(_request())
    assert "nope" in info.value.message and "/v1" in info.value.hint
    assert len(fake_llm.chat_requests) == 1 and sleeps == []


def test_408_is_retried(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.error(408), FakeReply.text("ok"))
    assert client.complete(_request()).content == "ok"
    assert len(sleeps) == 1


def test_timeout_after_retries(fake_llm, sleeps):
    c = OpenAICompatibleClient(fake_llm.base_url, None, "m", timeout=0.3, max_retries=1, sleep=sleeps.append)
    fake_llm.queue(FakeReply.delay(3, then=FakeReply.text("late")), FakeReply.delay(3, then=FakeReply.text("late")))
    with pytest.raises(LLMTimeoutError) as info:
        c.complete(_request())
    assert len(fake_llm.chat_requests) == 2 and len(sleeps) == 1
    assert "0.3" in info.value.message and fake_llm.base_url in info.value.message


def test_connection_refused_names_url(sleeps):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    c = OpenAICompatibleClient(url, None, "m", timeout=2, max_retries=1, sleep=sleeps.append)
    with pytest.raises(LLMConnectionError) as info:
        c.complete(_request())
    assert url in info.value.message
    assert len(sleeps) == 1
    assert info.value.hint


@pytest.mark.parametrize(
    "reply",
    [FakeReply.empty_choices(), FakeReply.broken_body(), FakeReply.raw("<html>502 Bad Gateway</html>"), FakeReply.raw([1, 2])],
    ids=["empty-choices", "broken-json", "html", "json-array"],
)
def test_bad_bodies(client, fake_llm, sleeps, reply):
    fake_llm.queue(reply)
    with pytest.raises(LLMBadResponseError) as info:
        client.complete(_request())
    assert fake_llm.base_url in info.value.message
    assert len(fake_llm.chat_requests) == 1 and sleeps == []


def test_error_object_inside_200(client, fake_llm, sleeps):
    fake_llm.queue(
        FakeReply.raw({"error": {"code": 503, "message": "upstream overloaded"}}),
        FakeReply.text("ok"),
    )
    assert client.complete(_request()).content == "ok"
    assert len(sleeps) == 1
    fake_llm.queue(FakeReply.raw({"error": {"message": "prompt is too long: 300000 tokens > 200000 maximum"}}))
    with pytest.raises(ContextWindowExceededError):
        client.complete(_request())


def test_module_import_does_not_import_openai():
    code = "import sys, memgpt.llm.openai_client, memgpt.embeddings.openai_compat; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- llama-cpp-python, as recorded
# Bodies recorded from llama-cpp-python 0.3.x (`python -m llama_cpp.server --chat_format chatml-function-calling`).

LLAMACPP_TOOL_CALL_REPLY = '{"id":"chatcmpl-5966edce-291c-4e4d-8bed-f09f1b6f2976","object":"chat.completion","created":1795471438,"model":"tiny","choices":[{"index":0,"message":{"content":null,"tool_calls":[{"id":"call__0_send_message_cmpl-5966edce-291c-4e4d-8bed-f09f1b6f2976","type":"function","function":{"name":"send_message","arguments":"{\\"message\\" :\\"\\u0107y3\\u073c?\\u0018u\\ud9bc\\udfaeve \\u001bi="}}],"role":"assistant","function_call":{"name":"send_message","arguments":"{\\"message\\" :\\"\\u0107y3\\u073c?\\u0018u\\ud9bc\\udfaeve \\u001bi="}},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":690,"completion_tokens":32,"total_tokens":722}}'
LLAMACPP_NULL_CONTENT_500 = '{"error":{"message":"7 validation errors:\\n  {\'type\': \'literal_error\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestSystemMessage\', \'role\'), \'msg\': \\"Input should be \'system\'\\", \'input\': \'assistant\', \'ctx\': {\'expected\': \\"\'system\'\\"}}\\n  {\'type\': \'literal_error\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestUserMessage\', \'role\'), \'msg\': \\"Input should be \'user\'\\", \'input\': \'assistant\', \'ctx\': {\'expected\': \\"\'user\'\\"}}\\n  {\'type\': \'string_type\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestAssistantMessage\', \'content\'), \'msg\': \'Input should be a valid string\', \'input\': None}\\n  {\'type\': \'literal_error\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestToolMessage\', \'role\'), \'msg\': \\"Input should be \'tool\'\\", \'input\': \'assistant\', \'ctx\': {\'expected\': \\"\'tool\'\\"}}\\n  {\'type\': \'missing\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestToolMessage\', \'tool_call_id\'), \'msg\': \'Field required\', \'input\': {\'role\': \'assistant\', \'content\': None, \'tool_calls\': [{\'id\': \'call__0_send_message_x\', \'type\': \'function\', \'function\': {\'name\': \'send_message\', \'arguments\': \'{\\"message\\":\\"h\\\\x18i\\\\u0590 \\\\\\\\\\"unterminated\'}}]}}\\n  {\'type\': \'literal_error\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestFunctionMessage\', \'role\'), \'msg\': \\"Input should be \'function\'\\", \'input\': \'assistant\', \'ctx\': {\'expected\': \\"\'function\'\\"}}\\n  {\'type\': \'missing\', \'loc\': (\'body\', \'messages\', 2, \'ChatCompletionRequestFunctionMessage\', \'name\'), \'msg\': \'Field required\', \'input\': {\'role\': \'assistant\', \'content\': None, \'tool_calls\': [{\'id\': \'call__0_send_message_x\', \'type\': \'function\', \'function\': {\'name\': \'send_message\', \'arguments\': \'{\\"message\\":\\"h\\\\x18i\\\\u0590 \\\\\\\\\\"unterminated\'}}]}}\\n\\n  File \\"/tmp/llamavenv/lib/python3.11/site-packages/llama_cpp/server/app.py\\", line 376, in create_chat_completion\\n    POST /v1/chat/completions","type":"internal_server_error","param":null,"code":null}}'
LLAMACPP_CONTEXT_400 = '{"error":{"message":"This model\'s maximum context length is 2048 tokens. However, you requested 3575 tokens (3575 in the messages, None in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}'


def _llamacpp_responder(request):
    """Answers like llama-cpp-python: an assistant message with "content": null fails its request validation."""
    if any(m.get("role") == "assistant" and m.get("content") is None for m in request["messages"]):
        return FakeReply.raw(LLAMACPP_NULL_CONTENT_500, status=500)
    return FakeReply.text("ok")


def test_llamacpp_tool_call_round_trip(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.raw(LLAMACPP_TOOL_CALL_REPLY))
    first = client.complete(_request())
    assert first.content is None and first.finish_reason == "tool_calls"
    (call,) = first.tool_calls  # the duplicate legacy "function_call" is not a second call
    assert call.id == "call__0_send_message_cmpl-5966edce-291c-4e4d-8bed-f09f1b6f2976"
    assert call.name == "send_message" and call.arguments.startswith('{"message" :"')
    history = [*_request().messages, first.to_message(),
               Message(role="tool", name="send_message", tool_call_id=call.id, content='{"status": "OK"}')]
    fake_llm.queue(FakeReply.respond(_llamacpp_responder))
    assert client.complete(ChatRequest(messages=history, tools=[SEND_MESSAGE])).content == "ok"
    sent = fake_llm.chat_requests[-1]["messages"][2]
    assert sent["role"] == "assistant" and sent["content"] == "" and sent["tool_calls"][0]["id"] == call.id
    assert sleeps == []


def test_llamacpp_context_overflow_400(client, fake_llm, sleeps):
    fake_llm.queue(FakeReply.raw(LLAMACPP_CONTEXT_400, status=400))
    with pytest.raises(ContextWindowExceededError) as info:
        client.complete(_request())
    assert "maximum context length is 2048 tokens" in info.value.message and info.value.status_code == 400
    assert len(fake_llm.chat_requests) == 1 and sleeps == []


# --------------------------------------------------------------------------- classification helpers


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens",  # OpenAI / vLLM
        "the request exceeds the available context size, try increasing it",  # llama.cpp
        "input length exceeds the context length",  # Ollama
        "Requested tokens (5000) exceed context window of 4096",  # llama-cpp-python
        "Trying to keep the first 5000 tokens when context the overflows. However, the model is loaded with context length of only 4096 tokens",  # LM Studio
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",  # TGI
        "Please reduce the length of the messages or completion.",  # Groq
        "prompt is too long: 210000 tokens > 200000 maximum",
    ],
)
def test_context_overflow_messages(message):
    assert is_context_overflow(message)
    assert isinstance(error_from_status(400, {"error": {"message": message}}, endpoint="u"), ContextWindowExceededError)


def test_non_context_messages():
    assert not is_context_overflow("Invalid value for 'temperature'")
    assert not is_context_overflow(None)
    assert is_context_overflow("", code="context_length_exceeded")


def test_error_body_shapes():
    for body in ['{"detail": "bad thing"}', '{"error": "bad thing"}', '{"message": "bad thing"}', "bad thing"]:
        err = error_from_status(422, body, endpoint="http://x/v1")
        assert "bad thing" in err.message and isinstance(err, LLMRequestError)
    err = error_from_status(500, "line one\n\n   line two", endpoint="http://x/v1")
    assert "\n" not in err.message and "line one line two" in err.message


def test_parse_retry_after():
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "300", "retry-after": "9"}) == 0.3
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0.0


def test_retry_policy_delays():
    p = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0, max_retry_after=10.0)
    assert [p.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert p.delay(0, retry_after=3) == 3.0 and p.delay(0, retry_after=99) == 10.0
    j = RetryPolicy(base_delay=1.0, jitter=0.5)
    assert j.delay(0, rand=lambda: 0.0) == 0.5 and j.delay(0, rand=lambda: 1.0) == 1.5


# --------------------------------------------------------------------------- providers


def test_provider_defaults():
    ep = resolve_endpoint("ollama", env={})
    assert ep.base_url == "http://localhost:11434/v1" and ep.api_key is None
    assert resolve_endpoint("vllm", env={}).base_url == "http://localhost:8000/v1"
    assert resolve_endpoint("lmstudio", env={}).base_url == "http://localhost:1234/v1"
    assert resolve_endpoint("llama.cpp", env={}).base_url == "http://localhost:8080/v1"
    assert resolve_endpoint("openai", api_key="sk-1", env={}).base_url == "https://api.openai.com/v1"


def test_endpoint_unpacks_and_aliases():
    base_url, api_key = resolve_endpoint("openai-compatible", "http://127.0.0.1:8000/v1", None, env={})
    assert (base_url, api_key) == ("http://127.0.0.1:8000/v1", None)
    assert resolve_endpoint("LM-Studio", env={}).provider == "lmstudio"
    assert resolve_endpoint("tei", env={}).base_url == "http://localhost:8080/v1"


def test_precedence_explicit_config_env_default():
    env = {"OPENAI_API_KEY": "env-key", "OPENAI_BASE_URL": "http://env:1/v1"}
    ep = resolve_endpoint("openai", "http://arg:1/v1", "arg-key", config_base_url="http://cfg:1/v1", config_api_key="cfg-key", env=env)
    assert (ep.base_url, ep.api_key) == ("http://arg:1/v1", "arg-key")
    ep = resolve_endpoint("openai", None, None, config_base_url="http://cfg:1/v1", config_api_key="cfg-key", env=env)
    assert (ep.base_url, ep.api_key) == ("http://cfg:1/v1", "cfg-key")
    ep = resolve_endpoint("openai", None, None, env=env)
    assert (ep.base_url, ep.api_key) == ("http://env:1/v1", "env-key")
    ep = resolve_endpoint("openai", None, None, env={"OPENAI_API_KEY": "k"})
    assert ep.base_url == "https://api.openai.com/v1"


def test_missing_key_is_config_error():
    with pytest.raises(ConfigError) as info:
        resolve_endpoint("openai", env={})
    assert "export OPENAI_API_KEY=" in info.value.hint and "memgpt configure" in info.value.hint
    with pytest.raises(ConfigError) as info:
        resolve_endpoint("groq", env={"OPENAI_API_KEY": "sk-not-for-groq"})
    assert "GROQ_API_KEY" in info.value.hint


def test_openai_key_not_needed_for_a_local_url():
    ep = resolve_endpoint("openai", env={"OPENAI_BASE_URL": "http://127.0.0.1:9999/v1"})
    assert ep.api_key is None and ep.base_url == "http://127.0.0.1:9999/v1"


def test_keys_do_not_leak_across_providers():
    assert resolve_endpoint("ollama", env={"OPENAI_API_KEY": "sk-secret"}).api_key is None


def test_azure_and_custom_need_an_endpoint():
    with pytest.raises(ConfigError) as info:
        resolve_endpoint("azure", api_key="k", env={})
    assert "AZURE_OPENAI_ENDPOINT" in info.value.hint
    ep = resolve_endpoint("azure", env={"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/", "AZURE_OPENAI_API_KEY": "k"})
    assert ep.base_url == "https://res.openai.azure.com/openai/v1" and ep.api_key == "k"
    with pytest.raises(ConfigError):
        resolve_endpoint("custom", env={})


def test_url_normalisation_and_bad_values():
    assert resolve_endpoint("custom", "http://localhost:8000/", env={}).base_url == "http://localhost:8000/v1"
    assert resolve_endpoint("custom", "http://h/api/v1/", env={}).base_url == "http://h/api/v1"
    with pytest.raises(ConfigError):
        resolve_endpoint("custom", "localhost:8000", env={})
    with pytest.raises(ConfigError) as info:
        resolve_endpoint("nonsense", env={})
    assert "ollama" in info.value.hint


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128000),
        ("gpt-4o-mini-2024-07-18", 128000),
        ("openai/gpt-4o", 128000),
        ("gpt-4.1-mini", 1047576),
        ("gpt-4-turbo-preview", 128000),
        ("gpt-4", 8192),
        ("gpt-4-0613", 8192),
        ("gpt-3.5-turbo", 16385),
        ("o1-mini", 128000),
        ("o4-mini", 200000),
        ("llama3:8b", 8192),
        ("llama3.1:70b", 131072),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", 131072),
        ("llama-3.3-70b-versatile", 131072),
        ("mistral:7b", 32768),
        ("mixtral-8x7b-32768", 32768),
        ("qwen2.5:7b-instruct", 32768),
        ("phi3", 4096),
        ("gemma2:9b", 8192),
        ("deepseek-chat", 65536),
        ("ft:gpt-4o-mini:acme::abc123", 128000),
        ("totally-unknown-model", 8192),
        ("", 8192),
    ],
)
def test_context_window_for(model, window):
    assert context_window_for(model) == window
