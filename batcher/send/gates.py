"""What a request waits for before it goes, and the signals that stop a run.

`RateGate` spaces requests evenly (at most `rate` a second, monotonic clock); `PaceGate` keeps
at most `pace` calls a minute, counting from the journal's latest request so resumes and follow
rounds keep it too. `stop_signals` installs the first-Ctrl-C-stops, second-abandons handler on the
event loop for the length of a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable


class PaceGate:
    """At most `pace` calls a minute: a request of n numbers waits until n / pace minutes after
    the previous one; the journal's latest request starts the count, so resumes and follow
    rounds keep the pace too (this machine's wall clock: the journal's sent times are the
    vendor's, `offset` ahead of it)."""

    def __init__(
        self, pace: float | None, last: tuple[float, int] | None, offset: float = 0.0
    ) -> None:
        self.per_second = pace / 60 if pace else 0.0
        self.next_at = 0.0
        if self.per_second and last is not None:
            sent, numbers = last
            self.next_at = sent - offset + numbers / self.per_second

    async def wait(self, numbers: int) -> None:
        if not self.per_second:
            return
        now = time.time()
        at = max(now, self.next_at)
        self.next_at = at + numbers / self.per_second
        if at > now:
            await asyncio.sleep(at - now)


class RateGate:
    """At most `rate` requests per second, evenly spaced (None: no cap)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@contextlib.contextmanager
def stop_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]):
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread: the caller handles interruption
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
