"""Sends, records and reconciles started on the page: `python -m batcher ...` in a child.

A child process keeps one code path with the CLI (pipeline.run, its journal lock, its rules)
and gives Stop the exact meaning of the first Ctrl-C: SIGINT makes the send layer stop taking
new batches and finish those in flight. The child runs in a session of its own, so a Ctrl-C
at the server's terminal reaches the server, which then stops its children the same way.

One send per campaign: `claim` is taken before anything is awaited (simultaneous presses meet
in the event loop: one wins), then the journal's lock is taken here and handed to the child
(batcher.journal.file.LOCK_FD), so the 202 stands for a lock already held. A lock another
process holds is a send (or records, reconcile, test call) from the command line, or from an
earlier serve: found by the pid its holder writes beside the journal, watched like our own
and stopped by SIGINT to that pid.

A child dies with the server (BATCHER_DIE_WITH: PR_SET_PDEATHSIG, SIGINT): a send must not go
on calling people with no page to watch or stop it. Re-attaching after a restart would leave it
unwatched for as long as no serve runs, maybe for good; dying as on Ctrl-C loses nothing (the
requests in flight finish and are journaled; the next send resumes it).

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batcher.errors import ExitCode, JournalBusy, JournalError
from batcher.journal import Journal
from batcher.journal.file import LOCK_FD, holder, take_lock
from batcher.journal.journal import initialise
from batcher.settings import HistoryLocation
from batcher.web.overview import whole_campaign

DIE_WITH = "BATCHER_DIE_WITH"  # batcher.cli: the child dies (SIGINT) with this server
COMMANDS = ("run", "records", "reconcile", "test-call")
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
    pid: int | None = None  # a process this server did not start, holding the journal

    @property
    def outside(self) -> bool:
        """Started elsewhere: the command line, or a serve that has gone since."""
        return self.pid is not None

    @property
    def running(self) -> bool:
        """True until the child has exited (an outside process: while it holds the journal)."""
        if self.pid is not None and self.returncode is None and holder(self.journal) != self.pid:
            self.returncode = ExitCode.OK  # its own status is its parent's to know
            self.finished.set()
        return self.returncode is None

    @property
    def started_by(self) -> str:
        """Who started it, for a 409 and the page."""
        if self.pid is None:
            return "this page"
        return f"the command line (process {self.pid})"

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

    def __init__(
        self,
        environ: Mapping[str, str],
        cwd: Path,
        journal_of: Callable[[str], Path] | None = None,
    ) -> None:
        self.environ = dict(environ)
        self.cwd = cwd
        self.journal_of = journal_of
        self.latest: dict[str, Job] = {}
        self.claimed: set[str] = set()

    def running(self, name: str) -> Job | None:
        """What is running for the campaign, if anything: our child, or a process of the
        command line holding its journal."""
        job = self.latest_of(name)
        return job if job is not None and job.running else None

    def latest_of(self, name: str) -> Job | None:
        """The campaign's latest job: running (ours or another process's), or the last ended."""
        job = self.latest.get(name)
        if job is not None and job.running:
            return job
        journal = self._journal(name)
        pid = holder(journal) if journal is not None else None
        if journal is None or pid is None:
            return job
        outside = Job(_kind_of(pid), name, [], journal, pid=pid)
        outside.base_request = _last_request(journal)
        self.latest[name] = outside
        return outside

    def _journal(self, name: str) -> Path | None:
        if self.journal_of is None:
            return None
        try:
            return self.journal_of(name)
        except (KeyError, OSError, ValueError):
            return None

    @contextlib.contextmanager
    def claim(self, name: str) -> Iterator[None]:
        """The campaign for one start, taken without awaiting (so two presses cannot both
        pass): Busy names what runs; released once started, or refused."""
        running = self.running(name)
        if running is not None or name in self.claimed:
            raise Busy(running)
        self.claimed.add(name)
        try:
            yield
        finally:
            self.claimed.discard(name)

    async def start(self, job: Job) -> Job:
        """Take the campaign's journal and start the child with it; its output is read as it
        comes. Busy: something runs (ours, or JournalBusy: another process's)."""
        running = self.running(job.name)
        if running is not None:
            raise Busy(running)
        if job.kind == "send":
            job.base_request = await asyncio.to_thread(_last_request, job.journal)
        try:
            lock = take_lock(job.journal)
        except JournalBusy:
            raise Busy(self.running(job.name), outside=True) from None
        try:
            if os.fstat(lock).st_size == 0:  # a first send: the file was made just now
                await asyncio.to_thread(initialise, job.journal)
            environ = {**self.environ, LOCK_FD: str(lock), DIE_WITH: str(os.getpid())}
            job.process = await asyncio.create_subprocess_exec(
                *job.argv,
                cwd=self.cwd,
                env=environ,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=(lock,),
            )
        finally:
            os.close(lock)  # the child holds it now (or nobody, if it did not start)
        self.latest[job.name] = job
        asyncio.get_running_loop().create_task(self._follow(job))
        return job

    async def _follow(self, job: Job) -> None:
        assert job.process is not None
        await asyncio.gather(_lines(job.process.stdout, job), _lines(job.process.stderr, job))
        job.returncode = await job.process.wait()
        job.finished.set()

    def stop(self, name: str) -> bool:
        """The first Ctrl-C: no new batches, the requests in flight finish. False: none.
        A process of the command line is stopped the same way, by its pid."""
        job = self.running(name)
        if job is None:
            return False
        job.stopping = True
        with contextlib.suppress(ProcessLookupError):
            if job.process is not None:
                job.process.send_signal(signal.SIGINT)
            elif job.pid is not None:
                os.kill(job.pid, signal.SIGINT)
        return True

    async def shutdown(self) -> None:
        """Stop every child as Stop does, and wait for their requests in flight (the command
        line's sends are theirs to stop)."""
        children = [job for job in self.latest.values() if job.running and not job.outside]
        for job in children:
            self.stop(job.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(j.finished.wait() for j in children)), STOP_WAIT
            )


class Busy(Exception):
    """The campaign is taken: `job` is what runs (None: a start of this page, a moment ago)."""

    def __init__(self, job: Job | None, outside: bool = False) -> None:
        super().__init__(job.started_by if job is not None else "another process")
        self.job = job
        self.outside = outside or (job is not None and job.outside)


def _kind_of(pid: int) -> str:
    """What a process of the command line does to the campaign: send, records, reconcile..."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "send"
    command = next((w for w in words if w in COMMANDS), "run")
    return "send" if command == "run" else command


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
    requests, rate and ETA, and the campaign's totals and its whole (overview.whole_campaign:
    all runs, answered, opted out, outcomes over time)."""
    totals: Counter[str] = Counter()
    mine: Counter[str] = Counter()
    requests = mine_requests = 0
    before = ""  # when the request before this send was sent
    base = job.base_request if job is not None and job.kind == "send" else None
    campaign: dict[str, object] = {}
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
                states = opened.number_states()
                for state in states.values():
                    outcome = "in_flight" if state.request in flying else str(state.outcome)
                    totals[outcome] += 1
                    if base is not None and state.request > base:
                        mine[outcome] += 1
                requests = len(listed)
                mine_requests = sum(1 for r in listed if base is not None and r.id > base)
                campaign = whole_campaign(opened, states, flying)
                before = next((r.sent_at for r in listed if base is not None and r.id == base), "")
    answer: dict[str, object] = {
        "totals": dict(totals),
        "total_requests": requests,
        "campaign": campaign,
        # the calls whose record (fetched, or pushed by the vendor) says answered
        "answered": campaign.get("answered") or 0,
    }
    if job is None:
        return {**answer, "state": "idle"}
    done = sum(v for k, v in mine.items() if k not in ("not_sent", "in_flight"))
    elapsed = max(time.monotonic() - job.started, 1e-6)
    rate = done / elapsed if job.kind == "send" else 0.0
    to_send = job.to_send
    if not to_send and job.outside and str(campaign.get("run_at", "")) >= before:
        # a send of the command line: its run recorded what it sends before sending it
        planned = campaign.get("run_to_send")
        to_send = planned if isinstance(planned, int) else 0
    left = max(to_send - done, 0)
    return {
        **answer,
        "kind": job.kind,
        "state": job.state,
        "started_by": "command_line" if job.outside else "page",
        "pid": job.pid,
        "to_send": to_send,
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


def child_environment(
    sandbox_credentials: tuple[str, str] | None, history: HistoryLocation | None = None
) -> dict[str, str]:
    """The server's environment for the children (credentials reach them the CLI's ways:
    this environment, or --credentials), plus the sandbox's throw-away pair when serving it,
    and the password of serve's call history database as PGPASSWORD (the campaign.toml the
    page writes names the database without it)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if sandbox_credentials is not None:
        env["BATCHER_API_KEY"], env["BATCHER_API_SECRET"] = sandbox_credentials
    if history is not None and history.password:
        env["PGPASSWORD"] = history.password
    return env
