"""Redial: the one configured exception to "one person, one call", and what comes next.

Within a campaign the bound becomes `[redial] attempts` calls per person instead of one; every
other rule is kept. A number becomes due again only when all of these hold:

- its latest state in the journal is accepted (or a later request for it placed nothing);
- it has fewer than `attempts` calls, counting every request that may have placed one
  (`unknown` included: `Journal.calls()`);
- its latest call's record exists and says how the call ended, and that outcome is one the
  policy names (`on`, e.g. busy, no-answer): a call without a record yet is waited for (records
  lag the calls), never redialed on a guess;
- `after` has passed since that call was sent;
- the number is not on the account's do-not-call register (`opted`): an opt-out stops its
  redials, whichever campaign's call it came from.

Everything else (the do-not-call lists, the call history's cooldown, the calling window,
--limit) is applied by `plan.choose` to a due redial exactly as to a first call.

`upcoming` reads a journal and says what comes next and when (redials due, records awaited,
unknown numbers to settle, deferred numbers' calling hours): the `next:` line of a run, and
the schedule `batcher run --follow` sleeps on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from gettext import ngettext
from typing import NamedTuple

from batcher.journal import Call, Journal, NumberState
from batcher.outcomes import Outcome, call_outcome
from batcher.settings import Redial, Settings, records_wait

DUE, REDIAL, RECORD, SETTLE, DONE = "due", "redial", "record", "settle", "done"
OPTED = "opted_out"  # on the do-not-call register: never called again


class Ruling(NamedTuple):
    """What the policy says of one number now: `kind` is due, redial (waiting until `at`),
    record (waiting for the latest call's record), settle (unknown), opted_out or done."""

    kind: str
    at: float | None
    reason: str

    @property
    def due(self) -> bool:
        """The number may be called now (the other rules permitting)."""
        return self.kind == DUE


class Book:
    """The redial policy over one campaign's calls and records (built once per round)."""

    def __init__(
        self,
        policy: Redial,
        calls: dict[str, list[Call]],
        records: dict[str, dict],
        settle: float,
        opted: dict[str, str] | None = None,
    ) -> None:
        self.policy, self.calls, self.records, self.settle = policy, calls, records, settle
        self.opted = opted or {}  # callee -> why it is on the do-not-call register

    @classmethod
    def of(cls, journal: Journal, settings: Settings, opted: dict[str, str] | None = None) -> Book:
        """The book of a journal's campaign under the run's policy (`opted`: the numbers the
        do-not-call register holds, whose redials stop)."""
        return cls(settings.redial, journal.calls(), journal.call_records(), settings.settle, opted)

    def attempts(self, callee: str) -> int:
        """Calls that may have reached this number so far."""
        return len(self.calls.get(callee, ()))

    def verdict(self, callee: str, state: NumberState, epoch: float) -> Ruling | None:
        """The policy's word on a number with a journal state; None for a number never called
        (the usual rules decide it)."""
        calls = self.calls.get(callee)
        if not calls:
            return None
        limit = self.policy.attempts
        last = calls[-1]
        if state.outcome is Outcome.UNKNOWN or last.outcome is Outcome.UNKNOWN:
            return Ruling(
                SETTLE,
                last.sent_epoch + self.settle,
                "unknown: waiting for the call records to settle it",
            )
        if state.outcome is Outcome.REJECTED:
            return Ruling(DONE, None, "")
        if callee in self.opted:
            return Ruling(OPTED, None, self.opted[callee])
        if len(calls) >= limit:
            return Ruling(DONE, None, "")
        ended = call_outcome(self.records.get(last.voice_id))
        if ended is None:
            return Ruling(
                RECORD,
                None,
                f"called (attempt {len(calls)} of {limit}): waiting "
                "for its call record before deciding on a redial",
            )
        if ended.final or ended not in self.policy.on:
            return Ruling(DONE, None, "")
        at = last.sent_epoch + self.policy.after
        if epoch < at:
            return Ruling(
                REDIAL,
                at,
                f"{ended} on attempt {len(calls)} of {limit}: redial due at {_clock(at)}",
            )
        return Ruling(
            DUE,
            at,
            f"redial: attempt {len(calls) + 1} of {limit} ({ended} on attempt {len(calls)})",
        )


# -- what comes next ---------------------------------------------------------------------------


@dataclass
class Upcoming:
    """What a campaign waits for, and when (epochs in the run's clock)."""

    due_now: int = 0  # redials or deferred numbers that can be sent now
    redials: list[float] = field(default_factory=list)  # when each waiting redial is due
    records: int = 0  # calls whose record is awaited before deciding on a redial
    settle: list[float] = field(default_factory=list)  # when each unknown number settles
    # unknown numbers past --settle whose records do not show their period complete yet: until
    # when each is waited for (then it stays unknown, never sent again on a guess)
    awaiting: list[float] = field(default_factory=list)
    deferred: Counter[tuple[float, str]] = field(default_factory=Counter)  # (opens, zone)

    @property
    def empty(self) -> bool:
        """Nothing more can happen in this campaign."""
        return not (
            self.due_now
            or self.redials
            or self.records
            or self.settle
            or self.awaiting
            or self.deferred
        )

    def next_at(self, now: float, poll: float) -> float:
        """When something is next worth looking at: the earliest due time, or a records poll."""
        times = [*self.redials, *self.settle, *(at for at, _ in self.deferred)]
        if self.records:
            times.append(now + poll)
        if self.settle or self.awaiting:
            times.append(now + poll)  # reconcile may find them in the records sooner
        return min(times, default=now + poll)

    def text(self, now: float) -> str:
        """'next: 1,204 redials at 14:30 UTC, in 28 min; 310 deferred until 09:00 Asia/...'"""
        parts = []
        if self.due_now:
            parts.append(f"{self.due_now:,} due now")
        if self.redials:
            at = min(self.redials)
            parts.append(
                ngettext("{n} redial ", "{n} redials ", len(self.redials)).format(
                    n=f"{len(self.redials):,}"
                )
                + f"from {_clock(at)}, in {_span(at - now)}"
            )
        if self.records:
            parts.append(
                ngettext(
                    "{n} call record awaited", "{n} call records awaited", self.records
                ).format(n=f"{self.records:,}")
            )
        if self.settle:
            at = max(self.settle)
            parts.append(
                f"{len(self.settle):,} unknown to settle from the call records by {_clock(at)}"
            )
        if self.awaiting:
            at = max(self.awaiting)
            parts.append(
                f"{len(self.awaiting):,} unknown waiting for the vendor's call records to show "
                f"their period complete (absence of a record is not evidence): up to "
                f"{_clock(at)}, in {_span(at - now)}, then left unknown"
            )
        by_opening: Counter[tuple[float, str]] = self.deferred
        for (at, zone), count in sorted(by_opening.items())[:3]:
            local = datetime.fromtimestamp(at, UTC)
            try:
                from zoneinfo import ZoneInfo

                local = local.astimezone(ZoneInfo(zone))
            except (KeyError, ValueError):
                zone = "UTC"
            parts.append(f"{count:,} deferred until {local:%H:%M} {zone}, in {_span(at - now)}")
        if len(by_opening) > 3:
            rest = sum(c for _, c in sorted(by_opening.items())[3:])
            parts.append(f"{rest:,} deferred later")
        return "next: " + (
            "; ".join(parts) if parts else "nothing: the campaign has run to its end"
        )


def upcoming(journal: Journal, settings: Settings, now: datetime) -> Upcoming:
    """What comes next for the journal's campaign, as the latest run left it: its held
    numbers (deferred by the window), its waiting redials, records and unknown numbers."""
    from batcher.plan.window import outside_window, window_opens

    epoch = now.timestamp()
    found = Upcoming()
    held = journal.held()
    states = journal.number_states()
    active = settings.redial.active
    # the calls and records are read for redials, and for --follow to await the last records
    book = Book.of(journal, settings) if active or settings.follow else None
    due: list[str] = []
    for callee, state in states.items():
        hold = held.get(callee)
        if hold is not None and hold[0] is not Outcome.DEFERRED:
            continue  # do-not-call, the cooldown, --limit: no waiting changes them
        verdict = book.verdict(callee, state, epoch) if active and book else None
        if verdict is None and state.outcome.resendable:
            due.append(callee)  # settled absent, failed: the next round sends it (choose)
        elif verdict is None or verdict.kind in (DONE, OPTED):
            if state.outcome is Outcome.UNKNOWN:
                _settling(found, state_epoch(state), settings.settle, epoch)
            elif book is not None and _record_awaited(book, callee, epoch):
                found.records += 1  # not needed to decide, but the workbook wants it
        elif verdict.kind == DUE:
            due.append(callee)
        elif verdict.kind == REDIAL:
            assert verdict.at is not None  # a redial ruling carries its due time
            found.redials.append(verdict.at)
        elif verdict.kind == RECORD:
            if book is not None and _record_awaited(book, callee, epoch):
                found.records += 1
        elif verdict.kind == SETTLE:
            assert verdict.at is not None  # a settle ruling carries the moment it settles
            _settling(found, verdict.at - settings.settle, settings.settle, epoch)
    deferred = [
        c
        for c, (outcome, _) in held.items()
        if outcome is Outcome.DEFERRED and (c not in states or states[c].outcome.resendable)
    ]
    due += deferred
    if settings.window is not None:
        late = outside_window(due, settings.window, now)
        for at, zone in window_opens(late, settings.window, now).values():
            found.deferred[(at.timestamp(), zone)] += 1
        due = [c for c in due if c not in late]
    found.due_now = len(due)
    return found


def _settling(found: Upcoming, sent: float, settle: float, epoch: float) -> None:
    """An unknown number sent at `sent`: settling at --settle, then awaiting the records until
    `records_wait`, then left unknown (nothing more is waited for)."""
    if epoch < sent + settle:
        found.settle.append(sent + settle)
    elif epoch < sent + records_wait(settle):
        found.awaiting.append(sent + records_wait(settle))


def _record_awaited(book: Book, callee: str, epoch: float) -> bool:
    """The latest call has no finished record yet, and --settle has not passed since it was
    sent: records lag the calls, so it is worth waiting for (after that, a later run may
    still find it)."""
    calls = book.calls.get(callee)
    if not calls or not calls[-1].voice_id:
        return False
    last = calls[-1]
    if call_outcome(book.records.get(last.voice_id)) is not None:
        return False
    return epoch < last.sent_epoch + book.settle


def state_epoch(state: NumberState) -> float:
    """When a number's latest request was sent (epoch), from its ISO time."""
    return datetime.fromisoformat(state.sent_at.replace("Z", "+00:00")).timestamp()


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
