"""memgpt: stateful LLM agents with self-managed, tiered memory (Milvus archival storage)."""

__version__ = "0.1.0"
