"""The Journal class: opening, locking and claiming a campaign's journal, and its transactions.

A journal is held by one process at a time (an flock on the file itself, `_acquire_lock`),
opened in WAL mode with synchronous commits, upgraded and given its schema on open. Claiming it
names the campaign (or checks the name) and turns requests left in flight by a dead process
into unknowns; `adopt_orphans` does the same for the call history's reservations that never
became a request. Every write goes through `_tx()`, one `BEGIN IMMEDIATE ... COMMIT`, or joins
the enclosing `together()` (the send layer's group commit). The writes and the reads
themselves are the mixins of `batcher.journal.writing` and `batcher.journal.reading`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from batcher.clock import iso_utc
from batcher.errors import JournalBusy, JournalError, UsageError
from batcher.journal.reading import _JournalReads
from batcher.journal.rows import CampaignInfo, Opened, utc_now
from batcher.journal.schema import DONE, INTENT, SCHEMA, SCHEMA_VERSION, _migrate
from batcher.journal.writing import _JournalWrites
from batcher.outcomes import Outcome


class Journal(_JournalWrites, _JournalReads):
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
        return CampaignInfo(
            meta.get("campaign", ""),
            meta["campaign_id"],
            meta.get("created_at", ""),
            meta.get("app_id", ""),
            meta.get("message", ""),
        )

    # -- claiming ------------------------------------------------------------------------------

    def claim(self, name: str) -> Opened:
        """Make this journal the campaign `name` (new), or check it is; recover dead requests."""
        if self.campaign is None:
            self._set_meta(campaign=name, campaign_id=str(uuid.uuid4()), created_at=utc_now())
            self.campaign = self._campaign()
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
                (
                    DONE,
                    Outcome.UNKNOWN,
                    utc_now(),
                    "batcher stopped while this request was in "
                    "flight: calls may have been placed (run batcher reconcile)",
                    INTENT,
                ),
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
        why = (
            "reserved in the call history, but batcher stopped before recording the request: "
            "most likely never called (run batcher reconcile to settle it)"
        )
        with self._tx():
            for intent, callees in orphans.items():
                callees = [c for c in dict.fromkeys(callees) if c not in states]
                cur = self.db.execute(
                    "INSERT INTO requests (batch, attempt, tag, callees, state, outcome, reason,"
                    " sent_at, sent_epoch, finished_at, intent)"
                    " VALUES (0, 1, '', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ",".join(callees),
                        DONE,
                        Outcome.UNKNOWN,
                        why,
                        iso_utc(now),
                        now,
                        iso_utc(now),
                        intent,
                    ),
                )
                self.db.execute(
                    "UPDATE requests SET tag = ? WHERE id = ?",
                    (self.campaign.tag(cur.lastrowid), cur.lastrowid),
                )
                adopted += len(callees)
        if adopted:
            self.event("recovered", f"{adopted} number(s) reserved but not recorded: unknown")
        return adopted

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


def _acquire_lock(path: Path) -> int:
    """flock on the journal file itself: no lock file is left behind. (SQLite's own locks are
    POSIX record locks, which flock does not touch; this descriptor is closed only after the
    connection, so closing it cannot drop SQLite's locks.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise JournalError(
            f"{path}: cannot open the journal ({exc.strerror})",
            "check the folder's permissions, or pass --journal elsewhere",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalBusy(
            f"{path}: another batcher process is running this campaign",
            "wait for it to finish (or stop it with Ctrl-C), then run the command again",
        ) from None
    return fd
