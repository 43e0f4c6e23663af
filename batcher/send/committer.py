"""The send path's journal writes: one thread, in order, group-committed, with the crash hooks.

`Committer` runs every journal write of a run on a thread of its own, several to a
transaction, so the event loop keeps other requests moving while a commit waits for the disk;
a write's future completes once its transaction is on disk. `SendWrites` is what the sender
calls: `intent` returns only once the intent is committed, outcomes and events queue behind it.
`CrashHooks` (SIGKILL at a named point, from BATCHER_CRASH_AT) lets the crash tests stop the
process in each window that matters for exactly-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future

from batcher.errors import JournalError
from batcher.history import History
from batcher.journal import Journal


class Committer:
    """Journal writes on one thread, in order, several to a transaction (a group commit).

    A write's future completes once the transaction holding it is on disk. Whatever queues
    while one commit waits for the disk goes into the next, so eight requests in flight cost a
    few fsyncs a round instead of two each, and an intent waits less before its send.
    """

    def __init__(
        self, journal: Journal, history: History | None = None, hooks: CrashHooks | None = None
    ) -> None:
        self.journal = journal
        self.history = history  # its reservations are grouped the same way
        self.hooks = hooks or CrashHooks()
        # the first write that failed (a full disk...): the send stops sending at once; the
        # writes behind it are still tried, so answers already in may yet be recorded
        self.failure: BaseException | None = None
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.hooks.sending(journal, history)
        self.thread = threading.Thread(target=self._run, name="batcher-journal", daemon=True)
        self.thread.start()

    def submit(self, write: Callable, *args, first: bool = False, **kwargs) -> Future:
        """Queue a write; `first`: an intent, which a send waits for (see _run)."""
        future: Future = Future()
        self.queue.put((future, write, args, kwargs, first))
        return future

    def shutdown(self) -> None:
        """Commit what is queued, then stop the thread."""
        self.queue.put(None)
        self.thread.join()

    def _run(self) -> None:
        while True:
            group = [self.queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    group.append(self.queue.get_nowait())
            items = [item for item in group if item is not None]
            # Intents first, in a transaction of their own: a send waits for its intent, and
            # nothing waits for an answer's outcome, whose per-number rows cost the journal
            # milliseconds a request. Safe: an answer's own intent was committed before its
            # request went out, so no order that matters changes.
            firsts = [item[:4] for item in items if item[4]]
            rest = [item[:4] for item in items if not item[4]]
            for part in (firsts, rest):
                if part:
                    self._commit(part)
            if len(items) < len(group):
                return

    def _commit(self, writes: list) -> None:
        done = []
        reserved = False
        try:
            with self.journal.together():
                with _grouped(self.history):
                    for _future, write, args, kwargs in writes:
                        done.append(write(*args, **kwargs))
                reserved = True
                # the group's reservations are on disk, its intents not yet: the window a
                # crash leaves numbers reserved that the journal does not know (adopt_orphans)
                self.hooks.after_reserve()
        except BaseException as exc:  # none of the group is in the journal
            if reserved and self.history is not None:
                self._unreserve()
            if self.failure is None:
                self.failure = exc
            if len(writes) > 1:
                # one by one: an answer already in is still recorded when only another write
                # failed (a reservation in a full call history); one that fails again fails
                for write in writes:
                    self._commit([write])
                return
            for future, *_ in writes:
                future.set_exception(exc)
            return
        for (future, *_), result in zip(writes, done, strict=True):
            future.set_result(result)

    def _unreserve(self) -> None:
        """The journal lost a group whose reservations the call history kept: none of its
        requests is sent (their intents are not on disk), so they hold no one. If the
        history cannot say so either, the next run adopts them as unknown (adopt_orphans)."""
        assert self.history is not None
        intents = list(self.history.group_intents)
        with contextlib.suppress(JournalError, sqlite3.Error), self.history.together():
            for intent in intents:
                self.history.unplace(intent)


def _grouped(history: History | None):
    """The call history's group transaction, or nothing when the send has none."""
    return history.together() if history is not None else contextlib.nullcontext()


class SendWrites:
    """The send path's journal writes, in order through the committer, with the crash hooks.

    `intent` returns once the intent is on disk; `finish` and `event` are queued behind it.
    """

    def __init__(self, journal: Journal, db: Committer, hooks: CrashHooks) -> None:
        self.journal, self.db, self.hooks = journal, db, hooks
        self.queued: list[Future] = []

    async def intent(self, begin: Callable, *args):
        """`begin` (which reserves and calls journal.begin) on the journal's thread,
        committed; what it returns."""
        begun = await asyncio.wrap_future(self.db.submit(begin, *args, first=True))
        self.hooks.after_intent()
        return begun

    def later(self, write: Callable, *args) -> None:
        """Queue any other write behind the ones before it (the call history's)."""
        self.queued.append(self.db.submit(write, *args))

    def finish(self, *args, **kwargs) -> None:
        """Queue journal.finish: a request's outcome."""
        self.hooks.before_outcome()
        self.queued.append(self.db.submit(self.journal.finish, *args, **kwargs))

    def event(self, *args) -> None:
        """Queue journal.event: a note for the operator."""
        self.queued.append(self.db.submit(self.journal.event, *args))

    def failures(self) -> list[BaseException]:
        """What the queued writes raised (a journal that cannot be written must show)."""
        return [exc for f in self.queued if (exc := f.exception()) is not None]


class CrashHooks:
    """Crash tests only: no-ops unless BATCHER_CRASH_AT or BATCHER_FULL_DISK is set.

    BATCHER_CRASH_AT=after-intent:3 SIGKILLs the process at the 3rd intent committed (nothing
    sent yet), before-outcome:3 at the 3rd answer received (not yet committed), after-reserve:1
    at the first reservation in the call history (no intent yet): the windows that matter for
    exactly-once. BATCHER_FULL_DISK=history (or journal) lets that SQLite file grow no more
    once the send starts (PRAGMA max_page_count): its disk is full from then on.
    """

    def sending(self, journal: Journal, history: History | None) -> None:
        """The send starts: its journal and call history are open."""

    def after_reserve(self) -> None:
        """A group's reservations are committed in the call history; its journal writes
        (the intents) are not yet."""

    def after_intent(self) -> None:
        """An intent is on disk; its request is not sent yet."""

    def before_outcome(self) -> None:
        """An answer is in; its outcome is not queued yet."""

    @staticmethod
    def from_env() -> CrashHooks:
        if full := os.environ.get("BATCHER_FULL_DISK"):
            return _FullDisk(full)
        name, _, count = os.environ.get("BATCHER_CRASH_AT", "").partition(":")
        return _KillAt(name, int(count or 1)) if name else CrashHooks()


class _FullDisk(CrashHooks):
    """The named file (journal or history) may not grow by a page from the send's start."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sending(self, journal: Journal, history: History | None) -> None:
        db = journal.db if self.name == "journal" else history.db if history else None
        if db is not None:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")


class _KillAt(CrashHooks):
    """SIGKILL this process the `count`-th time the named hook is reached."""

    def __init__(self, name: str, count: int) -> None:
        self.name, self.left = name, count

    def after_reserve(self) -> None:
        self._reached("after-reserve")

    def after_intent(self) -> None:
        self._reached("after-intent")

    def before_outcome(self) -> None:
        self._reached("before-outcome")

    def _reached(self, name: str) -> None:
        if name == self.name:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)
