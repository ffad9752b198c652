"""Whether a process still runs (free of prometheus_client: ``hub serve`` asks before importing it)."""

from __future__ import annotations

import os


def running(pid: int) -> bool:
    """Return whether process ``pid`` exists on this host (a reused id counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
