"""Recognising local servers and the windows their errors report (memgpt.llm.local)."""

from __future__ import annotations

import pytest

from memgpt.llm.local import is_local_url, overflow_limit


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:8080/v1", True), ("http://localhost:11434/v1", True), ("http://[::1]:8000/v1", True),
    ("http://192.168.1.20:8000/v1", True), ("http://10.1.2.3/v1", True), ("http://172.20.0.2:8000/v1", True),
    ("http://gpu-box.local:8080/v1", True), ("https://api.openai.com/v1", False), ("http://8.8.8.8/v1", False),
    ("https://api.groq.com/openai/v1", False), (None, False),
])
def test_is_local_url(url: str | None, local: bool) -> None:
    assert is_local_url(url) is local


@pytest.mark.parametrize("message, limit", [
    ("Requested tokens (9000) exceed context window of 8192", 8192),  # llama-cpp-python
    ("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens", 4096),  # vLLM
    ("the request exceeds the available context size (2048 tokens), try increasing it", 2048),  # llama.cpp
    ("prompt is too long", None),
])
def test_overflow_limit(message: str, limit: int | None) -> None:
    assert overflow_limit(message) == limit
