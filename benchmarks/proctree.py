"""Sample a process tree from /proc: peak of its summed memory, CPU seconds of its members.

GNU time reports the largest single process and only the CPU of children it waited for. A
program that works in a pool of processes (batcher's plan stage uses a forkserver pool) needs
the whole tree: `with TreeSampler(pid) as tree: ...`, then tree.peak_mb and tree.cpu_s.
Memory is PSS (shared pages split between their sharers, so forked workers are not counted
twice), from /proc/PID/smaps_rollup, else RSS. Linux only; elsewhere the figures stay 0.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_KB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024


def _stat(pid: str) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds, start time) of one process, None when it is gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the name in parentheses may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, fields[19]


def _memory_kb(pid: int) -> int:
    """PSS of one process in kB (RSS where smaps_rollup cannot be read), 0 when it is gone."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return 0


class TreeSampler:
    """A thread that samples the tree under `root` every `interval` seconds until closed."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root, self.interval = root, interval
        self.peak_kb = 0
        self.most_processes = 0
        self._cpu: dict[tuple[int, str], float] = {}  # (pid, start time): last CPU seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    @property
    def peak_mb(self) -> float:
        """The largest summed memory of the tree seen, in MB."""
        return self.peak_kb / 1024

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every member seen (a member's last ~interval may be missed)."""
        return sum(self._cpu.values())

    def __enter__(self) -> TreeSampler:
        if PROC.is_dir():
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        """Walk /proc once: add up the tree's memory, note each member's CPU."""
        children: dict[int, list[int]] = {}
        info: dict[int, tuple[float, str]] = {}
        for entry in os.scandir(PROC):
            if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
                parent, cpu, start = stat
                children.setdefault(parent, []).append(int(entry.name))
                info[int(entry.name)] = (cpu, start)
        members, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            if pid in info:
                members.append(pid)
                todo.extend(children.get(pid, ()))
        total = sum(_memory_kb(pid) for pid in members)
        self.peak_kb = max(self.peak_kb, total)
        self.most_processes = max(self.most_processes, len(members))
        for pid in members:
            cpu, start = info[pid]
            self._cpu[(pid, start)] = cpu
