"""The Journal: one campaign's SQLite file, held by one process, and every read and write of it.

Each method is one concept's function (batcher.journal.requests, numbers, runs, ...) in one
transaction of its own, or in the enclosing `together()` (the send layer's group commit). A
write that changes what a number is left in (a request's intent in `begin`, its outcome in
`finish`, a settlement in `settle`, the recovery of requests left in flight in `claim`, an
adopted reservation in `adopt_orphans`) writes its numbers' rows in the same statement: the
numbers table's triggers (batcher.journal.numbers).
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from gettext import ngettext
from pathlib import Path

from batcher.errors import JournalError, UsageError, out_of_resource
from batcher.journal import campaign, numbers, records, requests, runs, testcalls
from batcher.journal.file import Transaction, acquire_lock, connect, release_lock
from batcher.journal.rows import Call, NumberState, Opened, Request, TestCall, utc_now
from batcher.journal.schema import SCHEMA_VERSION
from batcher.journal.upgrade import upgrade, version, view_numbers
from batcher.outcomes import Outcome


def initialise(path: Path) -> None:
    """Give an empty journal file its tables: a parent that took its lock for a child (serve)
    does it, so that the child's own reads before it opens the journal meet an empty journal,
    not a file they must call damaged. The caller holds the lock."""
    db = connect(path, readonly=False)
    try:
        upgrade(db)
        db.execute("PRAGMA journal_mode=DELETE")  # one file, as a clean close leaves it
    finally:
        db.close()


class Journal:
    """The journal of one campaign, held exclusively by this process (unless read-only, or
    `beside` its holder).

    `beside=True` writes without taking the campaign: what `batcher serve` stores from the
    vendor's pushes (call records, and the settlements they prove) while a run may hold the
    journal. SQLite keeps the two writers apart (WAL, each write one BEGIN IMMEDIATE
    transaction, the busy timeout); the file must already be at this batcher's schema (the
    holder upgrades it, never a writer beside it), else JournalError."""

    def __init__(self, path: Path, *, readonly: bool = False, beside: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.beside = beside and not readonly
        self._lock: int | None = None
        self._grouped = False  # inside together(): writes join its transaction
        self._numbers_ready = True  # False: a read-only look at a version 2 file, not yet read
        self._open: sqlite3.Connection | None = None  # None once closed
        if not readonly and not self.beside:
            self._lock = acquire_lock(path)
        try:
            self.db = self._open = connect(path, readonly)
            if readonly:
                _check_readable(self.db)
                self._numbers_ready = version(self.db) >= SCHEMA_VERSION
            elif self.beside:
                _check_readable(self.db)
                if version(self.db) != SCHEMA_VERSION:
                    raise sqlite3.DatabaseError(
                        f"schema version {version(self.db)}, not {SCHEMA_VERSION}: the next run "
                        "of the campaign upgrades it"
                    )
            else:
                upgrade(self.db)
            self.campaign = campaign.info(self.db)
        except sqlite3.DatabaseError as exc:
            self.close()
            exhausted = out_of_resource(exc, path, "the campaign journal")
            if exhausted is not None:
                raise exhausted from None
            raise JournalError(
                f"{path}: not a batcher journal, or damaged ({exc})",
                "give the campaign's .journal file (run and plan take it as --journal FILE), or "
                "move this one away (it may be the only record of whom this campaign called: "
                "keep a copy)",
            ) from None

    # -- the file ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Make every write inside one transaction, committed (and synced) once at the end.

        A group commit: all of them are on disk when this returns, none if it raises.
        """
        with self.transaction():
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False

    def transaction(self) -> Transaction:
        """One write transaction, or a part of the enclosing together()."""
        return Transaction(self.db, nested=self._grouped, path=self.path)

    def close(self) -> None:
        """Close the database (folding its WAL back in), then release the lock."""
        if self._open is not None:
            if self.beside:  # the holder may be at work: fold the WAL in only if nobody is
                with contextlib.suppress(sqlite3.Error):
                    self._open.execute("PRAGMA busy_timeout=0")
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    # a clean exit leaves one file: no -wal or -shm beside it
                    self._open.execute("PRAGMA journal_mode=DELETE")
            self._open.close()
            self._open = None
        if self._lock is not None:
            release_lock(self._lock, self.path)
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the campaign --------------------------------------------------------------------------

    def claim(self, name: str) -> Opened:
        """Make this journal the campaign `name` (new), or check it is; recover dead requests."""
        if self.campaign is None:
            self._set_meta(campaign=name, campaign_id=str(uuid.uuid4()), created_at=utc_now())
            return Opened(True, 0)
        if self.campaign.name != name:
            raise UsageError(
                f"{self.path} is the journal of the campaign {self.campaign.name!r}, not {name!r}",
                f"pass --campaign {self.campaign.name} to go on with it, or give the new "
                "campaign its own journal (--journal NEW.journal)",
            )
        return Opened(not self.requests_count(), self._recover())

    def check_message(self, app_id: str, message: str, shown: str, *, record: bool) -> None:
        """A campaign sends one message from one appId: refuse another, with the fix.

        `message` identifies the recording (the fileId, or the audio file's SHA-256), `shown`
        is how to name it to the operator. The first send records both (`record`).
        """
        info = self.campaign
        assert info is not None
        if not info.message:
            if record and not self.readonly:
                self._set_meta(app_id=app_id, message=message, message_shown=shown)
            return
        before = campaign.meta(self.db).get("message_shown", info.message)
        if info.message != message:
            changed = f"the message changed (this campaign sent {before}, now {shown})"
        elif info.app_id != app_id:
            changed = f"the appId changed (this campaign sent from {info.app_id}, now {app_id})"
        else:
            return
        raise UsageError(
            f"campaign {info.name!r} ({self.path}): {changed}",
            "a campaign plays one message to each person once: to send another one, start a "
            "new campaign with --campaign NEW-NAME (numbers this one called stay held by the "
            "call history's cooldown)",
        )

    @property
    def endpoint(self) -> str:
        """Where the campaign sends: 'sandbox' (the embedded one, gone with its run) or a URL."""
        return campaign.meta(self.db).get("endpoint", "")

    def set_endpoint(self, endpoint: str) -> None:
        """Remember where the campaign sends, for reconcile and records."""
        if not self.readonly and endpoint != self.endpoint:
            self._set_meta(endpoint=endpoint)

    @property
    def opt_out_key(self) -> str:
        """The key this campaign's callees press to be called no more ("": none kept)."""
        return campaign.meta(self.db).get("opt_out_key", "")

    @property
    def history(self) -> str:
        """The call history the campaign's runs used, as shown (a URL without its password;
        "": not kept), for records and reconcile to note its opt-outs on the same register."""
        return campaign.meta(self.db).get("history", "")

    def keep_history(self, shown: str) -> None:
        """Remember the call history a run of the campaign used."""
        if not self.readonly and shown != self.history:
            self._set_meta(history=shown)

    @property
    def opt_out_keys(self) -> str:
        """Every key the campaign has offered, the current one first ("": none). A call made
        while the recording said "press 9" is an opt-out when its record shows 9, even if
        the key changed before the record came: a key is never forgotten (fail closed)."""
        meta = campaign.meta(self.db)
        return meta.get("opt_out_keys", "") or meta.get("opt_out_key", "")

    def keep_opt_out_key(self, key: str) -> None:
        """Remember the campaign's opt-out key, for records, reconcile and follow to apply;
        the keys it had before are kept too (opt_out_keys)."""
        if not self.readonly and key != self.opt_out_key:
            before = self.opt_out_keys.replace(key, "")
            self._set_meta(opt_out_key=key, opt_out_keys=key + before)

    def _set_meta(self, **values: str) -> None:
        with self.transaction() as db:
            campaign.set_meta(db, **values)
        self.campaign = campaign.info(self.db)

    # -- requests, and their numbers' rows -----------------------------------------------------

    def next_batch(self) -> int:
        """The next unused batch number of this campaign."""
        return requests.next_batch(self.db)

    def begin(
        self,
        batch: int,
        attempt: int,
        callees: list[str],
        params: str = "{}",
        intent: str = "",
        now: float | None = None,
    ) -> tuple[int, str]:
        """Commit a request's intent, its numbers in flight, before it is sent; return its id
        and calledInfo tag. `now`: the vendor's epoch it is sent at (Settings.now)."""
        assert self.campaign is not None
        with self.transaction() as db:
            return requests.begin(db, self.campaign, batch, attempt, callees, params, intent, now)

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
        """Commit what came of a request, and so of its numbers: one outcome for all of them,
        or (outcome None) per-number `results` from a status "0" answer; a number missing from
        them is unknown."""
        with self.transaction() as db:
            requests.finish(
                db,
                request_id,
                outcome,
                reason,
                http_status=http_status,
                api_status=api_status,
                latency=latency,
                results=results,
            )

    def settle(self, request_id: int, settled: Iterable[tuple[str, str, str, str]]) -> int:
        """Commit reconciled outcomes (callee, outcome, voiceId, reason) of one request; a
        number whose latest request it is takes them."""
        with self.transaction() as db:
            return numbers.settle(db, request_id, settled, utc_now())

    def _recover(self) -> int:
        if self.readonly:
            return 0
        with self.transaction() as db:
            recovered = requests.recover(db)
        if recovered:
            self.event(
                "recovered",
                ngettext(
                    "{n} request in flight became unknown",
                    "{n} requests in flight became unknown",
                    recovered,
                ).format(n=recovered),
            )
        return recovered

    def adopt_orphans(self, reserved: dict[str, list[str]], now: float | None = None) -> int:
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
        assert self.campaign is not None
        adopted = 0
        with self.transaction() as db:
            sent = numbers.sent(db, (c for callees in orphans.values() for c in callees))
            for intent, callees in orphans.items():
                callees = [c for c in dict.fromkeys(callees) if c not in sent]
                requests.adopt(db, self.campaign, intent, callees, now)
                adopted += len(callees)
        if adopted:
            self.event(
                "recovered",
                ngettext(
                    "{n} number reserved but not recorded: unknown",
                    "{n} numbers reserved but not recorded: unknown",
                    adopted,
                ).format(n=adopted),
            )
        return adopted

    def requests(self) -> list[Request]:
        """Every request of the campaign in order (the Batches sheet)."""
        return requests.every(self.db)

    def requests_count(self) -> int:
        """How many requests the campaign has made."""
        return requests.count(self.db)

    def intents(self) -> set[str]:
        """The call-history reservations this journal's requests carry."""
        return requests.intents(self.db)

    def request_ids(self, after: int, *, answered: bool = False) -> list[int]:
        """The ids of the requests after `after`, in order (if `answered`, only those whose
        outcome is on disk)."""
        return requests.ids(self.db, after, answered)

    def settled_requests(self, after: int) -> list[int]:
        """The ids of the requests after `after` that have settlements, in order."""
        return numbers.settled(self.db, after)

    def last_request_id(self) -> int:
        """The id of the campaign's latest request (0: none yet)."""
        return requests.last_id(self.db)

    def last_request(self) -> tuple[float, int] | None:
        """(sent epoch, numbers) of the campaign's latest request, for pacing across runs."""
        return requests.last(self.db)

    # -- numbers -------------------------------------------------------------------------------

    def number_states(
        self, *, after: int = 0, requests: Iterable[int] | None = None
    ) -> dict[str, NumberState]:
        """One state per number the campaign sent, its latest row of the numbers table (only
        the numbers whose latest request is after `after`; or what the `requests` left their
        numbers in, the latest of them winning)."""
        return numbers.states(self._numbers(), after=after, requests=requests)

    def calls(self) -> dict[str, list[Call]]:
        """Every attempt per callee, in order: the requests that may have placed a call to it."""
        return numbers.calls(self._numbers())

    def rows_of(self, callee: str) -> list[tuple[int, str, str, str, str]]:
        """Every request that carried this number, oldest first: (request, sent_at, outcome,
        reason, its call history intent)."""
        return numbers.of_callee(self._numbers(), callee)

    def numbers_carried(self) -> int:
        """How many numbers the requests carried, a number sent twice counted twice."""
        return numbers.carried(self._numbers())

    def _numbers(self) -> sqlite3.Connection:
        if not self._numbers_ready:  # a read-only look at a version 2 file
            view_numbers(self.db)
            self._numbers_ready = True
        return self.db

    # -- what the runs decided and did ---------------------------------------------------------

    def hold(self, held: dict[str, tuple[Outcome, str]], *, replace: bool = True) -> None:
        """Record what this run holds back and why; `replace` forgets the previous run's
        decisions first, except the sticky ones (the do-not-call list)."""
        with self.transaction() as db:
            runs.hold(db, held, replace)

    def held(self) -> dict[str, tuple[Outcome, str]]:
        """What the campaign holds back, and why (its latest run's decisions, sticky ones)."""
        return runs.held(self.db)

    def sticky(self) -> set[str]:
        """Numbers this campaign never calls, whatever a run is told (do-not-call)."""
        return runs.sticky(self.db)

    def record_run(self, input_path: str, sha256: str, options: dict, facts: list) -> None:
        """Keep what this run read and planned, for workbooks rebuilt later."""
        with self.transaction() as db:
            runs.record_run(db, input_path, sha256, options, facts)

    def record_stop(self, reason: str) -> None:
        """Why the latest run stopped before sending everything ('' when it did not)."""
        with self.transaction() as db:
            runs.record_stop(db, reason)

    def last_run(self) -> dict[str, object] | None:
        """The latest run: input_path, input_sha256, options, facts, stop (None: none yet)."""
        return runs.last_run(self.db)

    def event(self, kind: str, detail: str) -> None:
        """Append a line to the campaign's event log (never holds secrets)."""
        if self.readonly:
            return
        with self.transaction() as db:
            runs.event(db, kind, detail)

    def events(self) -> list[tuple[str, str, str]]:
        """The campaign's event log: (at, kind, detail)."""
        return runs.events(self.db)

    # -- call records --------------------------------------------------------------------------

    def save_records(self, found: list[dict]) -> int:
        """Store call records (keyed by their voiceId), replacing older copies."""
        with self.transaction() as db:
            return records.save(db, found)

    def call_records(self) -> dict[str, dict]:
        """The stored call records of this campaign: voiceId -> the vendor's record."""
        return records.read(self.db)

    def records_mark(self) -> tuple[int, int]:
        """Changes whenever a call record is stored: (count, newest row id), read cheaply."""
        return records.mark(self.db)

    def pressed(
        self, key: str, skip: set[str] | frozenset[str] = frozenset()
    ) -> list[tuple[str, str, dict]]:
        """(voiceId, callee, record) of the stored call records showing this key pressed, but
        those whose voiceId is in `skip` (an index finds them: cheap at a million records)."""
        return records.pressed(self.db, key, skip)

    # -- test calls ----------------------------------------------------------------------------

    def begin_test_call(self, callee: str, params: str) -> int:
        """Commit a test call's intent before it is sent (unknown until its answer is in)."""
        with self.transaction() as db:
            return testcalls.begin(db, callee, params)

    def finish_test_call(
        self,
        test_id: int,
        outcome: Outcome,
        reason: str,
        voice_id: str = "",
        record: dict | None = None,
    ) -> None:
        """Commit what came of a test call (again once its call record is read)."""
        with self.transaction() as db:
            testcalls.finish(db, test_id, outcome, reason, voice_id, record)

    def test_calls(self) -> list[TestCall]:
        """The operator's test calls, oldest first (none in a journal older than them)."""
        return testcalls.every(self.db)


def _check_readable(db: sqlite3.Connection) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    if "requests" not in tables:
        raise sqlite3.DatabaseError("no requests table")
    if "campaigns" in tables:
        raise sqlite3.DatabaseError("a journal of batcher 0.1: run it once to upgrade it")
