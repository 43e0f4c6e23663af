"""Follow: `batcher run --follow` stays until nothing more can happen in the campaign.

Round after round, with the same pipeline pieces a plain run uses: each round sends what is
due now and rewrites the workbook (`pipeline.run_round`); between rounds the call records of
accepted calls are fetched (`records.fetch_records`) and `unknown` numbers are settled once the
records show their period complete and --settle has passed (`reconcile.reconcile`: absence of a
record is not evidence; after `records_wait` they stay unknown); then it sleeps until the next
thing is due (`redial.upcoming`: redials, deferred numbers' calling hours, records, settling),
saying what that is. Every time is the vendor's (`Settings.now`), measured before the first
round. The journal stays the one truth: a kill -9 anywhere loses nothing, and the same command
resumes.

Sleeping is interruptible: Ctrl-C (SIGINT) or SIGTERM ends the wait at once, with the workbook
of the latest round on disk, and exit code 6. Time comes from `settings.clock`, and the sleep
is injectable, so tests run fast.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from gettext import ngettext
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from batcher.errors import ExitCode
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.plan.redial import Upcoming, upcoming
from batcher.register import noted_line
from batcher.settings import Settings

if TYPE_CHECKING:  # the pipeline calls follow with its run_round: no import circle
    from batcher.pipeline import Summary

Say = Callable[[str], None]
STOPS = (ExitCode.API_STOPPED, ExitCode.INTERRUPTED)
POLL_MIN, POLL_MAX = 0.5, 60.0  # seconds between two looks at the call records
STEP = 0.25  # seconds slept at a time: a signal is noticed at once


def poll_interval(settings: Settings) -> float:
    """How often missing call records are asked for again: a twentieth of --settle."""
    return min(POLL_MAX, max(POLL_MIN, settings.settle / 20))


def follow(
    settings: Settings,
    confirm: Callable[[str], bool],
    say: Say,
    sleep: Callable[[float], None] = time.sleep,
    *,
    run_round: Callable[[Settings, Callable[[str], bool], Say], Summary],
) -> Summary:
    """Run rounds until nothing more can happen; the last round's summary (exit code).
    `run_round` is the pipeline's: one round sent and its workbook written."""
    from batcher.followup.check import vendor_clock

    settings = vendor_clock(settings, say)  # every round and wait goes by the vendor's clock
    summary = run_round(settings, confirm, say)
    rounds, idle = 1, 0
    auto = _auto(settings, say)
    dirty = False
    while summary.exit_code not in STOPS and summary.journal is not None:
        dirty = refresh(settings, summary.journal, say) or dirty
        ahead = _ahead(settings, summary.journal)
        if ahead.due_now and idle < 2:
            rounds += 1
            say(f"round {rounds}: {ahead.due_now:,} due now")
            summary, dirty = run_round(settings, auto, say), False
            idle = idle + 1 if summary.sent == 0 else 0
            continue
        if ahead.empty:
            if dirty:
                summary = run_round(settings, auto, say)  # the workbook with the last records
            say(
                ngettext(
                    "follow: nothing more can happen after {n} round: the campaign has run to "
                    "its end",
                    "follow: nothing more can happen after {n} rounds: the campaign has run to "
                    "its end",
                    rounds,
                ).format(n=rounds)
            )
            left = _unknown(summary.journal) if summary.journal is not None else 0
            if left:
                say(
                    ngettext("follow: {n} number stays", "follow: {n} numbers stay", left).format(
                        n=left
                    )
                    + " unknown: the vendor's call records never "
                    "showed their period complete, so they are not sent again (batcher "
                    "reconcile settles them later; --resend-unknown releases them)"
                )
            return replace(summary, upcoming=ahead)
        now = settings.now().timestamp()
        at = ahead.next_at(now, poll_interval(settings))
        if idle >= 2:  # due, yet a round sent nothing (held meanwhile): do not spin
            at, idle = max(at, now + poll_interval(settings)), 0
        if not _wait(settings, at, sleep, say, ahead.text(now)):
            if dirty:
                summary = run_round(settings, _auto(replace(settings, quiet=True), say), say)
            return replace(
                summary,
                exit_code=ExitCode.INTERRUPTED,
                upcoming=ahead,
                message="interrupted while waiting\n  fix: run the same command again to "
                "resume (nothing is lost: the journal has every call)",
            )
    return summary


def refresh(settings: Settings, journal_file: Path, say: Say) -> bool:
    """Fetch the call records still missing and settle the unknown numbers that can be;
    True when the journal learnt something."""
    from batcher.followup.reconcile import reconcile
    from batcher.followup.records import fetch_records

    report = fetch_records(
        journal_file,
        settings.account,
        settings.concurrency,
        history=settings.history,
        opt_out_key=settings.opt_out_key,
    )
    changed = report.fetched > 0
    if report.fetched:
        say(f"records: {report.fetched} fetched, {report.missing} not available yet")
    if report.opted_out:
        say(noted_line(report.opted_out))
    if _has_unknown(journal_file):
        settled = reconcile(
            journal_file,
            settings.account,
            settings.settle,
            now=settings.now().timestamp(),
            history=settings.history,
            opt_out_key=settings.opt_out_key,
        )
        if settled.found or settled.absent:
            changed = True
            say(
                f"reconcile: {settled.found} found in the call records, {settled.absent} "
                "absent (sent again when due)"
            )
    return changed


def _has_unknown(journal_file: Path) -> bool:
    return _unknown(journal_file) > 0


def _unknown(journal_file: Path) -> int:
    with Journal(journal_file, readonly=True) as journal:
        return sum(s.outcome is Outcome.UNKNOWN for s in journal.number_states().values())


def _ahead(settings: Settings, journal_file: Path) -> Upcoming:
    with Journal(journal_file, readonly=True) as journal:
        return upcoming(journal, settings, settings.now())


def _auto(settings: Settings, say: Say) -> Callable[[str], bool]:
    """Rounds after the first were confirmed with the first: show the plan, send."""

    def confirm(plan: str) -> bool:
        if not settings.quiet:
            say(plan)
        return True

    return confirm


def _wait(
    settings: Settings, until: float, sleep: Callable[[float], None], say: Say, awaited: str
) -> bool:
    """Say what is awaited, then sleep until `until` (settings.clock's epoch); False when
    SIGINT/SIGTERM ended it (the handlers are in place before anything is said)."""
    wanted, slept = until - settings.now().timestamp(), 0.0
    with _Stopper() as stopper:
        say(awaited)
        while not stopper.stopped:
            # the clock says when; the sleeps' sum ends the wait under a frozen clock too
            left = min(until - settings.now().timestamp(), wanted - slept)
            if left <= 0:
                return True
            step = min(STEP, left)
            sleep(step)
            slept += step
    return False


# what signal.signal returns and takes back: a function, SIG_DFL/SIG_IGN, or None (not Python's)
_Handler = Callable[[int, FrameType | None], object] | int | None


class _Stopper:
    """SIGINT and SIGTERM end a wait (the send layer has its own handlers while it sends)."""

    def __init__(self) -> None:
        self.stopped = False
        self.previous: dict[int, _Handler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True

    def __enter__(self) -> _Stopper:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: the caller's
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
