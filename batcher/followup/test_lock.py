"""One test call at a time per campaign: a lock file beside the journal, held for the whole call.

    with one_test_call(journal, callee):   # JournalBusy (exit 7) while another one runs
        ...                                # place it, wait for its record
    running(journal)                       # Running(pid, callee, since) or None

A test call holds the journal's own lock only while it writes (a run may take the campaign
while the test call waits up to --wait for its record), so the test call takes a lock of its
own, `<journal>.testcall.lock`: an flock that the kernel drops when the process ends, however
it ends. The holder writes its pid, the number and the time into the file, so that a second
test call (or the page) can say which one is running; a clean exit removes the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from batcher.clock import iso_utc
from batcher.errors import JournalBusy


@dataclass(frozen=True)
class Running:
    """The test call that holds the campaign's test-call lock."""

    pid: int
    callee: str
    since: str  # ISO-8601 UTC

    def sentence(self) -> str:
        """The running test call, as a refusal names it."""
        return f"a test call to +{self.callee} is running since {self.since} (pid {self.pid})"


def lock_file(journal: Path) -> Path:
    """Where a campaign's test-call lock lives."""
    return journal.with_name(journal.name + ".testcall.lock")


@contextlib.contextmanager
def one_test_call(journal: Path, callee: str) -> Iterator[None]:
    """Hold the campaign's test-call lock (JournalBusy, naming the running one, if taken)."""
    path = lock_file(journal)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _take(path, journal)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {callee} {iso_utc()}\n".encode("ascii"))
        yield
    finally:
        # removed while still held: whoever opened this file meanwhile sees it is gone (`_take`)
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _take(path: Path, journal: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            now = running(journal)
            what = now.sentence() if now else "another test call of this campaign is running"
            raise JournalBusy(
                f"{what}: one test call at a time",
                "wait for it to end (it waits up to --wait for its call record), then call again",
            ) from None
        try:
            mine, there = os.fstat(fd), os.stat(path)
            if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed it as it ended: take the file that is there now


def running(journal: Path) -> Running | None:
    """The test call of this campaign running now, if any (read without touching the lock)."""
    try:
        pid, callee, since = lock_file(journal).read_text(encoding="ascii").split()
        alive = int(pid)
        os.kill(alive, 0)
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # none, one that died (its pid is gone), or one writing its line now
    return Running(alive, callee, since)
