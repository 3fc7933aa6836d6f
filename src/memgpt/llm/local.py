"""Servers on the user's own machine or network: how to recognise them and what to ask them.

A model on a local CPU server can take minutes for one reply, its context
window is whatever the server was started with (llama.cpp's default is far
below the model's own), and a request abandoned by the client keeps the server
busy. So the client needs to know when the endpoint is local, and what window
the server really has:

* :func:`is_local_url` reads it from the host: ``localhost``, loopback,
  private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local, ``*.local``;
* :func:`probe_server` asks the server itself, each route answering quickly or
  not at all: llama.cpp ``GET /props`` (``n_ctx``), vLLM ``GET /v1/models``
  (``max_model_len``; ``owned_by`` also names llama.cpp and vLLM), Ollama
  ``POST /api/show`` (the model's ``context_length`` and any ``num_ctx``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("memgpt.llm")

LOCAL_PROVIDERS = ("ollama", "vllm", "lmstudio", "llamacpp")
# Ollama runs a model with a small window unless a request asks for more (num_ctx); this is what we ask for
# when the model allows it and the user set nothing.
OLLAMA_DEFAULT_NUM_CTX = 8192
_OWNERS = {"llamacpp": "llamacpp", "vllm": "vllm", "ollama": "ollama", "library": "ollama"}


def is_local_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine or a private network (so: no hosted API's timeouts)."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".localhost", ".internal")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


@dataclass
class ServerInfo:
    """What a server said about itself; ``None`` for whatever it did not say."""

    kind: str | None = None  # llamacpp | vllm | ollama
    context_window: int | None = None
    model_window: int | None = None  # the model's own (trained) window, when only that is known


def _root(base_url: str) -> str:
    return re.sub(r"/v1/?$", "", base_url.rstrip("/"))


def probe_server(base_url: str, api_key: str | None, model: str, *, timeout: float = 5.0,
                 provider: str | None = None) -> ServerInfo:
    """Ask the server at ``base_url`` what it is and what window it serves ``model`` with.

    Never raises: a route that is missing, slow or odd just tells nothing.
    """
    info = ServerInfo(kind=provider if provider in LOCAL_PROVIDERS else None)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = _root(base_url)

    def get_json(url: str, body: Any = None) -> Any:
        # the standard library: these probes must not depend on which HTTP package the SDK carries
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, headers={**headers, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read()) if r.status == 200 else None
        except (OSError, ValueError):  # URLError, HTTPError, timeouts, bad JSON
            return None

    _read_models(get_json(f"{base_url.rstrip('/')}/models"), model, info)
    if info.kind in (None, "llamacpp"):
        props = get_json(f"{root}/props")
        n_ctx = _int(_dig(props, "default_generation_settings", "n_ctx")) or _int(_dig(props, "n_ctx"))
        if n_ctx:
            info.kind, info.context_window = "llamacpp", n_ctx
    if info.kind == "ollama" or (info.kind is None and urlsplit(base_url).port == 11434):
        show = get_json(f"{root}/api/show", {"model": model})
        if isinstance(show, Mapping):
            info.kind = "ollama"
            _read_ollama_show(show, info)
    logger.info("server at %s: %s", base_url, info)
    return info


def server_kind_of_models(models: Any) -> str | None:
    """llamacpp / vllm / ollama when a ``/v1/models`` list's ``owned_by`` says so."""
    info = ServerInfo()
    _read_models(models, "", info)
    return info.kind


def _read_models(models: Any, model: str, info: ServerInfo) -> None:
    data = models.get("data") if isinstance(models, Mapping) else None
    if not isinstance(data, list):
        return
    entries = [d for d in data if isinstance(d, Mapping)]
    mine = next((d for d in entries if d.get("id") == model), entries[0] if len(entries) == 1 else None)
    for d in ([mine] if mine else []) + entries:
        kind = _OWNERS.get(str(d.get("owned_by", "")).lower())
        if kind:
            info.kind = info.kind or kind
            break
    if mine is not None:
        if _int(mine.get("max_model_len")):  # vLLM
            info.kind = info.kind or "vllm"
            info.context_window = _int(mine["max_model_len"])
        n_ctx = _int(_dig(mine, "meta", "n_ctx"))  # some llama.cpp builds
        if n_ctx:
            info.context_window = n_ctx


def _read_ollama_show(show: Mapping[str, Any], info: ServerInfo) -> None:
    model_info = show.get("model_info")
    if isinstance(model_info, Mapping):
        for key, value in model_info.items():
            if str(key).endswith(".context_length") and _int(value):
                info.model_window = _int(value)
    params = show.get("parameters")
    m = re.search(r"^\s*num_ctx\s+(\d+)", params, re.M) if isinstance(params, str) else None
    if m:
        info.context_window = int(m.group(1))


def _dig(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(k)
    return obj


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


_OVERFLOW_LIMITS = [
    r"context window of (\d+)",  # llama-cpp-python: "Requested tokens (9000) exceed context window of 8192"
    r"maximum context length is (\d+)",  # OpenAI, vLLM
    r"available context size \((\d+) tokens?\)",  # llama.cpp server
    r"\bn_ctx\D{0,12}(\d+)",  # llama.cpp "n_ctx_slot = 2048", Ollama
    r"context (?:length|size|window)(?: is| of)? (\d{3,})",
]


def overflow_limit(message: str | None) -> int | None:
    """The window size an overflow error reports, when it reports one."""
    for pattern in _OVERFLOW_LIMITS:
        m = re.search(pattern, message or "", re.I)
        if m:
            return int(m.group(1))
    return None


__all__ = ["LOCAL_PROVIDERS", "ServerInfo", "is_local_url", "overflow_limit", "probe_server",
           "server_kind_of_models"]
