"""Killing a process with everything it started, as a crash would: an RQ worker forks a work
horse with a process group of its own, so killing the worker alone would leave it running.
Used by the crash tests and the benchmarks that kill workers mid-run."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL `process` and all its descendants, then reap it."""
    for pid in [*descendants(process.pid), process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
