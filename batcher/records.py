"""Records: what became of each accepted call, from the vendor's call records.

A few numbers are read one by one (`GET /voice/recordGroup/{voiceId}`, `concurrency` at a
time); many are read by time window (`POST /voice/recordGroupQuery`, windows of at most 31 days,
pages of 100) and matched by voiceId, or by callee plus the request's calledInfo tag. Records
are stored in the journal, so a second run only asks for those still missing or incomplete
(records lag the calls, and a call still ringing has no hangupTime yet). How a record is
shown in the workbook (`RECORD_COLUMNS`, `record_columns`, `records_summary`) lives in results.

`fetch_pages` and `query_records` are the paging shared with reconcile and audio.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote

import aiohttp

from batcher import client
from batcher.check import Clock, signed_call
from batcher.client import ApiError
from batcher.errors import StoppedByAPI, UsageError
from batcher.journal import ACCEPTED, Journal
from batcher.results import RECORD_COLUMNS, record_columns, records_summary  # noqa: F401
from batcher.settings import Credentials

TAG = re.compile(r"batcher:([0-9a-f]{8}):(\d+)")
PAGE_SIZE = 100  # the API's largest page
WINDOW_MAX = 31 * 24 * 3600 - 60  # the API's longest query window, less a minute of margin
RECORDS_KEPT = 60 * 24 * 3600  # the vendor keeps records "about two months"
SLACK = 600.0  # seconds around the sends: more than any clock skew the API lets through
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


def fetch_records(
    journal_path: Path,
    base_url: str,
    credentials: Credentials,
    ca_bundle: str | None = None,
    concurrency: int = 8,
    query_threshold: int = 200,
) -> RecordsReport:
    """Fetch and store the call records of the latest campaign's accepted numbers."""
    if not journal_path.exists():
        raise UsageError(f"{journal_path}: no such journal", "give the .journal file a run wrote")
    with Journal(journal_path) as journal:
        latest = journal.use_latest()
        token = str(latest["identity"])[:8]
        accepted = {
            state.voice_id: (callee, state.request)
            for callee, state in journal.number_states().items()
            if state.outcome == ACCEPTED and state.voice_id
        }
        stored = journal.call_records()
        wanted = {v: who for v, who in accepted.items() if not _complete(stored.get(v))}
        fetched = 0
        if wanted and len(wanted) <= query_threshold:
            fetched = asyncio.run(
                _by_voice_id(
                    journal, list(wanted), base_url, credentials, ca_bundle, max(1, concurrency)
                )
            )
        elif wanted:
            sent = {int(r["id"]): float(r["sent_epoch"]) for r in journal.requests()}
            epochs = [sent[request] for _, request in wanted.values()]
            fetched = asyncio.run(
                _by_query(
                    journal,
                    wanted,
                    token,
                    min(epochs),
                    max(epochs),
                    base_url,
                    credentials,
                    ca_bundle,
                )
            )
        stored = {v: r for v, r in journal.call_records().items() if v in accepted}
        answered, cost, rate = _stats(stored.values())
        missing = sum(1 for v in accepted if not _complete(stored.get(v)))
        if wanted:
            journal.event(
                "records", f"{len(wanted)} requested, {fetched} fetched, {missing} still missing"
            )
    return RecordsReport(len(wanted), fetched, missing, answered, cost, rate, len(accepted))


# -- paging (shared with reconcile and audio) -------------------------------------------------


async def fetch_pages(
    session: aiohttp.ClientSession,
    base_url: str,
    credentials: Credentials,
    path: str,
    params: dict[str, object] | None = None,
    clock: Clock | None = None,
) -> list[dict[str, object]]:
    """Every record of a paged endpoint (fileQuery, recordGroupQuery), 100 to a page."""
    records: list[dict[str, object]] = []
    page = 1
    while True:
        body: dict[str, object] = {"current": page, "size": PAGE_SIZE}
        if params is not None:
            body["params"] = params
        try:
            data = await signed_call(session, base_url, credentials, "POST", path, body, clock)
        except ApiError as exc:
            raise StoppedByAPI(
                f"{path} refused: {exc}", "check --base-url, then try again in a few minutes"
            ) from None
        batch = data.get("records") if isinstance(data, dict) else None
        batch = batch if isinstance(batch, list) else []
        records.extend(r for r in batch if isinstance(r, dict))
        total = _number(data.get("total")) if isinstance(data, dict) else 0
        if not batch or not isinstance(total, int) or page * PAGE_SIZE >= total:
            return records
        page += 1


async def query_records(
    session: aiohttp.ClientSession,
    base_url: str,
    credentials: Credentials,
    start: float,
    end: float,
    clock: Clock | None = None,
) -> list[dict[str, object]]:
    """Every call record submitted between two local epochs, window by window, once each."""
    clock = clock if clock is not None else Clock()
    start = max(start, time.time() - RECORDS_KEPT)  # older ones are gone; asking is -22
    seen: dict[str, dict[str, object]] = {}
    unnamed: list[dict[str, object]] = []
    window_start = start
    while window_start < end:
        window_end = min(window_start + WINDOW_MAX, end)
        while True:
            # records carry the server's clock: shift the window by what we know of the skew
            offset = clock.offset
            params = {"strTime": _iso(window_start + offset), "endTime": _iso(window_end + offset)}
            batch = await fetch_pages(
                session, base_url, credentials, "/voice/recordGroupQuery", params, clock
            )
            if clock.offset == offset:
                break  # else the clock was corrected mid-window: ask again with the right one
        for record in batch:
            voice_id = str(record.get("voiceId") or "")
            # windows share their boundary second: keep each record once
            if voice_id:
                seen[voice_id] = record
            else:
                unnamed.append(record)
        window_start = window_end
    return [*seen.values(), *unnamed]


# -- fetching ----------------------------------------------------------------------------------


async def _by_voice_id(
    journal: Journal,
    voice_ids: list[str],
    base_url: str,
    credentials: Credentials,
    ca_bundle: str | None,
    concurrency: int,
) -> int:
    clock, gate = Clock(), asyncio.Semaphore(concurrency)
    saved = 0
    async with client.make_session(10.0, 60.0, concurrency, ca_bundle) as session:

        async def one(voice_id: str) -> dict | None:
            async with gate:
                try:
                    data = await signed_call(
                        session,
                        base_url,
                        credentials,
                        "GET",
                        f"/voice/recordGroup/{quote(voice_id, safe='')}",
                        None,
                        clock,
                    )
                except ApiError:
                    return None  # -22: no record (yet) for this voiceId; -18: ask next time
            return {**data, "voiceId": voice_id} if isinstance(data, dict) else None

        for first in range(0, len(voice_ids), SAVE_EVERY):
            chunk = voice_ids[first : first + SAVE_EVERY]
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(one(v)) for v in chunk]
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None  # a StoppedByAPI with its fix
            saved += journal.save_records([r for t in tasks if (r := t.result())])
    return saved


async def _by_query(
    journal: Journal,
    wanted: dict[str, tuple[str, int]],
    token: str,
    first_sent: float,
    last_sent: float,
    base_url: str,
    credentials: Credentials,
    ca_bundle: str | None,
) -> int:
    by_tag = {(request, callee): voice_id for voice_id, (callee, request) in wanted.items()}
    end = min(last_sent, time.time()) + SLACK
    async with client.make_session(10.0, 60.0, 2, ca_bundle) as session:
        records = await query_records(session, base_url, credentials, first_sent - SLACK, end)
    found: dict[str, dict] = {}
    for record in records:
        voice_id: str | None = str(record.get("voiceId") or "")
        if voice_id not in wanted:
            match = TAG.search(str(record.get("calledInfo") or ""))
            voice_id = None
            if match and match.group(1) == token:
                voice_id = by_tag.get((int(match.group(2)), str(record.get("callee") or "")))
        if voice_id:
            # stored under the journal's voiceId, which the Results rows are joined on
            found[voice_id] = {**record, "voiceId": voice_id}
    return journal.save_records(list(found.values()))


# -- reading one record ------------------------------------------------------------------------


def _complete(record: dict | None) -> bool:
    """A record of a finished call: it has its SIP code and hangup time."""
    return bool(record and _text(record.get("terminationCode")) and record.get("hangupTime"))


def _answered(record: dict) -> bool:
    return bool(record.get("answerTime")) or _text(record.get("terminationCode")) == "200"


def _cost(record: dict) -> Decimal:
    try:
        cost = Decimal(str(record.get("cost") or 0))
    except InvalidOperation:
        return Decimal(0)
    return cost if cost.is_finite() else Decimal(0)


def _stats(records: Iterable[dict]) -> tuple[int, Decimal, float | None]:
    """(answered calls, total cost, answer rate) over some records."""
    records = list(records)
    answered = sum(1 for r in records if _answered(r))
    cost = sum((_cost(r) for r in records), Decimal(0))
    return answered, cost, (answered / len(records) if records else None)


def _number(value: object) -> object:
    """An int from the API's int or digit string; anything else as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value)
    return int(text) if re.fullmatch(r"-?[0-9]{1,15}", text) else text


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
