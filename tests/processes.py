"""Ending the processes tests and benchmarks start. Killing one with everything it started, as
a crash would: an RQ worker forks a work horse with a process group of its own, so killing the
worker alone would leave it running (the crash tests and the benchmarks that kill workers
mid-run). Or stopping a server the way it expects (gunicorn, Kannel's boxes)."""
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


def kill_running(processes) -> None:
    """kill_tree each of `processes` that is still running."""
    for process in processes:
        if process.poll() is None:
            kill_tree(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's and Kannel's graceful shutdown); SIGKILL if that takes too long."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
