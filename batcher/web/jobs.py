"""Sends, records and reconciles started on the page: `python -m batcher ...` in a child.

A child process keeps one code path with the CLI (pipeline.run, its journal lock, its rules)
and gives Stop the exact meaning of the first Ctrl-C: SIGINT makes the send layer stop taking
new batches and finish those in flight. The child runs in a session of its own, so a Ctrl-C
at the server's terminal reaches the server, which then stops its children the same way.

Live counts come from the campaign's journal (read-only, it never takes the lock), so the page
shows a send the CLI started just as well as its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batcher.errors import ExitCode, JournalError
from batcher.journal import Journal

LINES_KEPT = 400
STOP_WAIT = 60.0  # seconds the server waits for its sends to finish their requests in flight


@dataclass
class Job:
    """One child process of a campaign and what it printed."""

    kind: str  # send, records, reconcile
    name: str
    argv: list[str]
    journal: Path
    to_send: int = 0
    started: float = field(default_factory=time.monotonic)
    base_request: int = 0  # the journal's last request id before the send
    process: asyncio.subprocess.Process | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LINES_KEPT))
    returncode: int | None = None
    stopping: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        """True until the child has exited."""
        return self.returncode is None

    @property
    def state(self) -> str:
        """sending / stopping / done / stopped / failed (records and reconcile likewise)."""
        if self.running:
            return "stopping" if self.stopping else "running"
        if self.returncode == ExitCode.INTERRUPTED:
            return "stopped"
        if self.returncode in (ExitCode.OK, ExitCode.INCOMPLETE):
            return "done"
        return "failed"

    @property
    def error(self) -> str:
        """The child's `error: ...` lines (with their fix), if it ended with one."""
        kept, taking = [], False
        for line in self.lines:
            if line.startswith(("error:", "internal error:", "interrupted:")):
                kept, taking = [line], True
            elif taking and line.startswith("  "):
                kept.append(line)
            else:
                taking = False
        if not kept and self.state == "failed":
            kept = list(self.lines)[-3:]  # a crash before batcher could say why
        return "\n".join(kept)


class Jobs:
    """The children of this server, one at a time per campaign."""

    def __init__(self, environ: Mapping[str, str], cwd: Path) -> None:
        self.environ = dict(environ)
        self.cwd = cwd
        self.latest: dict[str, Job] = {}

    def running(self, name: str) -> Job | None:
        """The campaign's child still running, if any."""
        job = self.latest.get(name)
        return job if job is not None and job.running else None

    async def start(self, job: Job) -> Job:
        """Start the child; its output is read as it comes."""
        if self.running(job.name):
            raise RuntimeError(f"{job.name}: a {self.latest[job.name].kind} is running")
        if job.kind == "send":
            job.base_request = await asyncio.to_thread(_last_request, job.journal)
        self.latest[job.name] = job
        job.process = await asyncio.create_subprocess_exec(
            *job.argv,
            cwd=self.cwd,
            env=self.environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        asyncio.get_running_loop().create_task(self._follow(job))
        return job

    async def _follow(self, job: Job) -> None:
        assert job.process is not None
        await asyncio.gather(_lines(job.process.stdout, job), _lines(job.process.stderr, job))
        job.returncode = await job.process.wait()
        job.finished.set()

    def stop(self, name: str) -> bool:
        """The first Ctrl-C: no new batches, the requests in flight finish. False: none."""
        job = self.running(name)
        if job is None or job.process is None:
            return False
        job.stopping = True
        with contextlib.suppress(ProcessLookupError):
            job.process.send_signal(signal.SIGINT)
        return True

    async def shutdown(self) -> None:
        """Stop every child as Stop does, and wait for their requests in flight."""
        children = [job for job in self.latest.values() if job.running]
        for job in children:
            self.stop(job.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(j.finished.wait() for j in children)), STOP_WAIT
            )


async def _lines(stream: asyncio.StreamReader | None, job: Job) -> None:
    if stream is None:
        return
    async for raw in stream:
        job.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _last_request(journal: Path) -> int:
    if not journal.is_file():
        return 0
    with contextlib.closing(Journal(journal, readonly=True)) as opened:
        if opened.campaign is None:
            return 0
        requests = opened.requests()
        return requests[-1].id if requests else 0


def live_counts(journal: Path, job: Job | None) -> dict[str, object]:
    """What the campaign page shows while sending: this send's numbers per outcome,
    requests, rate and ETA, and the campaign's totals."""
    totals: Counter[str] = Counter()
    mine: Counter[str] = Counter()
    requests = mine_requests = 0
    base = job.base_request if job is not None and job.kind == "send" else None
    opened_journal = None
    if journal.is_file():
        try:
            opened_journal = Journal(journal, readonly=True)
        except JournalError:
            opened_journal = None  # a send creating it has not written its tables yet
    if opened_journal is not None:
        with contextlib.closing(opened_journal) as opened:
            if opened.campaign is not None:
                listed = opened.requests()
                # a request with neither outcome nor results is on the wire (its numbers
                # replay as unknown: true of a dead process's, not of a live send's)
                flying = {r.id for r in listed if r.outcome is None and r.results is None}
                for state in opened.number_states().values():
                    outcome = "in_flight" if state.request in flying else str(state.outcome)
                    totals[outcome] += 1
                    if base is not None and state.request > base:
                        mine[outcome] += 1
                requests = len(listed)
                mine_requests = sum(1 for r in listed if base is not None and r.id > base)
    answer: dict[str, object] = {"totals": dict(totals), "total_requests": requests}
    if job is None:
        return {**answer, "state": "idle"}
    done = sum(v for k, v in mine.items() if k not in ("not_sent", "in_flight"))
    elapsed = max(time.monotonic() - job.started, 1e-6)
    rate = done / elapsed if job.kind == "send" else 0.0
    left = max(job.to_send - done, 0)
    return {
        **answer,
        "kind": job.kind,
        "state": job.state,
        "to_send": job.to_send,
        "done": done,
        "accepted": mine["accepted"],
        "rejected": mine["rejected"],
        "unknown": mine["unknown"],
        "failed": mine["failed"],
        "in_flight": mine["in_flight"],
        "requests": mine_requests,
        "rate": round(rate, 1),
        "eta": round(left / rate) if rate and job.running else None,
        "exit_code": job.returncode,
        "error": job.error,
        "output": list(job.lines)[-30:],
    }


def child_environment(sandbox_credentials: tuple[str, str] | None) -> dict[str, str]:
    """The server's environment for the children (credentials reach them the CLI's ways:
    this environment, or --credentials), plus the sandbox's throw-away pair when serving it."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if sandbox_credentials is not None:
        env["BATCHER_API_KEY"], env["BATCHER_API_SECRET"] = sandbox_credentials
    return env
