"""Bringing a journal of an older batcher to this schema, once, when it is opened for writing.

    1 -> 2  batcher 0.1 kept several campaigns a file (by SHA-256): they become one campaign
            that knows every number any of them sent, so nothing it called is called again
    2 -> 3  the numbers table, written from the requests and settlements by the triggers that
            write it as a send goes (batcher.journal.numbers.fill)

Each step is one transaction. A journal of version 2 opened read-only (the page, `results`, a
dry run, while another process may hold it) is not changed: `view_numbers` writes its numbers
table in the connection's own temporary database instead, where it hides the file's.
"""

from __future__ import annotations

import sqlite3
import uuid
from gettext import ngettext
from pathlib import Path

from batcher.journal import campaign, numbers, runs
from batcher.journal.file import Transaction, statements
from batcher.journal.rows import utc_now
from batcher.journal.schema import SCHEMA, SCHEMA_VERSION


def upgrade(db: sqlite3.Connection) -> None:
    """Bring the journal to SCHEMA_VERSION, creating what is missing."""
    _from_batcher_0_1(db)
    db.executescript(SCHEMA)
    if version(db) < 3:
        with Transaction(db):
            filled = numbers.fill(db, keep=False)
            if filled:
                runs.event(
                    db,
                    "upgraded",
                    "one row per number: "
                    + ngettext("{n} number written", "{n} numbers written", filled).format(
                        n=filled
                    ),
                )
            campaign.set_meta(db, schema="3")
    elif "schema" not in campaign.meta(db):
        with Transaction(db):
            campaign.set_meta(db, schema=str(SCHEMA_VERSION))


def version(db: sqlite3.Connection) -> int:
    """The schema version of the journal's file (2 for a file older than the version's key)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is not None:
        return int(row[0])
    return 2 if db.execute("SELECT EXISTS (SELECT 1 FROM requests)").fetchone()[0] else 3


def view_numbers(db: sqlite3.Connection) -> None:
    """A read-only connection to a version 2 journal: its numbers table, in its temporary
    database."""
    db.execute("BEGIN")
    try:
        numbers.fill(db, keep=True)
    finally:
        db.execute("COMMIT")


def _from_batcher_0_1(db: sqlite3.Connection) -> None:
    """A journal of batcher 0.1 (several campaigns by file SHA-256) becomes one campaign that
    knows every number any of them sent: nothing it called can be called again."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "campaigns" not in tables:
        return
    latest = db.execute("SELECT input_path, params FROM campaigns ORDER BY id DESC").fetchone()
    name = Path(latest[0]).stem.removesuffix("-results") if latest else "campaign"
    with Transaction(db):
        old = [t for t in ("requests", "events", "call_records") if t in tables]
        for table in old:
            db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
        for statement in statements(SCHEMA):
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
        # version 2: the next step writes the numbers table
        campaign.set_meta(
            db, schema="2", campaign=name, campaign_id=str(uuid.uuid4()), created_at=utc_now()
        )
        runs.event(db, "upgraded", "journal of batcher 0.1: its campaigns are now one campaign")
