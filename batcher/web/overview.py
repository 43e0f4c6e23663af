"""What the campaign owner looks at: each campaign's dates, state and counts, its archive mark,
and a campaign as a whole (all its runs) with its outcomes over time.

    figures = read_figures(folder.journal_of(record))     # one read-only look at the journal
    figures.last_activity, figures.counts["accepted"], figures.answered
    whole_campaign(opened, states, flying)                # inside live_counts' own read
    set_archived(folder.state, "spring", True)            # hidden from the list, kept on disk

Everything comes from the journal (the numbers table, the held numbers, the runs' facts, the
call records), so a send of the command line shows as well as the page's own. Times are the
journal's (ISO-8601 UTC, which sort as text). An outcome batcher adds later shows up here
without a change: counts are kept per `Outcome`, whatever its members.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from batcher.clock import iso_utc
from batcher.errors import JournalError
from batcher.journal import Journal, NumberState
from batcher.outcomes import Outcome
from batcher.voiceapi import callrecord

ARCHIVE = "archived"  # .batcher-web/archived/<campaign>: a mark, the campaign is untouched
IN_FLIGHT = "in_flight"
# the outcome of a number that asked not to be called again (another change adds it to Outcome)
# facts of a run's plan (batcher.plan.forecast.plan_facts) the owner's counts are made of
_ROWS, _DONE, _TO_SEND = "rows read", "already done in this campaign", "to send"
_LATER = ("held: deferred (calling window)", "held: beyond --limit")  # called by a later run
# how long a bar of the chart stands for: the shortest that keeps it to at most BARS bars
STEPS = (60, 600, 3600, 6 * 3600, 86400, 7 * 86400)
BARS = 24


@dataclass(frozen=True)
class Figures:
    """One campaign's journal, summed up for the list and the progress page."""

    counts: Counter[str] = field(default_factory=Counter)  # numbers per outcome, held included
    requests: int = 0
    stop: str | None = None  # the latest run's stop reason; None: no run yet
    created: str = ""  # when the journal's campaign was made
    last_sent: str = ""  # the latest request's time
    last_run: str = ""  # the latest run's time
    rows: int | None = None  # rows the latest run read
    planned: int | None = None  # the numbers the campaign calls, as its latest run planned
    answered: int | None = None  # None until call records arrive
    records: int = 0
    opted_out: int = 0  # numbers that asked not to be called again (see opted_out)

    @property
    def called(self) -> int:
        """Numbers the vendor accepted (their phones rang)."""
        return self.counts[Outcome.ACCEPTED]

    @property
    def held(self) -> int:
        """Numbers the campaign holds back (do-not-call, cooldown, hours, limit)."""
        return sum(self.counts[str(o)] for o in HELD)

    @property
    def last_activity(self) -> str:
        """The latest of its run, its request."""
        return max(self.last_run, self.last_sent)


HELD = (Outcome.SUPPRESSED, Outcome.RECENTLY_CALLED, Outcome.DEFERRED)


def read_figures(journal: Path) -> Figures:
    """The campaign's figures from its journal (empty figures when it has none yet)."""
    if not journal.is_file():
        return Figures()
    try:
        opened = Journal(journal, readonly=True)
    except JournalError:
        return Figures()  # a send creating it has not written its tables yet
    with contextlib.closing(opened):
        if opened.campaign is None:
            return Figures()
        states = opened.number_states()
        held = opened.held()
        counts = Counter(str(s.outcome) for s in states.values())
        counts.update(str(outcome) for outcome, _ in held.values())
        requests = opened.requests()
        latest = opened.last_run()
        facts = _facts(latest)
        answered, stored, _ = _from_records(opened)
        return Figures(
            counts=counts,
            requests=len(requests),
            stop=str(latest["stop"] or "") if latest else None,
            created=opened.campaign.created_at,
            last_sent=requests[-1].sent_at if requests else "",
            last_run=str(latest["at"]) if latest else "",
            rows=_int(facts.get(_ROWS)),
            planned=_planned(facts),
            answered=answered,
            records=stored,
            opted_out=opted_out(opened, held),
        )


def whole_campaign(
    opened: Journal, states: Mapping[str, NumberState], flying: set[int]
) -> dict[str, object]:
    """The campaign over all its runs, for the progress page: numbers done of those it calls,
    answered and opted out, and its outcomes over time (`timeline`)."""
    done = sum(
        1 for s in states.values() if s.request not in flying and not Outcome(s.outcome).resendable
    )
    latest = opened.last_run()
    facts = _facts(latest)
    planned = _planned(facts)
    answered, stored, _ = _from_records(opened)
    return {
        "done": done,
        "total": max(planned if planned is not None else len(states), done),
        "run_at": str(latest["at"]) if latest else "",
        "run_to_send": _int(facts.get(_TO_SEND)),
        "answered": answered,
        "records": stored,
        "opted_out": opted_out(opened, opened.held()),
        "timeline": timeline(states.values(), flying),
    }


def opted_out(opened: Journal, held: Mapping[str, tuple[Outcome, str]]) -> int:
    """Numbers that asked not to be called again: those this campaign's own call records show
    pressing one of its opt-out keys, and those it holds because the register lists them."""
    numbers = {callee for callee, (outcome, _) in held.items() if outcome == Outcome.OPTED_OUT}
    return len(numbers | _from_records(opened)[2])


# what a journal's call records say, by journal: read again only when they changed (the
# progress stream asks twice a second, and a million records take seconds to parse)
_RECORDS: dict[Path, tuple[tuple[object, ...], tuple[int | None, int, frozenset[str]]]] = {}


def _from_records(opened: Journal) -> tuple[int | None, int, frozenset[str]]:
    """(calls answered, None without records; records stored; the callees whose records press
    one of the campaign's opt-out keys, as the register notes them)."""
    token = opened.campaign.token if opened.campaign else ""
    mark = (token, opened.records_mark(), opened.opt_out_keys)
    known = _RECORDS.get(opened.path)
    if known is not None and known[0] == mark:
        return known[1]
    records = list(opened.call_records().values())
    answered = callrecord.stats(records)[0] if records else None
    # every key the campaign offered, as the register notes them (register.note_opt_outs)
    pressed = [found for key in opened.opt_out_keys for found in opened.pressed(key)]
    numbers: set[str] = set()
    if any(not callee for _, callee, _ in pressed):  # a record without its callee: by voiceId
        by_voice = {c.voice_id: n for n, calls in opened.calls().items() for c in calls}
        numbers.update(callee or by_voice.get(voice, voice) for voice, callee, _ in pressed)
    else:
        numbers.update(callee for _, callee, _ in pressed)
    figures = (answered, len(records), frozenset(numbers))
    _RECORDS[opened.path] = (mark, figures)
    return figures


def timeline(states: Iterable[NumberState], flying: set[int]) -> dict[str, object]:
    """The numbers' outcomes by the time their request was sent, in buckets of `step`
    seconds (the shortest of STEPS giving at most BARS non-empty buckets), oldest first."""
    # a request's numbers share its time: counted by (time, outcome) first, parsed once each
    grouped = Counter(
        (s.sent_at, IN_FLIGHT if s.request in flying else str(s.outcome)) for s in states
    )
    moments = [(_epoch(at), outcome, n) for (at, outcome), n in grouped.items()]
    counted = [(e, outcome, n) for e, outcome, n in moments if e is not None]
    if not counted:
        return {"step": 0, "buckets": [], "outcomes": []}
    step = next((s for s in STEPS if len({int(e // s) for e, _, _ in counted}) <= BARS), STEPS[-1])
    buckets: dict[int, Counter[str]] = {}
    for epoch, outcome, n in counted:
        buckets.setdefault(int(epoch // step), Counter())[outcome] += n
    order = [str(o) for o in Outcome] + [IN_FLIGHT]
    present = {o for counts in buckets.values() for o in counts}
    days = {iso_utc(k * step)[:10] for k in buckets}
    return {
        "step": step,
        "outcomes": [o for o in order if o in present],
        "buckets": [
            {
                "at": iso_utc(key * step),
                "label": _label(key * step, step, several_days=len(days) > 1),
                "counts": {o: counts[o] for o in order if counts[o]},
                "total": sum(counts.values()),
            }
            for key, counts in sorted(buckets.items())
        ],
    }


def _label(epoch: float, step: int, *, several_days: bool) -> str:
    """A bucket's start as the owner reads it: 14:05, or 12-05 14:05 over several days."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if step >= 86400:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%m-%d %H:%M" if several_days else "%H:%M")


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def _facts(latest: Mapping[str, object] | None) -> dict[str, object]:
    facts = latest.get("facts") if latest else None
    found: dict[str, object] = {}
    for fact in facts if isinstance(facts, list) else []:
        if isinstance(fact, list | tuple) and len(fact) == 2:
            found[str(fact[0])] = fact[1]
    return found


def _planned(facts: Mapping[str, object]) -> int | None:
    """The numbers the campaign calls: done before its latest run, sent by it, and held for a
    later one (calling hours, --limit). None: no run recorded its plan."""
    parts = [_int(facts.get(k)) for k in (_DONE, _TO_SEND)]
    if None in parts:
        return None
    later = sum(_int(facts.get(k)) or 0 for k in _LATER)
    return sum(p or 0 for p in parts) + later


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- the campaign's archive mark ---------------------------------------------------------------


def archived(state: Path) -> set[str]:
    """The campaigns of the folder hidden from the main list."""
    folder = state / ARCHIVE
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def set_archived(state: Path, name: str, on: bool) -> None:
    """Archive (or restore) a campaign: a mark beside the page's state, nothing else moved."""
    mark = state / ARCHIVE / name
    if on:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    else:
        mark.unlink(missing_ok=True)


def uploaded_at(path: Path) -> str:
    """When the campaign's file was uploaded (its modification time), '' when it is gone."""
    try:
        return iso_utc(os.stat(path).st_mtime)
    except OSError:
        return ""
