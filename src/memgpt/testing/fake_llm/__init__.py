"""A scripted OpenAI-compatible server for tests and keyless demos (stdlib only).

In-process, from a test::

    from memgpt.testing.fake_llm import FakeLLMServer, FakeReply

    with FakeLLMServer() as srv:               # port 0: an ephemeral port
        srv.queue(FakeReply.tool_call("send_message", {"message": "hi"}, content="greet the user"))
        client = OpenAICompatibleClient(srv.base_url, None, "fake-llm")   # http://127.0.0.1:PORT/v1
        ...
        assert srv.requests[0]["model"] == "fake-llm"   # the parsed JSON body
        assert srv.requests[0].path == "/v1/chat/completions"

From a shell (then point memgpt at ``http://127.0.0.1:8000/v1`` with any key)::

    python -m memgpt.testing.fake_llm --port 8000 [--script replies.json] [--embedding-dim 64]

Endpoints
    ``POST /v1/chat/completions``  the next scripted reply, or the demo responder
    ``GET  /v1/models``            the chat and embedding model names
    ``POST /v1/embeddings``        deterministic hashed bag-of-words vectors
                                   (``--embedding-dim``, default 64, unit length;
                                   texts sharing words are similar). Honours
                                   ``dimensions`` and ``encoding_format=base64``.
    ``POST /_fake/queue``          queue a reply spec (or a list); ``?endpoint=embeddings``
                                   scripts the embeddings endpoint instead of chat
    ``GET  /_fake/requests``       the recorded requests as JSON
    ``POST /_fake/reset``          forget queued replies and recorded requests
    any other route               404, unless scripted with :meth:`FakeLLMServer.route`
                                  (llama.cpp ``/props``, Ollama ``/api/show``, vLLM models)

Scripted replies
    ``server.queue(reply, ...)`` appends to a FIFO consumed one reply per
    request. A reply is a :class:`FakeReply`, its JSON spec (``{"type": ...}``,
    see :meth:`FakeReply.to_spec`), a plain string (a text reply) or a callable
    ``request_json -> reply`` (a responder that decides from what was sent).
    Helpers: :meth:`FakeReply.text`, :meth:`~FakeReply.tool_call`,
    :meth:`~FakeReply.tool_calls`, :meth:`~FakeReply.legacy_function_call`,
    :meth:`~FakeReply.raw_arguments` (arguments that are not valid JSON),
    :meth:`~FakeReply.error` (status, message, code, ``retry_after``),
    :meth:`~FakeReply.delay` (answer late, to trigger client timeouts),
    :meth:`~FakeReply.broken_body` (not JSON), :meth:`~FakeReply.empty_choices`,
    :meth:`~FakeReply.raw` (any body) and :meth:`~FakeReply.demo`.
    ``--script FILE`` queues a JSON list of specs at start-up (or an object
    ``{"chat": [...], "embeddings": [...]}``).

The demo responder (used when the queue is empty)
    It lets a person try an agent without any API key. It looks only at the
    request, never at how many requests came before:

    * no ``tools`` in the request (e.g. a summarisation call): a plain-text
      summary made of the first sentence of each message, truncated;
    * a runtime event (a user message starting ``[system event]``): the login
      event gets a greeting through ``send_message`` (by name when core memory
      holds ``Name: ...``); other events a plain-text note, ending the turn;
    * last message from the user: call ``archival_memory_search`` (if offered)
      with the user's text as the query and ``request_heartbeat: true``, with an
      inner thought in ``content``; if that tool is not offered, answer with
      ``send_message`` acknowledging the user;
    * last message is a tool result: an inner thought plus ``send_message``
      quoting the first ~300 characters of that result (of its first passage
      for a memory search result); if the result came
      from ``send_message`` itself, just an inner thought and no call, so the
      agent's turn ends;
    * anything else: ``send_message`` with an acknowledgement.

    User messages packed as JSON (``{"type": "user_message", "message": ...}``)
    are unpacked; a ``{"type": "heartbeat"}`` user message is treated like the
    tool result before it. Argument names follow the offered schemas
    (``request_heartbeat`` is only sent when the schema lists it or lists no
    properties at all).
"""

from memgpt.testing.fake_llm.demo import demo_responder
from memgpt.testing.fake_llm.replies import (
    FakeReply,
    RecordedRequest,
    Responder,
    hashed_embedding,
)
from memgpt.testing.fake_llm.server import FakeLLMServer

__all__ = ["FakeLLMServer", "FakeReply", "RecordedRequest", "Responder", "demo_responder", "hashed_embedding"]
