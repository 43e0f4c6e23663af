"""The journal's tables, and the upgrade of a journal of batcher 0.1 to them.

`SCHEMA` is the one definition of the SQLite file: every table, created if missing each time a
journal is opened for writing. `INTENT` and `DONE` are the two states a request row is ever in
(its intent on disk before the send, its outcome once answered), and `STICKY` the held outcomes
no later run may forget. `_migrate` turns a 0.1 journal (several campaigns by file SHA-256) into
one campaign in this schema, in one transaction, before `SCHEMA` runs.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from batcher.journal.rows import utc_now
from batcher.outcomes import Outcome

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    tag TEXT NOT NULL,
    callees TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    http_status INTEGER,
    api_status TEXT,
    reason TEXT,
    latency REAL,
    sent_at TEXT NOT NULL,
    sent_epoch REAL NOT NULL,
    finished_at TEXT,
    results TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    intent TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS settlements (
    request INTEGER NOT NULL REFERENCES requests(id),
    callee TEXT NOT NULL,
    outcome TEXT NOT NULL,
    voice_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request, callee)
);
CREATE TABLE IF NOT EXISTS held (
    callee TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    options TEXT NOT NULL,
    facts TEXT NOT NULL,
    stop TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS call_records (
    voice_id TEXT PRIMARY KEY,
    callee TEXT,
    record TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS test_calls (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    callee TEXT NOT NULL,
    params TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    voice_id TEXT NOT NULL DEFAULT '',
    record TEXT
);
"""

# a request's state: its intent is on disk ('intent'), or its outcome is ('done')
INTENT, DONE = "intent", "done"
# a held decision the campaign keeps whatever later runs are told: once a number is on the
# do-not-call list, this campaign never calls it
STICKY = (Outcome.SUPPRESSED,)


def _migrate(db: sqlite3.Connection) -> None:
    """A journal of batcher 0.1 (several campaigns by file SHA-256) becomes one campaign that
    knows every number any of them sent: nothing it called can be called again."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "campaigns" not in tables:
        return
    latest = db.execute("SELECT input_path, params FROM campaigns ORDER BY id DESC").fetchone()
    name = Path(latest[0]).stem.removesuffix("-results") if latest else "campaign"
    db.execute("BEGIN IMMEDIATE")
    try:
        old = [t for t in ("requests", "events", "call_records") if t in tables]
        for table in old:
            db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(
            "INSERT INTO requests (id, batch, attempt, tag, callees, state, outcome, http_status,"
            " api_status, reason, latency, sent_at, sent_epoch, finished_at, results)"
            " SELECT id, id, attempt, tag, callees, state, CASE outcome WHEN 'ok' THEN NULL"
            " ELSE outcome END, http_status, api_status, reason, latency, sent_at, sent_epoch,"
            " finished_at, CASE WHEN outcome = 'ok' THEN coalesce(results, '{}') ELSE results"
            " END FROM requests_v1"
        )
        if "events" in old:
            db.execute(
                "INSERT INTO events (at, kind, detail) SELECT at, kind, detail FROM events_v1"
            )
        if "call_records" in old:
            db.execute(
                "INSERT INTO call_records SELECT voice_id, callee, record, fetched_at"
                " FROM call_records_v1"
            )
        for table in old:
            db.execute(f"DROP TABLE {table}_v1")
        db.execute("DROP TABLE campaigns")
        db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [
                ("schema", str(SCHEMA_VERSION)),
                ("campaign", name),
                ("campaign_id", str(uuid.uuid4())),
                ("created_at", utc_now()),
            ],
        )
        db.execute(
            "INSERT INTO events (at, kind, detail) VALUES (?, 'upgraded', ?)",
            (utc_now(), "journal of batcher 0.1: its campaigns are now one campaign"),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
