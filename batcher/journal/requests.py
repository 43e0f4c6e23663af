"""The requests table: every sendGroup request of the campaign, its intent and its outcome.

A request row is written twice: its intent (its numbers, state 'intent') before its first byte
leaves, its outcome (state 'done': one outcome for all its numbers, or the vendor's answer per
number as JSON) once the answer is parsed. A request still 'intent' when a journal is claimed
again was in flight when batcher stopped: `recover` makes it unknown. `adopt` records the call
history's reservations that never became a request. Each of these writes request rows only: the
numbers table's triggers write their numbers' rows in the same statement
(batcher.journal.numbers).
"""

from __future__ import annotations

import sqlite3
import time

import orjson

from batcher.clock import iso_utc
from batcher.journal.rows import CampaignInfo, Request, utc_now
from batcher.journal.schema import DONE, INTENT
from batcher.outcomes import Outcome

RECOVERED = (
    "batcher stopped while this request was in flight: calls may have been placed "
    "(run batcher reconcile)"
)
ADOPTED = (
    "reserved in the call history, but batcher stopped before recording the request: "
    "most likely never called (run batcher reconcile to settle it)"
)


def begin(
    db: sqlite3.Connection,
    campaign: CampaignInfo,
    batch: int,
    attempt: int,
    callees: list[str],
    params: str,
    intent: str,
    now: float | None = None,
) -> tuple[int, str]:
    """Record a request's intent; its id and calledInfo tag. `now`: the vendor's time the
    caller decided it at (Settings.now); a journal written before stored this machine's."""
    now = time.time() if now is None else now
    request_id = _inserted(
        db.execute(
            "INSERT INTO requests (batch, attempt, tag, callees, state, sent_at, sent_epoch,"
            " params, intent) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)",
            (batch, attempt, ",".join(callees), INTENT, iso_utc(now), now, params, intent),
        )
    )
    tag = campaign.tag(request_id)
    db.execute("UPDATE requests SET tag = ? WHERE id = ?", (tag, request_id))
    return request_id, tag


def finish(
    db: sqlite3.Connection,
    request_id: int,
    outcome: Outcome | None,
    reason: str,
    *,
    http_status: int | None = None,
    api_status: str | None = None,
    latency: float | None = None,
    results: dict[str, list[str]] | None = None,
) -> None:
    """Record what came of a request: one outcome for all its numbers, or (outcome None)
    per-number `results` from a status "0" answer; a number missing from them is unknown."""
    if outcome is None and results is None:
        results = {}
    db.execute(
        "UPDATE requests SET state = ?, outcome = ?, reason = ?, http_status = ?,"
        " api_status = ?, latency = ?, finished_at = ?, results = ? WHERE id = ?",
        (
            DONE,
            outcome,
            reason,
            http_status,
            api_status,
            latency,
            utc_now(),
            None if results is None else orjson.dumps(results).decode(),
            request_id,
        ),
    )


def recover(db: sqlite3.Connection) -> int:
    """Requests left in flight by a dead process become unknown; how many."""
    return db.execute(
        "UPDATE requests SET state = ?, outcome = ?, finished_at = ?, reason = ? WHERE state = ?",
        (DONE, Outcome.UNKNOWN, utc_now(), RECOVERED, INTENT),
    ).rowcount


def adopt(
    db: sqlite3.Connection,
    campaign: CampaignInfo,
    intent: str,
    callees: list[str],
    now: float | None = None,
) -> int:
    """Record a reservation of the call history that never became a request as one, its
    numbers unknown (never sent again on a guess: reconcile settles them); its id. `now`:
    the reservation's time in the call history (the vendor's clock)."""
    now = time.time() if now is None else now
    at = iso_utc(now)
    request_id = _inserted(
        db.execute(
            "INSERT INTO requests (batch, attempt, tag, callees, state, outcome, reason,"
            " sent_at, sent_epoch, finished_at, intent) VALUES (0, 1, '', ?, ?, ?, ?, ?, ?, ?, ?)",
            (",".join(callees), DONE, Outcome.UNKNOWN, ADOPTED, at, now, at, intent),
        )
    )
    db.execute("UPDATE requests SET tag = ? WHERE id = ?", (campaign.tag(request_id), request_id))
    return request_id


def next_batch(db: sqlite3.Connection) -> int:
    """The next unused batch number of the campaign."""
    return db.execute("SELECT coalesce(max(batch), 0) FROM requests").fetchone()[0] + 1


def count(db: sqlite3.Connection) -> int:
    """How many requests the campaign has made."""
    return db.execute("SELECT count(*) FROM requests").fetchone()[0]


def intents(db: sqlite3.Connection) -> set[str]:
    """The call-history reservations the requests carry."""
    return {i for (i,) in db.execute("SELECT DISTINCT intent FROM requests")}


def every(db: sqlite3.Connection) -> list[Request]:
    """Every request in order."""
    fields = ", ".join(Request._fields)
    return [Request._make(row) for row in db.execute(f"SELECT {fields} FROM requests ORDER BY id")]


def ids(db: sqlite3.Connection, after: int, answered: bool) -> list[int]:
    """The ids of the requests after `after`, in order (if `answered`, only those whose
    outcome is on disk)."""
    query = "SELECT id FROM requests WHERE id > ? AND state IN (?, ?) ORDER BY id"
    wanted = (DONE, DONE) if answered else (DONE, INTENT)
    return [i for (i,) in db.execute(query, (after, *wanted))]


def last_id(db: sqlite3.Connection) -> int:
    """The id of the latest request (0: none yet)."""
    return db.execute("SELECT coalesce(max(id), 0) FROM requests").fetchone()[0]


def last(db: sqlite3.Connection) -> tuple[float, int] | None:
    """(sent epoch, numbers) of the latest request, for pacing across runs."""
    row = db.execute("SELECT sent_epoch, callees FROM requests ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return row[0], (row[1].count(",") + 1 if row[1] else 0)


def _inserted(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT made."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid
