"""The numbers table: a row per number a request carried, updated in place.

A row says what one request left one of its numbers in: the outcome and reason, voiceId and
termination code, and the evidence for that outcome with when it was recorded:

    intent      the request is in flight: unknown until its answer is on disk
    answer      the request's answer named the number: accepted or rejected, with the reason
    missing     the answer said success but did not name it: unknown
    request     the request's one outcome for all its numbers: an error answer, or batcher
                stopped while it was in flight (its reason says which)
    settlement  settled later: reconcile found it in the call records or not, the breaker,
                --resend-unknown (its reason says which)

A number's state is its row of its latest request (a number sent once, most of them, has one
row); its calls are its rows whose request may have placed one (accepted or unknown).

The rows are written in the transaction that writes what they follow from: the journal calls
`intend` with a request's intent, and `derive` with its outcome, a settlement or its recovery.
`derive` is the one rule that turns a request (its outcome, its answer, its settlements) into
its numbers' rows, whenever it runs, from the request row itself (SQL over its answer), so the
two cannot disagree. Numbers the campaign held back without sending them are not here: they are the
campaign's decisions (`held`, batcher.journal.runs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from batcher import collector
from batcher.journal.rows import Call, NumberState
from batcher.journal.schema import INTENT
from batcher.outcomes import Outcome

MISSING = (
    "the answer said success but did not mention this number: it may have been called "
    "(run batcher reconcile)"
)

# a request's numbers are in flight: a row each, after every earlier request's
_INTEND = """
INSERT OR IGNORE INTO numbers (request, callee, outcome, reason, voice_id, termination_code,
    termination_reason, evidence, at)
SELECT :id, value, 'unknown', '', '', '', '', 'intent', :at FROM json_each(:callees)
"""

# What a request left its numbers in: its one outcome for all of them; or its answer, which
# leaves a number it does not name unknown; then its settlements, which override either. Each
# statement reads the request's rows only (a few pages); the request row's fields are
# parameters (read once: reading them for each number walked its overflow pages, 2 ms).
_WHOLE = """
UPDATE numbers SET outcome = :outcome, reason = :reason, voice_id = '', termination_code = '',
    termination_reason = '', evidence = :evidence, at = :at
WHERE request = :id
"""
# (MATERIALIZED: else SQLite reads the whole answer again for each of the request's rows)
_ANSWER = """
WITH answer AS MATERIALIZED (
    SELECT key AS callee, json_extract(value, '$[0]') AS said,
        json_extract(value, '$[1]') AS voice_id, json_extract(value, '$[2]') AS code,
        json_extract(value, '$[3]') AS why
    FROM json_each((SELECT results FROM requests WHERE id = :id))
)
UPDATE numbers SET
    outcome = CASE answer.said WHEN 'accepted' THEN 'accepted' ELSE 'rejected' END,
    reason = CASE answer.said WHEN 'accepted' THEN '' ELSE answer.why END,
    voice_id = answer.voice_id, termination_code = answer.code,
    termination_reason = answer.why, evidence = 'answer', at = :at
FROM answer
WHERE numbers.request = :id AND numbers.callee = answer.callee
"""
_MISSING = """
UPDATE numbers SET outcome = 'unknown', reason = :missing, voice_id = '',
    termination_code = '', termination_reason = '', evidence = 'missing', at = :at
WHERE request = :id
    AND callee NOT IN (SELECT key FROM json_each((SELECT results FROM requests WHERE id = :id)))
"""
_SETTLED = """
UPDATE numbers SET outcome = s.outcome, reason = s.reason, voice_id = s.voice_id,
    evidence = 'settlement', at = s.at
FROM settlements AS s
WHERE s.request = :id AND numbers.request = :id AND numbers.callee = s.callee
"""

_OF_REQUEST = (
    "SELECT callee, outcome, reason, voice_id, termination_code, termination_reason"
    " FROM numbers WHERE request = ?"
)
_OUTCOMES = {str(o): o for o in Outcome}


def intend(db: sqlite3.Connection, request_id: int) -> None:
    """The request's numbers are in flight: a row each, unknown (with its intent)."""
    callees, sent_at = db.execute(
        "SELECT callees, sent_at FROM requests WHERE id = ?", (request_id,)
    ).fetchone()
    listed = orjson.dumps(callees.split(",") if callees else []).decode()
    db.execute(_INTEND, {"id": request_id, "callees": listed, "at": sent_at})


def derive(db: sqlite3.Connection, request_id: int) -> None:
    """Its numbers' rows from what the request row and its settlements say now (with them)."""
    state, outcome, reason, at, answered = db.execute(
        "SELECT state, outcome, reason, coalesce(finished_at, sent_at), results IS NOT NULL"
        " FROM requests WHERE id = ?",
        (request_id,),
    ).fetchone()
    if not answered:
        evidence = "intent" if state == INTENT else "request"
        whole = {"outcome": outcome or "unknown", "reason": reason or "", "evidence": evidence}
        db.execute(_WHOLE, {"id": request_id, "at": at, **whole})
    else:
        named = db.execute(_ANSWER, {"id": request_id, "at": at}).rowcount
        rows = db.execute("SELECT count(*) FROM numbers WHERE request = ?", (request_id,))
        if named < rows.fetchone()[0]:  # the answer left some out (rare: skipped otherwise)
            db.execute(_MISSING, {"id": request_id, "at": at, "missing": MISSING})
    db.execute(_SETTLED, {"id": request_id})


def settle(db: sqlite3.Connection, request_id: int, settled: Iterable[tuple], at: str) -> int:
    """Record reconciled outcomes (callee, outcome, voiceId, reason) of one request, and so
    its rows for those numbers; how many."""
    rows = [(request_id, c, str(o), v, r, at) for c, o, v, r in settled]
    db.executemany("INSERT OR REPLACE INTO settlements VALUES (?, ?, ?, ?, ?, ?)", rows)
    derive(db, request_id)
    return len(rows)


def states(
    db: sqlite3.Connection, *, after: int = 0, requests: Iterable[int] | None = None
) -> dict[str, NumberState]:
    """One state per number: its latest row. Only the numbers whose latest request is after
    `after`; or what the `requests` left their numbers in (the latest of them winning)."""
    if requests is None:
        query = "SELECT id, batch, sent_at FROM requests WHERE id > ? ORDER BY id"
        chosen = db.execute(query, (after,)).fetchall()
    else:
        query = (
            "SELECT id, batch, sent_at FROM requests"
            " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
        )
        chosen = db.execute(query, (orjson.dumps(list(requests)).decode(),)).fetchall()
    outcomes, new = _OUTCOMES, tuple.__new__
    found: dict[str, NumberState] = {}
    # a million numbers: one tuple each, made with tuple.__new__ (a NamedTuple's own
    # constructor is Python, 3x slower), a request at a time (its batch and time shared, no
    # column to read for them: 20% faster than one query); a later request's row wins
    with collector.paused():
        for rid, batch, sent_at in chosen:
            rows = db.execute(_OF_REQUEST, (rid,)).fetchall()  # fetchall: 20% faster
            for callee, outcome, reason, voice_id, code, why in rows:
                found[callee] = new(
                    NumberState,
                    (outcomes[outcome], reason, voice_id, code, why, batch, rid, sent_at),
                )
    return found


def calls(db: sqlite3.Connection) -> dict[str, list[Call]]:
    """Every attempt per number, in order: the rows whose request may have placed a call to
    it (accepted or unknown, settlements applied: a reconciled-absent unknown is no call)."""
    query = "SELECT callee, outcome, voice_id FROM numbers WHERE request = ? AND outcome IN (?, ?)"
    placed = (Outcome.ACCEPTED, Outcome.UNKNOWN)
    outcomes, new = _OUTCOMES, tuple.__new__
    found: dict[str, list[Call]] = {}
    with collector.paused():
        for rid, sent_at, epoch in db.execute(
            "SELECT id, sent_at, sent_epoch FROM requests ORDER BY id"
        ).fetchall():
            for callee, outcome, voice_id in db.execute(query, (rid, *placed)).fetchall():
                mine = found.setdefault(callee, [])
                call = (rid, len(mine) + 1, sent_at, epoch, voice_id, outcomes[outcome])
                mine.append(new(Call, call))
    return found


def settled(db: sqlite3.Connection, after: int) -> list[int]:
    """The ids of the requests after `after` that have settlements, in order."""
    query = "SELECT DISTINCT request FROM settlements WHERE request > ? ORDER BY request"
    return [i for (i,) in db.execute(query, (after,))]


def sent(db: sqlite3.Connection, callees: Iterable[str]) -> set[str]:
    """Which of these numbers some request carried (one scan of the table)."""
    query = "SELECT DISTINCT callee FROM numbers WHERE callee IN (SELECT value FROM json_each(?))"
    return {c for (c,) in db.execute(query, (orjson.dumps(list(callees)).decode(),))}


def carried(db: sqlite3.Connection) -> int:
    """How many rows: numbers the requests carried, a number sent twice counted twice."""
    return db.execute("SELECT count(*) FROM numbers").fetchone()[0]


def fill(db: sqlite3.Connection) -> int:
    """Write the numbers table from the requests and settlements alone (a journal of an older
    batcher): each request in order, as its intent and then its outcome are written. Returns
    how many rows it holds."""
    db.execute("DELETE FROM numbers")
    for (request_id,) in db.execute("SELECT id FROM requests ORDER BY id").fetchall():
        intend(db, request_id)
        derive(db, request_id)
    return carried(db)
