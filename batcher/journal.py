"""The campaign journal: a SQLite file that knows every request ever sent and what came of it.

One journal is one campaign, whatever files brought its numbers in. It is the single source of
truth for "whom did this campaign call": the send layer commits a request's *intent* (its
numbers) before the first byte leaves and its *outcome* as soon as the answer is parsed, and the
results workbook is always rebuilt from here.

Per-number state is derived, never stored twice: replay the requests in order, each one's
numbers taking that request's outcome, with `settlements` (from reconcile or --resend-unknown)
overriding a request's outcome for a number. So the journal is keyed by the callee: rows of any
file map onto those numbers.

Besides the requests it keeps the campaign's own decisions: the numbers it held back
(`suppressed`, `deferred`, `recently_called`, beyond `--limit`) with their reasons, and the
facts of its latest run, so that a workbook rebuilt later says exactly what the run said.

`test_calls` keeps the operator's test calls (`batcher test-call`) apart from all of that: a
test call is no request and no number of the campaign, so the replay, the workbook's counts
and the call history never see it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson

from batcher import collector
from batcher.clock import iso_utc
from batcher.errors import JournalBusy, JournalError, UsageError
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
TAG = re.compile(r"batcher:([0-9a-f]{8}):(\d+)")


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds, e.g. 2026-11-26T16:20:00Z."""
    return iso_utc()


class NumberState(NamedTuple):
    """What the journal knows about one callee of the campaign (a tuple: replay makes one
    per number, a million at Excel's limit, and a tuple is four times cheaper to make)."""

    outcome: Outcome
    reason: str
    voice_id: str
    termination_code: str
    termination_reason: str
    batch: int
    request: int
    sent_at: str


class TestCall(NamedTuple):
    """One test call of the operator's (`batcher test-call`): never a number of the campaign."""

    __test__ = False  # not a pytest class, whatever its name
    id: int
    at: str
    callee: str
    params: str  # the sendGroup fields it was sent with, JSON
    outcome: str  # unknown from the moment its intent is on disk until its answer is parsed
    reason: str
    voice_id: str
    record: dict | None  # its call record, once read


class Call(NamedTuple):
    """One attempt to call a number: a request holding it that may have placed the call (its
    outcome for the number accepted or unknown, after settlements)."""

    request: int
    attempt: int  # 1 for the first call of this number, 2 for its first redial, ...
    sent_at: str
    sent_epoch: float
    voice_id: str  # '' while unknown
    outcome: Outcome  # accepted or unknown


class Request(NamedTuple):
    """One sendGroup request of the campaign, as the journal holds it."""

    id: int
    batch: int
    attempt: int
    tag: str
    callees: str  # comma-separated
    state: str
    outcome: str | None
    http_status: int | None
    api_status: str | None
    reason: str | None
    latency: float | None
    sent_at: str
    sent_epoch: float
    finished_at: str | None
    results: str | None
    params: str
    intent: str  # the call history's reservation this request sent

    @property
    def numbers(self) -> list[str]:
        """The request's callees as a list."""
        return self.callees.split(",") if self.callees else []


@dataclass(frozen=True)
class CampaignInfo:
    """Who the journal's campaign is: its name, its id in the call history, its message."""

    name: str
    id: str  # a UUID: the campaign's identity in the call history
    created_at: str
    app_id: str = ""  # set by the first send: a campaign keeps one appId ...
    message: str = ""  # ... and one message (the fileId, or the audio file's SHA-256)

    @property
    def token(self) -> str:
        """The short id carried in every request's calledInfo tag."""
        return self.id.replace("-", "")[:8]

    def tag(self, request_id: int) -> str:
        """The calledInfo tag of one request: batcher:<token>:<request>."""
        return f"batcher:{self.token}:{request_id}"


def parse_tag(called_info: object) -> tuple[str, int] | None:
    """(token, request id) from a call record's calledInfo, or None if batcher did not tag it."""
    match = TAG.search(str(called_info or ""))
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class Opened:
    """What claiming the journal found."""

    new: bool  # the campaign had never sent anything from this journal
    recovered: int  # requests found in flight from a dead process, now unknown


class Journal:
    """The journal of one campaign, held exclusively by this process (unless read-only)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock: int | None = None
        self._grouped = False  # inside together(): writes join its transaction
        self.db: sqlite3.Connection | None = None
        if not readonly:
            self._lock = _acquire_lock(path)
        try:
            uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                _migrate(self.db)
                self.db.executescript(SCHEMA)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            else:
                self._check_readable()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(
                f"{path}: not a batcher journal, or damaged ({exc})",
                "point --journal at another file, or move this one away (it may be the only "
                "record of whom this campaign called: keep a copy)",
            ) from None
        self.campaign = self._campaign()

    def _check_readable(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        if "requests" not in tables:
            raise sqlite3.DatabaseError("no requests table")
        if "campaigns" in tables:
            raise sqlite3.DatabaseError("a journal of batcher 0.1: run it once to upgrade it")

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def _campaign(self) -> CampaignInfo | None:
        meta = self._meta()
        if "campaign_id" not in meta:
            return None
        return CampaignInfo(meta.get("campaign", ""), meta["campaign_id"],
                            meta.get("created_at", ""), meta.get("app_id", ""),
                            meta.get("message", ""))

    # -- claiming ------------------------------------------------------------------------------

    def claim(self, name: str) -> Opened:
        """Make this journal the campaign `name` (new), or check it is; recover dead requests."""
        if self.campaign is None:
            self._set_meta(campaign=name, campaign_id=str(uuid.uuid4()), created_at=utc_now())
            self.campaign = self._campaign()
            return Opened(True, 0)
        if self.campaign.name != name:
            raise UsageError(
                f"{self.path} is the journal of the campaign {self.campaign.name!r}, "
                f"not {name!r}",
                f"pass --campaign {self.campaign.name} to go on with it, or give the new "
                "campaign its own journal (--journal NEW.journal)",
            )
        return Opened(not self.requests_count(), self._recover())

    def check_message(self, app_id: str, message: str, shown: str, *, record: bool) -> None:
        """A campaign sends one message from one appId: refuse another, with the fix.

        `message` identifies the recording (the fileId, or the audio file's SHA-256), `shown`
        is how to name it to the operator. The first send records both (`record`).
        """
        campaign = self.campaign
        assert campaign is not None
        if not campaign.message:
            if record and not self.readonly:
                self._set_meta(app_id=app_id, message=message, message_shown=shown)
                self.campaign = self._campaign()
            return
        before = self._meta().get("message_shown", campaign.message)
        if campaign.message != message:
            changed = f"the message changed (this campaign sent {before}, now {shown})"
        elif campaign.app_id != app_id:
            changed = f"the appId changed (this campaign sent from {campaign.app_id}, now {app_id})"
        else:
            return
        raise UsageError(
            f"campaign {campaign.name!r} ({self.path}): {changed}",
            "a campaign plays one message to each person once: to send another one, start a "
            "new campaign with --campaign NEW-NAME (numbers this one called stay held by the "
            "call history's cooldown)",
        )

    @property
    def endpoint(self) -> str:
        """Where the campaign sends: 'sandbox' (the embedded one, gone with its run) or a URL."""
        return self._meta().get("endpoint", "")

    def set_endpoint(self, endpoint: str) -> None:
        """Remember where the campaign sends, for reconcile and records."""
        if not self.readonly and endpoint != self.endpoint:
            self._set_meta(endpoint=endpoint)

    def _set_meta(self, **values: str) -> None:
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def _recover(self) -> int:
        if self.readonly:
            return 0
        with self._tx():
            cur = self.db.execute(
                "UPDATE requests SET state = ?, outcome = ?, finished_at = ?, reason = ?"
                " WHERE state = ?",
                (DONE, Outcome.UNKNOWN, utc_now(), "batcher stopped while this request was in "
                 "flight: calls may have been placed (run batcher reconcile)", INTENT),
            )
        if cur.rowcount:
            self.event("recovered", f"{cur.rowcount} request(s) in flight became unknown")
        return cur.rowcount

    def adopt_orphans(self, reserved: dict[str, list[str]]) -> int:
        """Reservations the call history holds for this campaign (intent -> callees) with no
        request here: batcher stopped between reserving them and recording the request. Those
        numbers were never sent, but are held as unknown all the same, never sent again on a
        guess: reconcile settles them. Returns how many numbers were adopted."""
        if self.readonly:
            return 0
        known = self.intents()
        orphans = {i: c for i, c in reserved.items() if i and i not in known}
        if not orphans:
            return 0
        states = self.number_states()
        now, adopted = time.time(), 0
        why = ("reserved in the call history, but batcher stopped before recording the request: "
               "most likely never called (run batcher reconcile to settle it)")
        with self._tx():
            for intent, callees in orphans.items():
                callees = [c for c in dict.fromkeys(callees) if c not in states]
                cur = self.db.execute(
                    "INSERT INTO requests (batch, attempt, tag, callees, state, outcome, reason,"
                    " sent_at, sent_epoch, finished_at, intent)"
                    " VALUES (0, 1, '', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (",".join(callees), DONE, Outcome.UNKNOWN, why, iso_utc(now), now,
                     iso_utc(now), intent),
                )
                self.db.execute("UPDATE requests SET tag = ? WHERE id = ?",
                                (self.campaign.tag(cur.lastrowid), cur.lastrowid))
                adopted += len(callees)
        if adopted:
            self.event("recovered", f"{adopted} number(s) reserved but not recorded: unknown")
        return adopted

    # -- writing -------------------------------------------------------------------------------

    def next_batch(self) -> int:
        """The next unused batch number of this campaign."""
        return self.db.execute("SELECT coalesce(max(batch), 0) FROM requests").fetchone()[0] + 1

    def begin(
        self, batch: int, attempt: int, callees: list[str], params: str = "{}", intent: str = ""
    ) -> tuple[int, str]:
        """Commit a request's intent before it is sent; return its id and calledInfo tag."""
        now = time.time()
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO requests (batch, attempt, tag, callees, state, sent_at, sent_epoch,"
                " params, intent) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)",
                (batch, attempt, ",".join(callees), INTENT, iso_utc(now), now, params, intent),
            )
            request_id = cur.lastrowid
            tag = self.campaign.tag(request_id)
            self.db.execute("UPDATE requests SET tag = ? WHERE id = ?", (tag, request_id))
        return request_id, tag

    def finish(
        self,
        request_id: int,
        outcome: Outcome | None,
        reason: str,
        *,
        http_status: int | None = None,
        api_status: str | None = None,
        latency: float | None = None,
        results: dict[str, list[str]] | None = None,
    ) -> None:
        """Commit what came of a request: one outcome for all its numbers, or (outcome None)
        per-number `results` from a status "0" answer; a number missing from them is unknown."""
        if outcome is None and results is None:
            results = {}
        with self._tx():
            self.db.execute(
                "UPDATE requests SET state = ?, outcome = ?, reason = ?, http_status = ?,"
                " api_status = ?, latency = ?, finished_at = ?, results = ? WHERE id = ?",
                (DONE, outcome, reason, http_status, api_status, latency, utc_now(),
                 None if results is None else orjson.dumps(results).decode(), request_id),
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

    def hold(self, held: dict[str, tuple[Outcome, str]], *, replace: bool = True) -> None:
        """Record what this run holds back and why; `replace` forgets the previous run's
        decisions first, except the sticky ones (the do-not-call list)."""
        now = utc_now()
        with self._tx():
            if replace:
                marks = ",".join("?" * len(STICKY))
                self.db.execute(f"DELETE FROM held WHERE outcome NOT IN ({marks})", STICKY)
            self.db.executemany(
                "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)",
                ((c, str(o), why, now) for c, (o, why) in held.items()),
            )

    def record_run(self, input_path: str, sha256: str, options: dict, facts: list) -> None:
        """Keep what this run read and planned, for workbooks rebuilt later."""
        with self._tx():
            self.db.execute(
                "INSERT INTO runs (at, input_path, input_sha256, options, facts)"
                " VALUES (?, ?, ?, ?, ?)",
                (utc_now(), input_path, sha256, orjson.dumps(options).decode(),
                 orjson.dumps(facts, default=str).decode()),
            )

    def record_stop(self, reason: str) -> None:
        """Why the latest run stopped before sending everything ('' when it did not)."""
        with self._tx():
            self.db.execute("UPDATE runs SET stop = ? WHERE id = (SELECT max(id) FROM runs)",
                            (reason,))

    def save_records(self, records: list[dict]) -> int:
        """Store call records (keyed by their voiceId), replacing older copies."""
        now = utc_now()
        rows = [
            (str(r["voiceId"]), str(r.get("callee") or ""),
             orjson.dumps(r).decode(), now)
            for r in records if r.get("voiceId")
        ]
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO call_records VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def begin_test_call(self, callee: str, params: str) -> int:
        """Commit a test call's intent before it is sent (unknown until its answer is in)."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO test_calls (at, callee, params, outcome, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (utc_now(), callee, params, Outcome.UNKNOWN,
                 "batcher stopped while the test call was in flight: it may have rung"),
            )
        return cur.lastrowid

    def finish_test_call(self, test_id: int, outcome: Outcome, reason: str, voice_id: str = "",
                         record: dict | None = None) -> None:
        """Commit what came of a test call (again once its call record is read)."""
        with self._tx():
            self.db.execute(
                "UPDATE test_calls SET outcome = ?, reason = ?, voice_id = ?, record = ?"
                " WHERE id = ?",
                (outcome, reason, voice_id,
                 None if record is None else orjson.dumps(record).decode(), test_id),
            )

    def event(self, kind: str, detail: str) -> None:
        """Append a line to the campaign's event log (never holds secrets)."""
        if self.readonly:
            return
        with self._tx():
            self.db.execute("INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)",
                            (utc_now(), kind, detail))

    # -- reading -------------------------------------------------------------------------------

    def requests_count(self) -> int:
        """How many requests the campaign has made."""
        return self.db.execute("SELECT count(*) FROM requests").fetchone()[0]

    def intents(self) -> set[str]:
        """The call-history reservations this journal's requests carry."""
        return {i for (i,) in self.db.execute("SELECT DISTINCT intent FROM requests")}

    def requests(self) -> list[Request]:
        """Every request of the campaign in order (the Batches sheet)."""
        return [Request._make(row) for row in self.db.execute(
            f"SELECT {', '.join(Request._fields)} FROM requests ORDER BY id")]

    def number_states(self) -> dict[str, NumberState]:
        """Replay the requests (and settlements) into one state per callee."""
        with collector.paused():  # a million numbers: 4.0 s -> 2.1 s
            return self._replay()

    def _replay(self) -> dict[str, NumberState]:
        settled: dict[tuple[int, str], tuple[str, str, str]] = {
            (r, c): (o, v, why)
            for r, c, o, v, why in self.db.execute(
                "SELECT request, callee, outcome, voice_id, reason FROM settlements")
        }
        states: dict[str, NumberState] = {}
        for request in self.requests():
            states.update(_request_states(request))
            if settled:
                for callee in request.numbers:
                    override = settled.get((request.id, callee))
                    if override:
                        outcome, voice_id, why = override
                        states[callee] = states[callee]._replace(
                            outcome=Outcome(outcome), reason=why, voice_id=voice_id)
        return states

    def calls(self) -> dict[str, list[Call]]:
        """Every attempt per callee, in order: the requests that may have placed a call to it.

        Derived like number_states (never stored twice): a request's accepted or unknown
        numbers, settlements applied (a reconciled-absent unknown is no attempt)."""
        with collector.paused():
            return self._calls()

    def _calls(self) -> dict[str, list[Call]]:
        settled = {(r, c): (o, v) for r, c, o, v in self.db.execute(
            "SELECT request, callee, outcome, voice_id FROM settlements")}
        accepted, unknown = Outcome.ACCEPTED, Outcome.UNKNOWN
        calls: dict[str, list[Call]] = {}
        for request in self.requests():
            rid = request.id
            if request.results is None:
                whole = Outcome(request.outcome) if request.outcome else unknown
                placed = dict.fromkeys(request.numbers, ("", whole))
            else:
                results = orjson.loads(request.results)
                placed = {}
                for callee in request.numbers:
                    entry = results.get(callee)
                    if entry is None:
                        placed[callee] = ("", unknown)
                    elif entry[0] == accepted:
                        placed[callee] = (entry[1], accepted)
            if settled:
                for callee in request.numbers:
                    override = settled.get((rid, callee))
                    if override:
                        placed[callee] = (override[1], Outcome(override[0]))
            for callee, (voice_id, outcome) in placed.items():
                if outcome is accepted or outcome is unknown:
                    mine = calls.setdefault(callee, [])
                    mine.append(Call(rid, len(mine) + 1, request.sent_at, request.sent_epoch,
                                     voice_id, outcome))
        return calls

    def last_request(self) -> tuple[float, int] | None:
        """(sent epoch, numbers) of the campaign's latest request, for pacing across runs."""
        row = self.db.execute(
            "SELECT sent_epoch, callees FROM requests ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], (row[1].count(",") + 1 if row[1] else 0)

    def held(self) -> dict[str, tuple[Outcome, str]]:
        """What the campaign holds back, and why (its latest run's decisions, sticky ones)."""
        return {c: (Outcome(o), why)
                for c, o, why in self.db.execute("SELECT callee, outcome, reason FROM held")}

    def sticky(self) -> set[str]:
        """Numbers this campaign never calls, whatever a run is told (do-not-call)."""
        marks = ",".join("?" * len(STICKY))
        return {c for (c,) in self.db.execute(
            f"SELECT callee FROM held WHERE outcome IN ({marks})", STICKY)}

    def last_run(self) -> dict[str, object] | None:
        """The latest run: input_path, input_sha256, options, facts, stop (None: none yet)."""
        row = self.db.execute(
            "SELECT input_path, input_sha256, options, facts, stop FROM runs"
            " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        path, sha, options, facts, stop = row
        return {"input_path": path, "input_sha256": sha, "options": orjson.loads(options),
                "facts": [tuple(f) for f in orjson.loads(facts)], "stop": stop}

    def call_records(self) -> dict[str, dict]:
        """The stored call records of this campaign: voiceId -> the vendor's record."""
        return {voice_id: orjson.loads(record) for voice_id, record in
                self.db.execute("SELECT voice_id, record FROM call_records")}

    def test_calls(self) -> list[TestCall]:
        """The operator's test calls, oldest first (none in a journal older than them)."""
        try:
            rows = self.db.execute(f"SELECT {', '.join(TestCall._fields)} FROM test_calls"
                                   " ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []  # a journal opened read-only that no test call has touched yet
        return [TestCall._make((*row[:-1], orjson.loads(row[-1]) if row[-1] else None))
                for row in rows]

    def events(self) -> list[tuple[str, str, str]]:
        """The campaign's event log: (at, kind, detail)."""
        return self.db.execute("SELECT at, kind, detail FROM events ORDER BY id").fetchall()

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
        """Close the database (folding its WAL back in), then release the lock."""
        if self.db is not None:
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    # a clean exit leaves one file: no -wal or -shm beside it
                    self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.close()
            self.db = None
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


def _request_states(request: Request) -> dict[str, NumberState]:
    """The state each callee of one request is left in by its outcome (a million at Excel's
    limit: no more than a dict lookup and a tuple per number)."""
    callees = request.numbers
    batch, rid, sent_at = request.batch, request.id, request.sent_at
    if request.results is None:
        outcome = Outcome(request.outcome) if request.outcome else Outcome.UNKNOWN
        same = NumberState(outcome, request.reason or "", "", "", "", batch, rid, sent_at)
        return dict.fromkeys(callees, same)
    results = orjson.loads(request.results)
    missing = NumberState(Outcome.UNKNOWN, "the answer said success but did not mention this "
                          "number: it may have been called (run batcher reconcile)",
                          "", "", "", batch, rid, sent_at)
    accepted, rejected = Outcome.ACCEPTED, Outcome.REJECTED
    states = {}
    for callee in callees:
        entry = results.get(callee)
        if entry is None:
            states[callee] = missing
        else:
            outcome, voice_id, code, why = entry
            outcome = accepted if outcome == accepted else rejected
            states[callee] = NumberState(outcome, "" if outcome is accepted else why, voice_id,
                                         code, why, batch, rid, sent_at)
    return states


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
            " END FROM requests_v1")
        if "events" in old:
            db.execute("INSERT INTO events (at, kind, detail) SELECT at, kind, detail"
                       " FROM events_v1")
        if "call_records" in old:
            db.execute("INSERT INTO call_records SELECT voice_id, callee, record, fetched_at"
                       " FROM call_records_v1")
        for table in old:
            db.execute(f"DROP TABLE {table}_v1")
        db.execute("DROP TABLE campaigns")
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
            ("schema", str(SCHEMA_VERSION)), ("campaign", name),
            ("campaign_id", str(uuid.uuid4())), ("created_at", utc_now())])
        db.execute("INSERT INTO events (at, kind, detail) VALUES (?, 'upgraded', ?)",
                   (utc_now(), "journal of batcher 0.1: its campaigns are now one campaign"))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _acquire_lock(path: Path) -> int:
    """flock on the journal file itself: no lock file is left behind. (SQLite's own locks are
    POSIX record locks, which flock does not touch; this descriptor is closed only after the
    connection, so closing it cannot drop SQLite's locks.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise JournalError(f"{path}: cannot open the journal ({exc.strerror})",
                           "check the folder's permissions, or pass --journal elsewhere") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalBusy(
            f"{path}: another batcher process is running this campaign",
            "wait for it to finish (or stop it with Ctrl-C), then run the command again",
        ) from None
    return fd
