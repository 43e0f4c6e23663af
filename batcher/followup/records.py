"""Records: what became of each accepted call, from the vendor's call records.

A few numbers are read one by one (`GET /voice/recordGroup/{voiceId}`, `concurrency` at a
time); many are read by time window (`POST /voice/recordGroupQuery`, windows of at most 31 days,
pages of 100) and matched by voiceId, or by callee plus the request's calledInfo tag. Records
are stored in the journal, so a second run only asks for those still missing or incomplete
(records lag the calls, and a call still ringing has no hangupTime yet). How a record is
shown in the workbook (`RECORD_COLUMNS`, `record_columns`, `records_summary`) lives in results.

The HTTP is batcher.voiceapi's: `call_records.record` and `query_records` (pages fetched
concurrently), over one `Api` per fetch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from batcher.errors import UsageError
from batcher.journal import Journal, parse_tag
from batcher.outcomes import Outcome
from batcher.settings import Account, HistoryLocation
from batcher.voiceapi import callrecord
from batcher.workbook.columns import RECORD_COLUMNS, record_columns, records_summary  # noqa: F401

# batcher.voiceapi (and with it aiohttp) is imported by the fetching functions only: the
# workbook code imports this module for RECORD_COLUMNS, and a dry run must not load aiohttp

SAVE_EVERY = 500  # records fetched one by one are committed in chunks: an error loses little


@dataclass(frozen=True)
class RecordsReport:
    """What one fetch did (requested, fetched) and what the journal now knows (the rest)."""

    requested: int  # records asked for this time (not yet stored, or stored incomplete)
    fetched: int  # records stored this time
    missing: int  # accepted numbers still without a complete record (run again later)
    answered: int  # stored records of answered calls
    total_cost: Decimal  # sum of the stored records' cost
    answer_rate: float | None  # answered / stored records; None without records
    accepted: int = 0  # accepted numbers with a voiceId in the campaign
    opted_out: int = 0  # records showing the opt-out key, put on the do-not-call register now


def fetch_records(
    journal_path: Path,
    account: Account,
    concurrency: int = 8,
    query_threshold: int = 200,
    *,
    history: HistoryLocation | Path | None = None,
    opt_out_key: str | None = None,
) -> RecordsReport:
    """Fetch and store the call records of the latest campaign's accepted numbers; with the
    call `history`, put the callees whose records show the opt-out key (`opt_out_key`, else
    the journal's) on its do-not-call register, even when the fetch stops half way."""
    if not journal_path.exists():
        raise UsageError(f"{journal_path}: no such journal", "give the .journal file a run wrote")
    with Journal(journal_path) as journal:
        if journal.campaign is None:
            raise UsageError(
                f"{journal_path}: the journal holds no campaign",
                "run the campaign first: batcher run CONTACTS.xlsx",
            )
        try:
            report = fetch_into(journal, account, concurrency, query_threshold)
        finally:
            opted = note_opt_outs_at(journal, history, opt_out_key)
        return replace(report, opted_out=opted)


def note_opt_outs_at(
    journal: Journal, history: HistoryLocation | Path | None, key: str | None = None
) -> int:
    """`register.note_opt_outs` with the call history at this path (none: nothing noted)."""
    if history is None or not (key or journal.opt_out_key):
        return 0
    from batcher.history import History
    from batcher.register import note_opt_outs

    with History(history) as calls:
        return note_opt_outs(journal, calls, key)


def fetch_into(
    journal: Journal,
    account: Account,
    concurrency: int = 8,
    query_threshold: int = 200,
) -> RecordsReport:
    """fetch_records on a journal this process already holds (a run, before it chooses)."""
    assert journal.campaign is not None  # claimed by the run, or checked by fetch_records
    token = journal.campaign.token
    accepted = {
        state.voice_id: (callee, state.request)
        for callee, state in journal.number_states().items()
        if state.outcome is Outcome.ACCEPTED and state.voice_id
    }
    stored = journal.call_records()
    wanted = {v: who for v, who in accepted.items() if not callrecord.complete(stored.get(v))}
    fetched = 0
    if wanted and len(wanted) <= query_threshold:
        fetched = asyncio.run(_by_voice_id(journal, list(wanted), account, max(1, concurrency)))
    elif wanted:
        sent = {r.id: r.sent_epoch for r in journal.requests()}
        epochs = [sent[request] for _, request in wanted.values()]
        fetched = asyncio.run(
            _by_query(
                journal,
                wanted,
                token,
                min(epochs),
                max(epochs),
                account,
            )
        )
    if wanted:
        missing = sum(1 for v in accepted if not callrecord.complete(journal.call_records().get(v)))
        journal.event(
            "records", f"{len(wanted)} requested, {fetched} fetched, {missing} still missing"
        )
    return _report(journal, accepted, len(wanted), fetched)


def kept_records(
    journal_path: Path,
    *,
    history: HistoryLocation | Path | None = None,
    opt_out_key: str | None = None,
) -> RecordsReport:
    """What the journal's records say, fetching nothing (a trial's, kept by `run --sandbox`);
    their opt-outs noted on the `history`'s register (a trial's hold only trials)."""
    with Journal(journal_path, readonly=history is None) as journal:
        accepted = {
            state.voice_id: (callee, state.request)
            for callee, state in journal.number_states().items()
            if state.outcome is Outcome.ACCEPTED and state.voice_id
        }
        opted = note_opt_outs_at(journal, history, opt_out_key)
        return replace(_report(journal, accepted, 0, 0), opted_out=opted)


def _report(journal: Journal, accepted: dict, requested: int, fetched: int) -> RecordsReport:
    stored = {v: r for v, r in journal.call_records().items() if v in accepted}
    answered, cost, rate = callrecord.stats(stored.values())
    missing = sum(1 for v in accepted if not callrecord.complete(stored.get(v)))
    return RecordsReport(requested, fetched, missing, answered, cost, rate, len(accepted))


async def _by_voice_id(
    journal: Journal,
    voice_ids: list[str],
    account: Account,
    concurrency: int,
) -> int:
    from batcher.voiceapi import call_records
    from batcher.voiceapi.http import connect, gather_bounded

    saved = 0
    async with connect(account, "read", concurrency) as api:
        for first in range(0, len(voice_ids), SAVE_EVERY):
            chunk = voice_ids[first : first + SAVE_EVERY]
            found = await gather_bounded((call_records.record(api, v) for v in chunk), concurrency)
            saved += journal.save_records([r for r in found if r])
    return saved


async def _by_query(
    journal: Journal,
    wanted: dict[str, tuple[str, int]],
    token: str,
    first_sent: float,
    last_sent: float,
    account: Account,
) -> int:
    from batcher.voiceapi import call_records
    from batcher.voiceapi.http import PAGES_IN_FLIGHT, connect

    by_tag = {(request, callee): voice_id for voice_id, (callee, request) in wanted.items()}
    slack = call_records.SLACK
    end = min(last_sent, account.now().timestamp()) + slack  # the vendor's epochs
    async with connect(account, "read", PAGES_IN_FLIGHT) as api:
        records = await call_records.query_records(api, first_sent - slack, end)
    found: dict[str, dict] = {}
    for one in records:
        voice_id: str | None = str(one.get("voiceId") or "")
        if voice_id not in wanted:
            tag = parse_tag(one.get("calledInfo"))
            voice_id = None
            if tag and tag[0] == token:
                voice_id = by_tag.get((tag[1], str(one.get("callee") or "")))
        if voice_id:
            # stored under the journal's voiceId, which the Results rows are joined on
            found[voice_id] = {**one, "voiceId": voice_id}
    return journal.save_records(list(found.values()))


# -- reading one record ------------------------------------------------------------------------
