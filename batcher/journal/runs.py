"""What the campaign's runs decided and did: their facts, the numbers held back, the event log.

A run records what it read and planned (`record_run`, for workbooks rebuilt later) and why it
stopped early; the numbers it holds back without sending them (`suppressed`, `deferred`,
`recently_called`, beyond `--limit`) with their reasons, replacing the previous run's except
the do-not-call list (`STICKY`); and lines of the campaign's event log (never secrets).
"""

from __future__ import annotations

import sqlite3

import orjson

from batcher.journal.rows import utc_now
from batcher.journal.schema import STICKY
from batcher.outcomes import Outcome


def record_run(
    db: sqlite3.Connection, input_path: str, sha256: str, options: dict, facts: list
) -> None:
    """Keep what this run read and planned."""
    db.execute(
        "INSERT INTO runs (at, input_path, input_sha256, options, facts) VALUES (?, ?, ?, ?, ?)",
        (
            utc_now(),
            input_path,
            sha256,
            orjson.dumps(options).decode(),
            orjson.dumps(facts, default=str).decode(),
        ),
    )


def record_stop(db: sqlite3.Connection, reason: str) -> None:
    """Why the latest run stopped before sending everything ('' when it did not)."""
    db.execute("UPDATE runs SET stop = ? WHERE id = (SELECT max(id) FROM runs)", (reason,))


def last_run(db: sqlite3.Connection) -> dict[str, object] | None:
    """The latest run: at, input_path, input_sha256, options, facts, stop (None: none yet)."""
    row = db.execute(
        "SELECT input_path, input_sha256, options, facts, stop, at FROM runs"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    path, sha, options, facts, stop, at = row
    return {
        "at": at,
        "input_path": path,
        "input_sha256": sha,
        "options": orjson.loads(options),
        "facts": [tuple(f) for f in orjson.loads(facts)],
        "stop": stop,
    }


def hold(db: sqlite3.Connection, held: dict[str, tuple[Outcome, str]], replace: bool) -> None:
    """Record what a run holds back and why; `replace` forgets the previous run's decisions
    first, except the sticky ones."""
    now = utc_now()
    if replace:
        marks = ",".join("?" * len(STICKY))
        db.execute(f"DELETE FROM held WHERE outcome NOT IN ({marks})", STICKY)
    db.executemany(
        "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)",
        ((c, str(o), why, now) for c, (o, why) in held.items()),
    )


def held(db: sqlite3.Connection) -> dict[str, tuple[Outcome, str]]:
    """What the campaign holds back, and why."""
    return {
        c: (Outcome(o), why) for c, o, why in db.execute("SELECT callee, outcome, reason FROM held")
    }


def sticky(db: sqlite3.Connection) -> set[str]:
    """Numbers the campaign never calls, whatever a run is told (do-not-call)."""
    marks = ",".join("?" * len(STICKY))
    query = f"SELECT callee FROM held WHERE outcome IN ({marks})"
    return {c for (c,) in db.execute(query, STICKY)}


def event(db: sqlite3.Connection, kind: str, detail: str) -> None:
    """Append a line to the event log."""
    db.execute("INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)", (utc_now(), kind, detail))


def events(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """The event log: (at, kind, detail), oldest first."""
    return db.execute("SELECT at, kind, detail FROM events ORDER BY id").fetchall()
