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
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from batcher import client
from batcher.client import ApiError
from batcher.errors import StoppedByAPI, UsageError
from batcher.journal import ACCEPTED, FAILED, UNKNOWN, Journal
from batcher.settings import Credentials

TAG = re.compile(r"batcher:([0-9a-f]{8}):(\d+)")
PAGE_SIZE = 100
WINDOW_MAX = 31 * 24 * 3600  # the API's longest query window
SLACK = 120.0  # seconds before the first request, for clock differences


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
    base_url: str,
    credentials: Credentials,
    settle_seconds: float,
    ca_bundle: str | None = None,
    now: float | None = None,
) -> ReconcileReport:
    """Settle the unknown numbers of the journal's latest campaign from the call records."""
    with Journal(journal_path) as journal:
        campaigns = journal.campaigns()
        if not campaigns:
            raise UsageError(f"{journal_path}: the journal holds no campaign", "")
        journal.use_campaign(int(campaigns[-1]["id"]))
        token = str(campaigns[-1]["identity"])[:8]
        unknown = _unknown_by_request(journal)
        if not unknown:
            return ReconcileReport(0, 0, 0, 0)
        sent = {r["id"]: float(r["sent_epoch"]) for r in journal.requests() if r["id"] in unknown}
        start = min(sent.values()) - SLACK
        records = asyncio.run(_fetch(base_url, credentials, start, ca_bundle))
        found: dict[tuple[int, str], str] = {}
        for record in records:
            match = TAG.search(str(record.get("calledInfo", "")))
            if match and match.group(1) == token:
                key = (int(match.group(2)), str(record.get("callee", "")))
                found[key] = str(record.get("voiceId") or record.get("voice_id") or "")
        now = time.time() if now is None else now
        counts = {"found": 0, "absent": 0, "unknown": 0}
        latest_wait = 0.0
        for request, callees in unknown.items():
            settled = []
            for callee in callees:
                if (request, callee) in found:
                    settled.append((callee, ACCEPTED, found[(request, callee)],
                                    "found in the vendor's call records by reconcile"))
                    counts["found"] += 1
                elif now - sent[request] >= settle_seconds:
                    settled.append((callee, FAILED, "", "not in the vendor's call records "
                                    f"{(now - sent[request]) / 60:.0f} min after the request: "
                                    "nothing was placed; the next run sends it again"))
                    counts["absent"] += 1
                else:
                    counts["unknown"] += 1
                    latest_wait = max(latest_wait, sent[request] + settle_seconds)
            if settled:
                journal.settle(request, settled)
        journal.event("reconcile", f"{counts['found']} found, {counts['absent']} absent, "
                      f"{counts['unknown']} still unknown ({len(records)} records read)")
    retry_after = (datetime.fromtimestamp(latest_wait, UTC).strftime("%H:%M UTC")
                   if latest_wait else "")
    return ReconcileReport(counts["found"], counts["absent"], counts["unknown"], len(records),
                           retry_after)


def _unknown_by_request(journal: Journal) -> dict[int, list[str]]:
    unknown: dict[int, list[str]] = {}
    for callee, state in journal.number_states().items():
        if state.outcome == UNKNOWN:
            unknown.setdefault(state.request, []).append(callee)
    return unknown


async def _fetch(
    base_url: str, credentials: Credentials, start: float, ca_bundle: str | None
) -> list[dict[str, object]]:
    """Every call record from `start` until now, window by window, page by page."""
    records: list[dict[str, object]] = []
    end = time.time() + SLACK
    async with client.make_session(10.0, 60.0, 2, ca_bundle) as session:
        window_start = start
        while window_start < end:
            window_end = min(window_start + WINDOW_MAX - 60, end)
            page = 1
            while True:
                body = {"current": page, "size": PAGE_SIZE,
                        "params": {"strTime": _iso(window_start), "endTime": _iso(window_end)}}
                data = await _query(session, base_url, credentials, body)
                batch = data.get("records", []) if isinstance(data, dict) else []
                records.extend(r for r in batch if isinstance(r, dict))
                total = int(data.get("total", 0)) if isinstance(data, dict) else 0
                if not batch or page * PAGE_SIZE >= total:
                    break
                page += 1
            window_start = window_end
    return records


async def _query(session, base_url: str, credentials: Credentials, body: dict) -> object:
    try:
        data, _ = await client.call(session, base_url, credentials, "POST",
                                    "/voice/recordGroupQuery", body)
    except ApiError as exc:
        fix = client.STOP_STATUSES.get(exc.status, "check --base-url and try again later")
        raise StoppedByAPI(f"recordGroupQuery refused: {exc}", fix) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise StoppedByAPI(f"could not read the call records: {type(exc).__name__} {exc}",
                           "check the network and --base-url, then run reconcile again") from None
    return data


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
