"""Reconcile: settle `unknown` numbers from the vendor's own call records.

A request whose answer was lost may or may not have placed its calls. Every request carries a
tag in calledInfo (`batcher:<campaign>:<request>`), and the vendor stores calledInfo with each
call record, so `recordGroupQuery` over the request's time window says which of its numbers
were really called. Found: accepted, with the record's voiceId.

Absence of a record is not evidence: records lag the calls. A number absent from the records
becomes `absent` (failed: the next run sends it) only when the records are shown complete for
its request's period, and --settle has passed since it (a minimum, never evidence on its own):

- records of numbers accepted in the same or a later request of the campaign have arrived (in
  this query, or stored in the journal by `batcher records`); or
- the query returned records dated (the vendor's clock) after the request was sent: any
  campaign's on the account, since the query returns every record of the account in the window.

Until then it stays unknown, and reconcile says it waits for the records and until when
(`records_wait`); after that bound it stays unknown for good, never sent again on a guess
(`--resend-unknown` is the operator's explicit release). Every time here is the vendor's
(`Account.now`; the journal stores the vendor's time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from batcher.errors import UsageError
from batcher.followup.records import note_opt_outs_at
from batcher.history import Caller, History
from batcher.journal import Journal, parse_tag
from batcher.outcomes import Outcome
from batcher.settings import Account, HistoryLocation, records_wait
from batcher.voiceapi.call_records import SLACK, query_records
from batcher.voiceapi.http import PAGES_IN_FLIGHT, connect


@dataclass(frozen=True)
class ReconcileReport:
    """How many unknown numbers became accepted, resendable, or stayed unknown."""

    found: int
    absent: int
    still_unknown: int
    records_read: int
    retry_after: str = ""  # when the still-unknown ones can be settled
    waiting: int = 0  # of still_unknown: the records do not show their period complete yet
    given_up: int = 0  # of still_unknown: waited past the bound, left unknown for good
    wait_until: str = ""  # until when the records are waited for (the bound)


def reconcile(
    journal_path: Path,
    account: Account,
    settle_seconds: float,
    now: float | None = None,
    history: HistoryLocation | Path | None = None,
    opt_out_key: str | None = None,
) -> ReconcileReport:
    """Settle the unknown numbers of the journal's campaign from the call records (first
    adopting the numbers the call `history` says it reserved but never recorded, and noting
    on its do-not-call register the opt-outs of the stored records: `opt_out_key`). `now` and
    every time are the vendor's (default `account.now()`)."""
    now = account.now().timestamp() if now is None else now
    with Journal(journal_path) as journal:
        if journal.campaign is None:
            raise UsageError(
                f"{journal_path}: the journal holds no campaign",
                "run the campaign first: batcher run CONTACTS.xlsx",
            )
        if history is not None:
            with History(history, create=False) as calls:
                me = Caller(
                    journal.campaign.id, journal.campaign.name, str(journal_path.resolve()), ""
                )
                journal.adopt_orphans(calls.intents(me), now)
            note_opt_outs_at(journal, history, opt_out_key)  # the stored records' opt-outs
        token = journal.campaign.token
        unknown = _unknown_by_request(journal)
        if not unknown:
            return ReconcileReport(0, 0, 0, 0)
        sent = {r.id: r.sent_epoch for r in journal.requests() if r.id in unknown}
        records = asyncio.run(_fetch(account, min(sent.values()) - SLACK, now + SLACK))
        found = records_found(records, token)
        evidence = _Evidence(journal, found, records)
        counts = {"found": 0, "absent": 0, "unknown": 0, "waiting": 0, "given_up": 0}
        latest_wait = bound_at = 0.0
        for request, callees in unknown.items():
            settled = []
            complete = evidence.complete(request, sent[request])
            for callee in callees:
                if (request, callee) in found:
                    settled.append(
                        (
                            callee,
                            Outcome.ACCEPTED,
                            found[(request, callee)],
                            "found in the vendor's call records by reconcile",
                        )
                    )
                    counts["found"] += 1
                elif complete and now - sent[request] >= settle_seconds:
                    settled.append(
                        (
                            callee,
                            Outcome.FAILED,
                            "",
                            "not in the vendor's call records, which show the request's period "
                            f"complete ({complete}), {(now - sent[request]) / 60:.0f} min after "
                            "the request: nothing was placed; the next run sends it again",
                        )
                    )
                    counts["absent"] += 1
                else:
                    counts["unknown"] += 1
                    if complete:  # only the settle minimum is left
                        latest_wait = max(latest_wait, sent[request] + settle_seconds)
                    elif now < sent[request] + records_wait(settle_seconds):
                        counts["waiting"] += 1
                        bound_at = max(bound_at, sent[request] + records_wait(settle_seconds))
                    else:
                        counts["given_up"] += 1
            if settled:
                journal.settle(request, settled)
        journal.event(
            "reconcile",
            f"{counts['found']} found, {counts['absent']} absent, "
            f"{counts['unknown']} still unknown ({counts['waiting']} waiting for the records, "
            f"{counts['given_up']} given up) ({len(records)} records read)",
        )
    retry_after = _clock(max(latest_wait, now + 60 if counts["waiting"] else 0))
    return ReconcileReport(
        counts["found"],
        counts["absent"],
        counts["unknown"],
        len(records),
        retry_after,
        counts["waiting"],
        counts["given_up"],
        _clock(bound_at),
    )


def records_found(records: Iterable[dict], token: str) -> dict[tuple[int, str], str]:
    """The record-evidence rule: (request, callee) -> voiceId for each call record tagged with
    the campaign's `token` (calledInfo `batcher:<token>:<request>`): that request placed a
    call to that callee."""
    found: dict[tuple[int, str], str] = {}
    for record in records:
        tag = parse_tag(record.get("calledInfo"))
        if tag and tag[0] == token:
            key = (tag[1], str(record.get("callee", "")))
            found[key] = str(record.get("voiceId") or record.get("voice_id") or "")
    return found


def settle_by_records(journal: Journal, records: Iterable[dict], why: str) -> list[str]:
    """Settle, from call records already in hand (fetching nothing), the unknown numbers they
    prove called (`records_found`): accepted, with the record's voiceId and `why` as the
    reason. Only the numbers' rows of the requests the records name are read. The voiceIds
    of the records that settled a number."""
    assert journal.campaign is not None
    by_request: dict[int, dict[str, str]] = {}
    for (request, callee), voice_id in records_found(records, journal.campaign.token).items():
        by_request.setdefault(request, {})[callee] = voice_id
    settled: list[str] = []
    for request, hits in sorted(by_request.items()):
        rows = journal.number_states(requests=[request])
        proven = [
            (callee, Outcome.ACCEPTED, voice_id, why)
            for callee, voice_id in sorted(hits.items())
            if callee in rows and rows[callee].outcome is Outcome.UNKNOWN
        ]
        if proven:
            journal.settle(request, proven)
            settled += [voice_id for _, _, voice_id, _ in proven]
    return settled


class _Evidence:
    """Whether the vendor's records are shown complete for a request's period."""

    def __init__(
        self, journal: Journal, found: dict[tuple[int, str], str], records: list[dict]
    ) -> None:
        # the latest request of the campaign with an accepted number whose record has arrived
        stored = journal.call_records()
        arrived = [r for r, _ in found]
        arrived += [
            state.request
            for state in journal.number_states().values()
            if state.outcome is Outcome.ACCEPTED and state.voice_id in stored
        ]
        self.latest_request = max(arrived, default=0)
        # the latest record of the account the query returned (the vendor's clock)
        self.latest_record = max(filter(None, map(_submitted, records)), default=0.0)

    def complete(self, request: int, sent: float) -> str:
        """Why the records of `request` (sent at the vendor's `sent`) are complete; ''."""
        if self.latest_request >= request:
            return f"records of request {self.latest_request} have arrived"
        if self.latest_record > sent:
            return f"records dated up to {_clock(self.latest_record)} have arrived"
        return ""


def _submitted(record: dict) -> float | None:
    """When the vendor took a call (its record's submitTime), epoch seconds; None unreadable."""
    value = record.get("submitTime")
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC") if epoch else ""


def _unknown_by_request(journal: Journal) -> dict[int, list[str]]:
    unknown: dict[int, list[str]] = {}
    for callee, state in journal.number_states().items():
        if state.outcome is Outcome.UNKNOWN:
            unknown.setdefault(state.request, []).append(callee)
    return unknown


async def _fetch(account: Account, start: float, end: float) -> list[dict[str, object]]:
    """Every call record of the account between two of the vendor's epochs (query_records:
    windows, pages at once)."""
    async with connect(account, "read", PAGES_IN_FLIGHT) as api:
        return await query_records(api, start, end)
