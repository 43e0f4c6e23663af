"""The journal's tables: the one definition of the SQLite file.

`SCHEMA` creates every table if missing, each time a journal is opened for writing;
`SCHEMA_VERSION` is the version it describes, kept in `meta` (`batcher.journal.upgrade` brings
an older file to it). `INTENT` and `DONE` are the two states a request row is ever in (its
intent on disk before the send, its outcome once answered), and `STICKY` the held outcomes no
later run may forget.

    requests     one sendGroup request each: its numbers, intent, then outcome or per-number
                 answer (JSON), as the vendor gave it
    settlements  a request's outcome for one number, settled later (reconcile, the breaker,
                 --resend-unknown)
    numbers      a row per number a request carried: what that request (its outcome, its
                 answer, its settlements) left the number in, written by SQLite's triggers
                 with them (batcher.journal.numbers); a number's state is its latest row
    held         the campaign's decisions for numbers it did not send (suppressed, ...)
    runs, events, call_records, test_calls, meta
"""

from __future__ import annotations

from batcher.journal import numbers, records
from batcher.outcomes import Outcome

# 1: batcher 0.1 (several campaigns a file); 2: one campaign a file; 3: the numbers table
SCHEMA_VERSION = 3
SCHEMA = (
    """
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
"""
    + numbers.TABLE.format(database="main")
    + """
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
    + records.INDEX
)

# a request's state: its intent is on disk ('intent'), or its outcome is ('done')
INTENT, DONE = "intent", "done"
# a held decision the campaign keeps whatever later runs are told: once a number is on the
# do-not-call list, this campaign never calls it
STICKY = (Outcome.SUPPRESSED,)
