"""Progress while sending: a bar on a terminal, a log line now and then elsewhere, or nothing.

`progress_reporter` returns one object either way, so the send layer needs no branches: call
it once per finished request with the counts so far (it costs nothing measurable), and send
every other line through its `say`, which lifts the bar out of the way first:

    reporter = progress_reporter(len(todo), settings.quiet, say=say)
    try:
        send_batches(settings, journal, todo, reporter, reporter.say)
    finally:
        reporter.close()

The counts shown are the send layer's running totals of what it hands the journal: numbers
per outcome, and requests whose intent is in the journal. The bar's position is the sum of
the numbers with an outcome, drawn in the same frame as the counts, so the two always agree.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from gettext import ngettext
from typing import TextIO

from tqdm import tqdm

LOG_EVERY = 10.0  # seconds between log lines when stderr is not a terminal

Progress = Callable[[Counter, int], None]
Say = Callable[[str], None]


def _silent(line: str) -> None:
    pass


class Reporter:
    """Shows counts of accepted/rejected/unknown numbers, requests, rate and ETA."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        quiet: bool = False,
        say: Say | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        mininterval: float = 0.25,
    ) -> None:
        self.total = total
        self.stream = stream
        self.quiet = quiet
        self.clock = clock
        self.started = clock()
        self.last_log = self.started
        self.counts: Counter = Counter()
        self.requests = 0
        self._say = say if say is not None else (_silent if quiet else self._print)
        self.bar = None
        if not quiet and stream.isatty():
            self.bar = tqdm(
                total=total,
                unit="num",
                file=stream,
                dynamic_ncols=True,
                desc="sending",
                smoothing=0.1,
                mininterval=mininterval,
            )

    def __call__(self, counts: Mapping[str, int], requests: int) -> None:
        self.counts = Counter(counts)
        self.requests = requests
        if self.quiet:
            return
        done = self.done
        if self.bar is not None:
            # the counts first, then the position: update() draws both in one frame (the other
            # way round, every frame showed the new position beside the previous counts)
            self.bar.set_postfix_str(self._counts(), refresh=False)
            if done != self.bar.n:
                self.bar.update(done - self.bar.n)
            if done >= self.total:
                self.bar.refresh()  # the last frame is never skipped by mininterval
            return
        now = self.clock()
        if now - self.last_log >= LOG_EVERY or done >= self.total:
            self.last_log = now
            rate = done / max(now - self.started, 1e-9)
            eta = (self.total - done) / rate if rate else 0
            self._print(
                f"sent {done}/"
                + ngettext("{n} number", "{n} numbers", self.total).format(n=self.total)
                + f" ({self._counts()}), "
                f"{rate:.0f}/s, ETA {eta:.0f} s"
            )

    @property
    def done(self) -> int:
        """Numbers with an outcome so far (never beyond the total)."""
        return min(sum(self.counts.values()), self.total)

    def say(self, line: str) -> None:
        """A line for the operator while the bar may be on screen: on a line of its own (not
        after a "^C" the terminal echoed on the bar's line), the bar redrawn below it."""
        if self.bar is not None:
            self.write(line)
        else:
            self._say(line)

    def write(self, line: str) -> None:
        """Print a line above the bar (clearing it first), or plainly when there is none."""
        if self.bar is None:
            self._print(line)
            return
        self.bar.set_postfix_str(self._counts(), refresh=False)
        tqdm.write(line, file=self.stream)

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def _counts(self) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()) if v)
        requests = ngettext("{n} request", "{n} requests", self.requests)
        return f"{shown or 'nothing yet'}; " + requests.format(n=self.requests)

    def close(self) -> None:
        """Finish the bar, leaving its last state (the final counts) on screen."""
        if self.bar is not None:
            self.bar.set_postfix_str(self._counts(), refresh=False)
            self.bar.close()
            self.bar = None


def progress_reporter(
    total: int, quiet: bool = False, stream: TextIO | None = None, say: Say | None = None
) -> Reporter:
    """A bar on a terminal, periodic log lines otherwise, nothing when quiet.

    `say` is where the reporter's `say` sends lines while no bar is shown (default: the
    stream); while a bar is shown they go above it on the stream.
    """
    return Reporter(total, stream or sys.stderr, quiet, say)
