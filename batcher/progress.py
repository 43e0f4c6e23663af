"""Progress while sending: a bar on a terminal, a log line now and then elsewhere, or nothing.

`progress_reporter` returns one callable either way, so the send layer needs no branches;
it is called once per finished request, which costs nothing measurable.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

LOG_EVERY = 10.0  # seconds between log lines when stderr is not a terminal

Progress = Callable[[Counter, int], None]


class Reporter:
    """Shows counts of accepted/rejected/unknown numbers, requests, rate and ETA."""

    def __init__(self, total: int, stream: TextIO, quiet: bool = False) -> None:
        self.total = total
        self.stream = stream
        self.quiet = quiet
        self.started = time.monotonic()
        self.last_log = self.started
        self.bar = None
        if not quiet and stream.isatty():
            self.bar = tqdm(total=total, unit="num", file=stream, dynamic_ncols=True,
                            desc="sending", smoothing=0.1, mininterval=0.25)

    def __call__(self, counts: Counter, requests: int) -> None:
        if self.quiet:
            return
        done = sum(counts.values())
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(self._counts(counts, requests), refresh=False)
            return
        now = time.monotonic()
        if now - self.last_log >= LOG_EVERY or done >= self.total:
            self.last_log = now
            rate = done / max(now - self.started, 1e-9)
            eta = (self.total - done) / rate if rate else 0
            print(f"sent {done}/{self.total} numbers ({self._counts(counts, requests)}), "
                  f"{rate:.0f}/s, ETA {eta:.0f} s", file=self.stream, flush=True)

    @staticmethod
    def _counts(counts: Counter, requests: int) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        return f"{shown or 'nothing yet'}; {requests} requests"

    def close(self) -> None:
        """Finish the bar (leaves the last state on screen)."""
        if self.bar is not None:
            self.bar.close()


def progress_reporter(total: int, quiet: bool = False, stream: TextIO | None = None) -> Reporter:
    """A bar on a terminal, periodic log lines otherwise, nothing when quiet."""
    return Reporter(total, stream or sys.stderr, quiet)
