"""Shared pytest fixtures. Each section is owned by the module it serves."""

from __future__ import annotations

import pytest

# ---------------------------------------------------------------------------
# fake_llm: a scripted OpenAI-compatible server (memgpt.testing.fake_llm)
# ---------------------------------------------------------------------------


@pytest.fixture
def fake_llm():
    """A started :class:`memgpt.testing.fake_llm.FakeLLMServer` on an ephemeral port; stopped afterwards.

    Script it with ``fake_llm.queue(FakeReply...)``; point clients at ``fake_llm.base_url``.
    """
    from memgpt.testing.fake_llm import FakeLLMServer

    server = FakeLLMServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- end fake_llm
