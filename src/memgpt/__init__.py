"""memgpt: stateful LLM agents that manage their own memory."""

__version__ = "0.1.0"

from memgpt.client import create_client  # noqa: E402 - cheap: the clients import their parts lazily

__all__ = ["__version__", "create_client"]
