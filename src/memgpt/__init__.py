"""memgpt: stateful LLM agents that manage their own memory."""

__version__ = "0.1.0"

__all__ = ["__version__", "create_client"]


def __getattr__(name: str):  # noqa: ANN202 - lazy, so `memgpt --help` imports nothing it does not need
    if name == "create_client":
        from memgpt.client import create_client

        return create_client
    raise AttributeError(f"module 'memgpt' has no attribute {name!r}")
