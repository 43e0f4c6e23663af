"""The campaign journal: a SQLite file that knows every request ever sent and what came of it.

It is the single source of truth for "whom did we call". The send layer commits a request's
*intent* (its numbers) before the first byte leaves and its *outcome* as soon as the answer is
parsed; the results workbook is always rebuilt from here. One journal file may hold several
campaigns (one per input SHA-256 + parameters), so a changed file can be compared with what
earlier campaigns already called.

Per-number state is derived, never stored twice: replay the requests in order, each one's
numbers taking that request's outcome, with `settlements` (from reconcile or --resend-unknown)
overriding a request's outcome for a number.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson

from batcher import collector
from batcher.clock import iso_utc
from batcher.errors import InputError, JournalBusy, UsageError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL REFERENCES campaigns(id),
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
    results TEXT
);
CREATE INDEX IF NOT EXISTS requests_campaign ON requests(campaign, id);
CREATE TABLE IF NOT EXISTS settlements (
    request INTEGER NOT NULL REFERENCES requests(id),
    callee TEXT NOT NULL,
    outcome TEXT NOT NULL,
    voice_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request, callee)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    campaign INTEGER,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS call_records (
    voice_id TEXT PRIMARY KEY,
    campaign INTEGER,
    callee TEXT,
    record TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
"""

# Outcomes a number can have in the journal, and which of them a later run may send again.
ACCEPTED, REJECTED, FAILED, UNKNOWN, NOT_SENT = (
    "accepted", "rejected", "failed", "unknown", "not_sent",
)
RESENDABLE = {FAILED, NOT_SENT}


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds, e.g. 2026-11-26T16:20:00Z."""
    return iso_utc()


class NumberState(NamedTuple):
    """What the journal knows about one callee of the campaign (a tuple: replay makes one
    per number, a million at Excel's limit, and a tuple is four times cheaper to make)."""

    outcome: str
    reason: str
    voice_id: str
    termination_code: str
    termination_reason: str
    batch: int
    request: int
    sent_at: str


@dataclass(frozen=True)
class Identity:
    """A campaign's identity: the input file's SHA-256 plus the parameters that shape it."""

    input_path: str
    input_sha256: str
    params: dict[str, object]

    @property
    def key(self) -> str:
        """A stable hash of file and parameters."""
        blob = json.dumps([self.input_sha256, self.params], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def token(self) -> str:
        """Short form used in calledInfo tags."""
        return self.key[:8]


@dataclass(frozen=True)
class Opened:
    """What opening the journal found: whether this campaign is new and what earlier ones did."""

    new_campaign: bool
    recovered: int  # requests found in flight from a dead process, now unknown
    other_campaigns: int  # earlier campaigns in this journal with a different file or params


class Journal:
    """One open campaign in a journal file, held exclusively by this process."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = None
        self._grouped = False  # inside together(): writes join its transaction
        if not readonly:
            self._lock = _acquire_lock(path)
        try:
            uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(SCHEMA)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(
                f"{path}: not a batcher journal ({exc})",
                "point --journal at another file, or move this one away",
            ) from None
        self.campaign_id: int | None = None
        self.identity: Identity | None = None

    # -- opening -------------------------------------------------------------------------------

    def open_campaign(self, identity: Identity) -> Opened:
        """Find or create the campaign; requests left in flight by a dead process become unknown."""
        row = self.db.execute(
            "SELECT id FROM campaigns WHERE identity = ?", (identity.key,)
        ).fetchone()
        others = self.db.execute(
            "SELECT count(*) FROM campaigns WHERE identity != ?", (identity.key,)
        ).fetchone()[0]
        self.identity = identity
        if row:
            self.campaign_id = row[0]
            return Opened(False, self._recover(), others)
        if self.readonly:
            return Opened(True, 0, others)
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO campaigns (identity, input_path, input_sha256, params, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (identity.key, identity.input_path, identity.input_sha256,
                 json.dumps(identity.params, sort_keys=True, default=str), utc_now()),
            )
            self.campaign_id = cur.lastrowid
        return Opened(True, 0, others)

    def _recover(self) -> int:
        if self.readonly:
            return 0
        with self._tx():
            cur = self.db.execute(
                "UPDATE requests SET state = 'done', outcome = ?, finished_at = ?, reason = ?"
                " WHERE campaign = ? AND state = 'intent'",
                (UNKNOWN, utc_now(), "batcher stopped while this request was in flight: calls "
                 "may have been placed (run batcher reconcile)", self.campaign_id),
            )
        if cur.rowcount:
            self.event("recovered", f"{cur.rowcount} request(s) in flight became unknown")
        return cur.rowcount

    def campaigns(self) -> list[dict[str, object]]:
        """Every campaign in the file, oldest first."""
        rows = self.db.execute(
            "SELECT id, identity, input_path, input_sha256, params, created_at FROM campaigns"
            " ORDER BY id"
        ).fetchall()
        keys = ("id", "identity", "input_path", "input_sha256", "params", "created_at")
        return [dict(zip(keys, r, strict=True)) | {"params": json.loads(r[4])} for r in rows]

    def use_campaign(self, campaign_id: int) -> None:
        """Select a campaign by id (for commands that read a journal without the input)."""
        self.campaign_id = campaign_id
        self._recover()

    def use_latest(self) -> dict[str, object]:
        """Select the newest campaign (what reconcile, records and results act on); return it."""
        campaigns = self.campaigns()
        if not campaigns:
            raise UsageError(f"{self.path}: the journal holds no campaign",
                             "run the campaign first: batcher run CONTACTS.xlsx")
        self.use_campaign(int(campaigns[-1]["id"]))
        return campaigns[-1]

    # -- writing -------------------------------------------------------------------------------

    def next_batch(self) -> int:
        """The next unused batch number of this campaign."""
        row = self.db.execute(
            "SELECT coalesce(max(batch), 0) FROM requests WHERE campaign = ?", (self.campaign_id,)
        ).fetchone()
        return row[0] + 1

    def begin(self, batch: int, attempt: int, callees: list[str], tag_for) -> tuple[int, str]:
        """Commit a request's intent before it is sent; return its id and calledInfo tag."""
        now = time.time()
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO requests (campaign, batch, attempt, tag, callees, state, sent_at,"
                " sent_epoch) VALUES (?, ?, ?, '', ?, 'intent', ?, ?)",
                (self.campaign_id, batch, attempt, ",".join(callees), iso_utc(now), now),
            )
            request_id = cur.lastrowid
            tag = tag_for(request_id)
            self.db.execute("UPDATE requests SET tag = ? WHERE id = ?", (tag, request_id))
        return request_id, tag

    def finish(
        self,
        request_id: int,
        outcome: str,
        reason: str,
        *,
        http_status: int | None = None,
        api_status: str | None = None,
        latency: float | None = None,
        results: dict[str, list[str]] | None = None,
    ) -> None:
        """Commit what came of a request: one outcome, or per-number results for status 0."""
        with self._tx():
            self.db.execute(
                "UPDATE requests SET state = 'done', outcome = ?, reason = ?, http_status = ?,"
                " api_status = ?, latency = ?, finished_at = ?, results = ? WHERE id = ?",
                (outcome, reason, http_status, api_status, latency, utc_now(),
                 orjson.dumps(results).decode() if results else None, request_id),
            )

    def settle(self, request_id: int, settled: Iterable[tuple[str, str, str, str]]) -> int:
        """Record reconciled outcomes (callee, outcome, voiceId, reason) for one request."""
        now = utc_now()
        rows = [(request_id, c, o, v, r, now) for c, o, v, r in settled]
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO settlements VALUES (?, ?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def save_records(self, records: list[dict]) -> int:
        """Store call records (keyed by their voiceId) for this campaign, replacing older copies."""
        now = utc_now()
        rows = [
            (str(r["voiceId"]), self.campaign_id, str(r.get("callee") or ""),
             json.dumps(r, ensure_ascii=False, separators=(",", ":")), now)
            for r in records if r.get("voiceId")
        ]
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO call_records VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def event(self, kind: str, detail: str) -> None:
        """Append a line to the campaign's event log (never holds secrets)."""
        if self.readonly:
            return
        with self._tx():
            self.db.execute(
                "INSERT INTO events (campaign, at, kind, detail) VALUES (?, ?, ?, ?)",
                (self.campaign_id, utc_now(), kind, detail),
            )

    # -- reading -------------------------------------------------------------------------------

    def requests(self) -> list[dict[str, object]]:
        """Every request of this campaign in order, as plain dicts (the Batches sheet)."""
        cur = self.db.execute(
            "SELECT id, batch, attempt, tag, callees, state, outcome, http_status, api_status,"
            " reason, latency, sent_at, sent_epoch, finished_at, results FROM requests"
            " WHERE campaign = ? ORDER BY id",
            (self.campaign_id,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def number_states(self) -> dict[str, NumberState]:
        """Replay the requests (and settlements) into one state per callee."""
        with collector.paused():  # a million numbers: 4.0 s -> 2.1 s
            return self._replay()

    def _replay(self) -> dict[str, NumberState]:
        settled: dict[tuple[int, str], tuple[str, str, str]] = {
            (r, c): (o, v, why)
            for r, c, o, v, why in self.db.execute(
                "SELECT s.request, s.callee, s.outcome, s.voice_id, s.reason FROM settlements s"
                " JOIN requests q ON q.id = s.request WHERE q.campaign = ?",
                (self.campaign_id,),
            )
        }
        states: dict[str, NumberState] = {}
        for request in self.requests():
            states.update(_request_states(request))
            if settled:
                for callee in str(request["callees"] or "").split(","):
                    override = settled.get((request["id"], callee))
                    if override:
                        outcome, voice_id, why = override
                        states[callee] = states[callee]._replace(
                            outcome=outcome, reason=why, voice_id=voice_id)
        return states

    def call_records(self) -> dict[str, dict]:
        """The stored call records of this campaign: voiceId -> the vendor's record."""
        # a journal opened read-only from before this table existed simply has none
        if not self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'call_records'"
        ).fetchone():
            return {}
        return {
            voice_id: json.loads(record)
            for voice_id, record in self.db.execute(
                "SELECT voice_id, record FROM call_records WHERE campaign = ?", (self.campaign_id,)
            )
        }

    def events(self) -> list[tuple[str, str, str]]:
        """The campaign's event log: (at, kind, detail)."""
        return self.db.execute(
            "SELECT at, kind, detail FROM events WHERE campaign = ? ORDER BY id",
            (self.campaign_id,),
        ).fetchall()

    def called_elsewhere(self, callees: Iterable[str]) -> int:
        """How many of these numbers other campaigns in this journal accepted or left unknown."""
        wanted = set(callees)
        seen: set[str] = set()
        for (campaign_id,) in self.db.execute(
            "SELECT id FROM campaigns WHERE id != ?", (self.campaign_id,)
        ).fetchall():
            other = Journal.__new__(Journal)
            other.db, other.campaign_id, other.readonly = self.db, campaign_id, True
            for callee, state in other.number_states().items():
                if callee in wanted and state.outcome in (ACCEPTED, UNKNOWN):
                    seen.add(callee)
        return len(seen)

    # -- plumbing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Make every write inside one transaction, committed (and synced) once at the end.

        A group commit: all of them are on disk when this returns, none if it raises.
        """
        with self._tx():
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False

    def _tx(self) -> _Transaction:
        return _Transaction(self.db, nested=self._grouped)

    def close(self) -> None:
        """Close the database, then release the lock."""
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None  # type: ignore[assignment]
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or nothing inside Journal.together() (which commits)."""

    def __init__(self, db: sqlite3.Connection, nested: bool = False) -> None:
        self.db, self.nested = db, nested

    def __enter__(self) -> sqlite3.Connection:
        if not self.nested:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self.nested:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _request_states(request: dict[str, object]) -> dict[str, NumberState]:
    """The state each callee of one request is left in by its outcome (a million at Excel's
    limit: no more than a dict lookup and a tuple per number)."""
    callees = str(request["callees"]).split(",") if request["callees"] else []
    batch, rid, sent_at = int(request["batch"]), int(request["id"]), str(request["sent_at"])
    if not request["results"]:
        same = NumberState(str(request["outcome"] or UNKNOWN), str(request["reason"] or ""),
                           "", "", "", batch, rid, sent_at)
        return dict.fromkeys(callees, same)
    results = orjson.loads(request["results"])
    missing = NumberState(UNKNOWN, "the answer did not mention this number: it may have been "
                          "called", "", "", "", batch, rid, sent_at)
    states = {}
    for callee in callees:
        entry = results.get(callee)
        if entry is None:
            states[callee] = missing
        else:
            outcome, voice_id, code, why = entry
            states[callee] = NumberState(outcome, "" if outcome == ACCEPTED else why, voice_id,
                                         code, why, batch, rid, sent_at)
    return states


def _acquire_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalBusy(
            f"{path}: another batcher process is running this campaign",
            "wait for it to finish (or stop it with Ctrl-C), then run the command again",
        ) from None
    return fd
