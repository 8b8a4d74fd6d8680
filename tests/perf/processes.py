"""Processes of benchmarks: resident memory from /proc, children, ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def memory_mb(pid: int) -> dict[str, float]:
    """Return VmRSS and VmHWM of a process in MB (empty once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v) / 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


def children(pid: int) -> list[int]:
    """Return the pids of a process's children."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Return a process and all its descendants (children, their children, ...)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children(current)
    return found


def cpu_seconds(pid: int) -> float | None:
    """Return a process's user + system CPU time so far (None once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proportional_mb(pid: int) -> float:
    """Return a process's proportional set size (PSS) in MB: its resident pages, each page
    shared with other processes counted in fractions, so a tree's sum counts it once."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


class TreeSampler(threading.Thread):
    """Record a process tree's highest total memory (PSS) and each member's CPU time.

    Worker processes a command starts (a pool, a fork server's children) are in neither
    its own peak RSS nor, unless it waited for them, its rusage: sampled here instead.
    Forked workers share their parent's pages: PSS counts each shared page once in the sum.
    """

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.halt = pid, every, threading.Event()
        self.peak_mb, self.cpu, self.most = 0.0, {}, 0

    def run(self) -> None:
        while not self.halt.is_set():
            members = descendants(self.pid)
            self.most = max(self.most, len(members))
            self.peak_mb = max(self.peak_mb, sum(proportional_mb(p) for p in members))
            for member in members:
                if (seconds := cpu_seconds(member)) is not None:
                    self.cpu[member] = seconds
            self.halt.wait(self.every)

    def stop(self) -> tuple[float, float, int]:
        """Stop sampling; return (peak total MB, CPU seconds of all members, most members)."""
        self.halt.set()
        self.join()
        return self.peak_mb, sum(self.cpu.values()), self.most


class HorseSampler(threading.Thread):
    """Record the highest VmHWM of each child of the RQ worker: its work horses."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peaks, self.halt = pid, {}, threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.02):
            for child in children(self.pid):
                peak = memory_mb(child).get("VmHWM", 0.0)
                self.peaks[child] = max(self.peaks.get(child, 0.0), peak)

    def stop(self) -> dict[int, float]:
        """Stop sampling; return the peaks of the children that have gone (one per job).

        RQ's scheduler is a child too, but it lives as long as the worker.
        """
        self.halt.set()
        self.join()
        lasting = set(children(self.pid))
        return {pid: peak for pid, peak in self.peaks.items() if pid not in lasting}


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait(condition, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll until condition() holds; fail the benchmark after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


def stop(process: subprocess.Popen, group: bool = False) -> None:
    """Stop a process (gunicorn: its whole process group) with SIGTERM, else SIGKILL."""
    kill = functools.partial(os.killpg, process.pid) if group else process.send_signal
    with contextlib.suppress(ProcessLookupError):
        kill(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill(signal.SIGKILL)
            process.wait()
