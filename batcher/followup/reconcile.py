"""Reconcile: settle `unknown` numbers from the vendor's own call records.

A request whose answer was lost may or may not have placed its calls. Every request carries a
tag in calledInfo (`batcher:<campaign>:<request>`), and the vendor stores calledInfo with each
call record, so `recordGroupQuery` over the request's time window says which of its numbers
were really called. Found: accepted, with the record's voiceId. Absent once `settle` has passed
since the request (records lag the calls): nothing was placed, so the next run may send it.
Absent sooner: still unknown; run reconcile again later.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from batcher.errors import UsageError
from batcher.history import Caller, History
from batcher.journal import Journal, parse_tag
from batcher.outcomes import Outcome
from batcher.settings import Account
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


def reconcile(
    journal_path: Path,
    account: Account,
    settle_seconds: float,
    now: float | None = None,
    history: Path | None = None,
) -> ReconcileReport:
    """Settle the unknown numbers of the journal's campaign from the call records (first
    adopting the numbers the call `history` says it reserved but never recorded)."""
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
                journal.adopt_orphans(calls.intents(me))
        token = journal.campaign.token
        unknown = _unknown_by_request(journal)
        if not unknown:
            return ReconcileReport(0, 0, 0, 0)
        sent = {r.id: r.sent_epoch for r in journal.requests() if r.id in unknown}
        start = min(sent.values()) - SLACK
        records = asyncio.run(_fetch(account, start))
        found: dict[tuple[int, str], str] = {}
        for record in records:
            tag = parse_tag(record.get("calledInfo"))
            if tag and tag[0] == token:
                key = (tag[1], str(record.get("callee", "")))
                found[key] = str(record.get("voiceId") or record.get("voice_id") or "")
        now = time.time() if now is None else now
        counts = {"found": 0, "absent": 0, "unknown": 0}
        latest_wait = 0.0
        for request, callees in unknown.items():
            settled = []
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
                elif now - sent[request] >= settle_seconds:
                    settled.append(
                        (
                            callee,
                            Outcome.FAILED,
                            "",
                            "not in the vendor's call records "
                            f"{(now - sent[request]) / 60:.0f} min after the request: "
                            "nothing was placed; the next run sends it again",
                        )
                    )
                    counts["absent"] += 1
                else:
                    counts["unknown"] += 1
                    latest_wait = max(latest_wait, sent[request] + settle_seconds)
            if settled:
                journal.settle(request, settled)
        journal.event(
            "reconcile",
            f"{counts['found']} found, {counts['absent']} absent, "
            f"{counts['unknown']} still unknown ({len(records)} records read)",
        )
    retry_after = (
        datetime.fromtimestamp(latest_wait, UTC).strftime("%H:%M UTC") if latest_wait else ""
    )
    return ReconcileReport(
        counts["found"], counts["absent"], counts["unknown"], len(records), retry_after
    )


def _unknown_by_request(journal: Journal) -> dict[int, list[str]]:
    unknown: dict[int, list[str]] = {}
    for callee, state in journal.number_states().items():
        if state.outcome is Outcome.UNKNOWN:
            unknown.setdefault(state.request, []).append(callee)
    return unknown


async def _fetch(account: Account, start: float) -> list[dict[str, object]]:
    """Every call record from `start` until now (query_records: windows, pages at once)."""
    async with connect(account, "read", PAGES_IN_FLIGHT) as api:
        return await query_records(api, start, time.time() + SLACK)
