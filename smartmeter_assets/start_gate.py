"""A process made ready before it may start: it waits for its start file.

``smartmeter run`` starts its helper processes (the stream's run, the meter-day detector's) before
their work can begin, so their imports and definitions (seconds of one core) are made while the
parent is busy with one core only; the parent writes the start file when their input is there.
"""

from __future__ import annotations

import time
from pathlib import Path

#: How often a prepared process looks for its start file.
START_POLL_SECONDS = 0.1


def wait_for(start_file: Path) -> None:
    """Block until ``start_file`` exists (the parent stops this process if it never will)."""
    while not start_file.exists():
        time.sleep(START_POLL_SECONDS)
