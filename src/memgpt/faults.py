"""Fault-injection points for the fault suite (``tests/faults``).

``MEMGPT_FAULT_KILL=NAME`` makes the process SIGKILL itself when it reaches the
point ``NAME``: the suite uses it to stop a load or a step exactly between two
writes and then checks that nothing was lost or duplicated. Unset, a point costs
one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    if os.environ.get("MEMGPT_FAULT_KILL") == name:
        os.kill(os.getpid(), signal.SIGKILL)
