"""The operator's test calls (`batcher test-call`), kept apart from the campaign's numbers.

A test call is no request and no number of the campaign: the numbers table, the workbook's
counts and the call history never see it. Its intent is on disk (unknown) before it is sent,
its outcome once answered, and again once its call record is read.
"""

from __future__ import annotations

import sqlite3

import orjson

from batcher.journal.rows import TestCall, utc_now
from batcher.outcomes import Outcome

IN_FLIGHT = "batcher stopped while the test call was in flight: it may have rung"


def begin(db: sqlite3.Connection, callee: str, params: str) -> int:
    """Record a test call's intent (unknown until its answer is in); its id."""
    test_id = db.execute(
        "INSERT INTO test_calls (at, callee, params, outcome, reason) VALUES (?, ?, ?, ?, ?)",
        (utc_now(), callee, params, Outcome.UNKNOWN, IN_FLIGHT),
    ).lastrowid
    assert test_id is not None
    return test_id


def finish(
    db: sqlite3.Connection,
    test_id: int,
    outcome: Outcome,
    reason: str,
    voice_id: str,
    record: dict | None,
) -> None:
    """Record what came of a test call."""
    db.execute(
        "UPDATE test_calls SET outcome = ?, reason = ?, voice_id = ?, record = ? WHERE id = ?",
        (
            outcome,
            reason,
            voice_id,
            None if record is None else orjson.dumps(record).decode(),
            test_id,
        ),
    )


def every(db: sqlite3.Connection) -> list[TestCall]:
    """The test calls, oldest first (none in a journal older than them)."""
    try:
        rows = db.execute(
            f"SELECT {', '.join(TestCall._fields)} FROM test_calls ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # a journal opened read-only that no test call has touched yet
    return [TestCall._make((*row[:-1], orjson.loads(row[-1]) if row[-1] else None)) for row in rows]
