"""The service layer every face calls: see :mod:`memgpt.service.core`."""

from memgpt.service.core import Service
from memgpt.service.session import AgentSession

__all__ = ["AgentSession", "Service"]
