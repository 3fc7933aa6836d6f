"""Errors that reach users.

Every error the CLI shows is a ``MemGPTError``: one line that names the thing
that went wrong and, in ``hint``, what fixes it. Anything else is a bug and
prints a traceback only under ``--debug``.

    MemGPTError
    ├── ConfigError            bad or missing configuration value
    ├── UsageError             a command was given wrong arguments (a slash command, an API call)
    ├── NotFoundError          a named source, agent, persona ... does not exist
    ├── InputFileError         a file cannot be read (missing, corrupt, encrypted, binary)
    ├── StorageError           a store cannot be opened or written
    │   ├── StorageLockedError Milvus Lite file held by another process
    │   ├── DiskFullError      a store's disk is full (ENOSPC)
    │   └── AgentConflictError another process saved the agent since this one read it
    ├── AgentBusyError         another process or request is stepping the same agent
    ├── EmbeddingMismatchError two embedding models meet on one collection/source/agent
    ├── EmbeddingError         the embedding model cannot be loaded or called
    └── LLMError               the LLM endpoint failed (see memgpt.llm.errors for kinds)
"""

from __future__ import annotations


class MemGPTError(Exception):
    """A failure with a one-line explanation and a fix."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(MemGPTError):
    exit_code = 2


class UsageError(MemGPTError):
    exit_code = 2


class NotFoundError(MemGPTError):
    exit_code = 3


class InputFileError(MemGPTError):
    exit_code = 4


class StorageError(MemGPTError):
    exit_code = 5


class StorageLockedError(StorageError):
    pass


class DiskFullError(StorageError):
    pass


class AgentConflictError(StorageError):
    pass


class AgentBusyError(MemGPTError):
    exit_code = 9


class EmbeddingMismatchError(MemGPTError):
    exit_code = 6

    @classmethod
    def check(cls, subject: str, have: tuple[str, int], other: str, want: tuple[str, int], hint: str) -> None:
        """Raise unless two (model id, dimension) pairs agree, naming both models."""
        if tuple(have) != tuple(want):
            raise cls(f"{subject} {have[0]} ({have[1]}-d) but {other} {want[0]} ({want[1]}-d)", hint)


class EmbeddingError(MemGPTError):
    exit_code = 7


class LLMError(MemGPTError):
    exit_code = 8
