"""Use memgpt from Python: ``create_client()`` for the embedded defaults, or a server with a URL and key.

    from memgpt import create_client

    client = create_client()                                        # local: ~/.memgpt, Milvus Lite, SQLite
    client = create_client(base_url="http://127.0.0.1:8283", token="sk-memgpt-...")   # a memgpt server

Both return the same methods and the same typed models (``memgpt.service.models``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memgpt.client.base import Client


def create_client(base_url: str | None = None, token: str | None = None, *, home: str | Path | None = None,
                  timeout: float = 600.0) -> Client:
    """A local client (no ``base_url``) or a REST client for a ``memgpt server``."""
    if base_url:
        from memgpt.client.rest import RESTClient

        return RESTClient(base_url, token, timeout=timeout)
    from memgpt.client.local import LocalClient

    return LocalClient(Path(home) if home else None)


__all__ = ["create_client"]
