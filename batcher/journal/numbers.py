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
row); its calls are its rows whose request may have placed one (accepted or unknown). Numbers
the campaign held back without sending them are not here: they are the campaign's decisions
(`held`, batcher.journal.runs).

SQLite writes the rows itself (`TABLE`'s triggers), in the statement that writes what they
follow from, so they are in its transaction whoever writes it and can never disagree with
it: inserting a request (its intent, or a reservation adopted as unknown) adds its rows;
updating its state, outcome or answer (its outcome, the recovery of a dead process's request)
derives them again from the request row; inserting a settlement updates its number's row.
`_DERIVE` is the one rule that turns a request (its outcome, its answer, its settlements) into
its numbers' rows. In triggers, the writes cost the send no Python: a request of a thousand
numbers is one statement for the send's thread, which holds no GIL while SQLite works (made as
five statements a request from Python, they took 3-4 times as long beside a busy event loop
as alone, each waiting for the GIL again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from batcher import collector
from batcher.journal.file import statements
from batcher.journal.rows import Call, NumberState
from batcher.outcomes import Outcome

MISSING = (
    "the answer said success but did not mention this number: it may have been called "
    "(run batcher reconcile)"
)

# A request's numbers are in flight: a row each (a request recorded done at once, a
# reservation adopted as one, is then derived as if answered)
_IN_FLIGHT = """
    INSERT OR IGNORE INTO numbers (request, callee, outcome, reason, voice_id,
        termination_code, termination_reason, evidence, at)
    SELECT NEW.id, value, 'unknown', '', '', '', '', 'intent', NEW.sent_at
    FROM json_each('["' || replace(NEW.callees, ',', '","') || '"]') WHERE NEW.callees != '';
"""

# What a request (NEW, in a trigger) left its numbers in, in this order: its one outcome for
# all of them; or its answer (a number it does not name is unknown; the answer is read once,
# ORDER BY keeping SQLite from reading it again for each row); then its settlements, which
# override either. Each statement reads the request's own rows only: a few pages.
_DERIVE = f"""
    UPDATE numbers SET outcome = coalesce(nullif(NEW.outcome, ''), 'unknown'),
        reason = coalesce(NEW.reason, ''), voice_id = '', termination_code = '',
        termination_reason = '',
        evidence = CASE NEW.state WHEN 'intent' THEN 'intent' ELSE 'request' END,
        at = coalesce(NEW.finished_at, NEW.sent_at)
    WHERE request = NEW.id AND NEW.results IS NULL;
    UPDATE numbers SET
        outcome = CASE answer.said WHEN 'accepted' THEN 'accepted' ELSE 'rejected' END,
        reason = CASE answer.said WHEN 'accepted' THEN '' ELSE answer.why END,
        voice_id = answer.voice_id, termination_code = answer.code,
        termination_reason = answer.why, evidence = 'answer',
        at = coalesce(NEW.finished_at, NEW.sent_at)
    FROM (
        SELECT key AS callee, json_extract(value, '$[0]') AS said,
            json_extract(value, '$[1]') AS voice_id, json_extract(value, '$[2]') AS code,
            json_extract(value, '$[3]') AS why
        FROM json_each(NEW.results) ORDER BY key
    ) AS answer
    WHERE numbers.request = NEW.id AND numbers.callee = answer.callee;
    UPDATE numbers SET outcome = 'unknown', reason = '{MISSING}', voice_id = '',
        termination_code = '', termination_reason = '', evidence = 'missing',
        at = coalesce(NEW.finished_at, NEW.sent_at)
    WHERE request = NEW.id AND NEW.results IS NOT NULL
        AND (SELECT count(*) FROM json_each(NEW.results))
            < (SELECT count(*) FROM numbers WHERE request = NEW.id)
        AND callee NOT IN (SELECT key FROM json_each(NEW.results));
    UPDATE numbers SET outcome = s.outcome, reason = s.reason, voice_id = s.voice_id,
        evidence = 'settlement', at = s.at
    FROM settlements AS s
    WHERE EXISTS (SELECT 1 FROM settlements WHERE request = NEW.id)
        AND s.request = NEW.id AND numbers.request = NEW.id AND numbers.callee = s.callee;
"""

# The table and its triggers in `database` ('main'; 'temp' for `fill`). Keyed by request
# first: a request's rows sit side by side (its intent appends them, its answer updates
# them), a few pages a request, where rows keyed by random phone numbers touched a page a
# number (a table keyed by callee alone wrote 3.4 GB for 150,000 numbers).
TABLE = f"""
CREATE TABLE IF NOT EXISTS {{database}}.numbers (
    request INTEGER NOT NULL,
    callee TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    voice_id TEXT NOT NULL,
    termination_code TEXT NOT NULL,
    termination_reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request, callee)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS {{database}}.numbers_of_a_request_in_flight
AFTER INSERT ON requests WHEN NEW.state = 'intent' BEGIN
    {_IN_FLIGHT}
END;
CREATE TRIGGER IF NOT EXISTS {{database}}.numbers_of_a_request_done
AFTER INSERT ON requests WHEN NEW.state != 'intent' BEGIN
    {_IN_FLIGHT}
    {_DERIVE}
END;
CREATE TRIGGER IF NOT EXISTS {{database}}.numbers_of_an_answered_request
AFTER UPDATE OF state, outcome, reason, results ON requests BEGIN
    {_DERIVE}
END;
CREATE TRIGGER IF NOT EXISTS {{database}}.numbers_settled
AFTER INSERT ON settlements BEGIN
    UPDATE numbers SET outcome = NEW.outcome, reason = NEW.reason, voice_id = NEW.voice_id,
        evidence = 'settlement', at = NEW.at
    WHERE request = NEW.request AND callee = NEW.callee;
END;
"""

_OF_REQUEST = (
    "SELECT callee, outcome, reason, voice_id, termination_code, termination_reason"
    " FROM numbers WHERE request = ?"
)
_OUTCOMES = {str(o): o for o in Outcome}


def fill(db: sqlite3.Connection, *, keep: bool) -> int:
    """Write the numbers table from the requests and settlements alone (a journal of an older
    batcher): copies of them in the connection's temporary database, their triggers writing
    `temp.numbers` as a send would have, a request at a time. Then, unless the table is kept
    there (`keep`: a read-only connection, where it hides the file's), into the file's own.
    Returns how many rows it holds. In the caller's transaction."""
    db.execute("CREATE TEMP TABLE requests AS SELECT * FROM main.requests LIMIT 0")
    db.execute("CREATE TEMP TABLE settlements AS SELECT * FROM main.settlements LIMIT 0")
    for statement in statements(TABLE.format(database="temp")):
        db.execute(statement)
    db.execute("INSERT INTO temp.requests SELECT * FROM main.requests ORDER BY id")
    db.execute("INSERT INTO temp.settlements SELECT * FROM main.settlements")
    db.execute("DROP TABLE temp.requests")
    db.execute("DROP TABLE temp.settlements")
    if not keep:
        db.execute("DELETE FROM main.numbers")
        db.execute("INSERT INTO main.numbers SELECT * FROM temp.numbers")
        db.execute("DROP TABLE temp.numbers")
    return carried(db)


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


def settle(db: sqlite3.Connection, request_id: int, settled: Iterable[tuple], at: str) -> int:
    """Record reconciled outcomes (callee, outcome, voiceId, reason) of one request (their
    trigger updates the numbers' rows); how many."""
    rows = [(request_id, c, str(o), v, r, at) for c, o, v, r in settled]
    db.executemany("INSERT OR REPLACE INTO settlements VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def settled(db: sqlite3.Connection, after: int) -> list[int]:
    """The ids of the requests after `after` that have settlements, in order."""
    query = "SELECT DISTINCT request FROM settlements WHERE request > ? ORDER BY request"
    return [i for (i,) in db.execute(query, (after,))]


def sent(db: sqlite3.Connection, callees: Iterable[str]) -> set[str]:
    """Which of these numbers some request carried (one scan of the table)."""
    query = "SELECT DISTINCT callee FROM numbers WHERE callee IN (SELECT value FROM json_each(?))"
    return {c for (c,) in db.execute(query, (orjson.dumps(list(callees)).decode(),))}


def of_callee(db: sqlite3.Connection, callee: str) -> list[tuple[int, str, str, str, str]]:
    """Every row of one number, oldest request first: (request, sent_at, outcome, reason,
    the request's intent in the call history)."""
    query = (
        "SELECT n.request, r.sent_at, n.outcome, n.reason, r.intent FROM numbers AS n"
        " JOIN requests AS r ON r.id = n.request WHERE n.callee = ? ORDER BY n.request"
    )
    return db.execute(query, (callee,)).fetchall()


def carried(db: sqlite3.Connection) -> int:
    """How many rows: numbers the requests carried, a number sent twice counted twice."""
    return db.execute("SELECT count(*) FROM numbers").fetchone()[0]
