"""The call history: every number any campaign of this user reserved for sending, in one file.

A journal knows whom *its* campaign called; the history knows whom *every* campaign called,
whatever folder or journal it ran from (default `~/.local/share/batcher/history.sqlite`,
`$BATCHER_HISTORY`, `--history`). A campaign reserves each number here, atomically, before the
request that carries it is recorded and sent; a number another campaign reserved within the
cooldown is not sent but held as `recently_called`, unless the operator says `--allow-repeat`.

Two processes on different journals sharing the file cannot both reserve one number: the check
and the insert are one `BEGIN IMMEDIATE` transaction (SQLite WAL, with a busy timeout).

Reservations are kept per endpoint kind: calls to a simulator on this machine never hold
numbers for a real endpoint, and the reverse.

Beside them it keeps two small facts of this user's account: the audio uploads batcher made
(`uploads`), and the round trip `batcher check` last measured to each endpoint (`latency`),
which a plan's time estimate uses until the campaign has measured its own requests.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from batcher.errors import JournalError

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    callee TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    campaign TEXT NOT NULL,
    name TEXT NOT NULL,
    journal TEXT NOT NULL,
    intent TEXT NOT NULL,
    at REAL NOT NULL,
    placed INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS calls_callee ON calls (callee, endpoint, at);
CREATE INDEX IF NOT EXISTS calls_campaign ON calls (campaign, journal);
CREATE TABLE IF NOT EXISTS uploads (
    endpoint TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file_id TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS latency (
    endpoint TEXT PRIMARY KEY,
    seconds REAL NOT NULL,
    at REAL NOT NULL
);
"""
CHUNK = 500  # numbers per IN (...) query: under SQLite's variable limit


@dataclass(frozen=True)
class Caller:
    """The campaign asking: its id and name, its journal, and the kind of endpoint it calls."""

    campaign: str
    name: str
    journal: str
    endpoint: str  # "loopback" (a simulator on this machine) or the real endpoint's URL


@dataclass(frozen=True)
class Hold:
    """A number another campaign reserved within the cooldown."""

    name: str
    journal: str
    at: float

    def reason(self, now: float) -> str:
        """The row's reason, naming that campaign, its journal and how long ago."""
        return (
            f"called by the campaign {self.name!r} ({self.journal}) {_ago(now - self.at)} "
            "ago, within the cooldown: held (pass --allow-repeat to call again on purpose)"
        )


class History:
    """The call history file, opened for one run."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None
        self._grouped = False  # inside together(): reservations join its transaction
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                return  # a dry run before any campaign: nothing is held
            self.db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self.db.execute("PRAGMA busy_timeout=30000")
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(SCHEMA)
            else:
                self.db.execute("SELECT count(*) FROM calls WHERE 0").fetchone()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> JournalError:
        why = getattr(exc, "strerror", None) or str(exc)
        return JournalError(
            f"{self.path}: the call history cannot be used ({why})",
            "it records whom every campaign called, so nothing is sent without it: fix its "
            "permissions, move a damaged file away, or point --history (or BATCHER_HISTORY) "
            "at another file",
        )

    # -- reading -------------------------------------------------------------------------------

    def holds(
        self, callees: Iterable[str], me: Caller, cooldown: float, now: float
    ) -> dict[str, Hold]:
        """Which of these numbers other campaigns reserved within the cooldown."""
        if self.db is None or cooldown <= 0:
            return {}
        wanted = callees if isinstance(callees, set | dict) else set(callees)
        found: dict[str, Hold] = {}
        try:
            rows = self.db.execute(
                "SELECT callee, name, journal, at FROM calls WHERE endpoint = ? AND at >= ?"
                " AND placed = 1 AND NOT (campaign = ? AND journal = ?) ORDER BY at",
                (me.endpoint, now - cooldown, me.campaign, me.journal),
            )
            for callee, name, journal, at in rows:
                if callee in wanted:
                    found[callee] = Hold(name, journal, at)  # the latest wins
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return found

    def intents(self, me: Caller) -> dict[str, list[str]]:
        """This campaign's reservations, by intent: intent -> callees."""
        if self.db is None:
            return {}
        out: dict[str, list[str]] = {}
        for intent, callee in self.db.execute(
            "SELECT intent, callee FROM calls WHERE campaign = ? AND journal = ?",
            (me.campaign, me.journal),
        ):
            out.setdefault(intent, []).append(callee)
        return out

    # -- writing -------------------------------------------------------------------------------

    def reserve(
        self,
        callees: list[str],
        me: Caller,
        cooldown: float,
        now: float,
        allowed: frozenset[str] | set[str] = frozenset(),
    ) -> tuple[str, list[str], dict[str, Hold]]:
        """Reserve the numbers no other campaign holds (or that the operator `allowed`), in one
        transaction; return the intent id, the numbers reserved and the ones held."""
        assert self.db is not None
        intent = uuid.uuid4().hex
        held: dict[str, Hold] = {}
        try:
            if not self._grouped:
                self.db.execute("BEGIN IMMEDIATE")
            try:
                if cooldown > 0:
                    for start in range(0, len(callees), CHUNK):
                        piece = [c for c in callees[start : start + CHUNK] if c not in allowed]
                        if not piece:
                            continue
                        marks = ",".join("?" * len(piece))
                        for callee, name, journal, at in self.db.execute(
                            f"SELECT callee, name, journal, max(at) FROM calls WHERE callee IN"
                            f" ({marks}) AND endpoint = ? AND at >= ? AND placed = 1 AND NOT"
                            " (campaign = ? AND journal = ?) GROUP BY callee",
                            (*piece, me.endpoint, now - cooldown, me.campaign, me.journal),
                        ):
                            held[callee] = Hold(name, journal, at)
                granted = [c for c in callees if c not in held]
                self.db.executemany(
                    "INSERT INTO calls (callee, endpoint, campaign, name, journal, intent, at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        (c, me.endpoint, me.campaign, me.name, me.journal, intent, now)
                        for c in granted
                    ),
                )
                if not self._grouped:
                    self.db.execute("COMMIT")
            except BaseException:
                if not self._grouped:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return intent, granted, held

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Make every reservation inside one transaction, committed (and synced) once: the
        send's journal thread reserves a whole group of requests at a cost of one fsync. Each
        check-and-insert stays atomic against other processes (the transaction holds the write
        lock from its start)."""
        if self.db is None or self._grouped:
            yield
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        self._grouped = True
        try:
            yield
        except BaseException:
            self._grouped = False
            self.db.execute("ROLLBACK")
            raise
        self._grouped = False
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def unplace(self, intent: str, callees: list[str] | None = None) -> None:
        """The request of this intent provably placed no call (to these callees, or to any):
        its reservation holds no one any more."""
        if self.db is None or not intent:
            return
        try:
            if callees is None:
                self.db.execute("UPDATE calls SET placed = 0 WHERE intent = ?", (intent,))
            else:
                self.db.executemany(
                    "UPDATE calls SET placed = 0 WHERE intent = ? AND callee = ?",
                    ((intent, c) for c in callees),
                )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    # -- audio uploads -------------------------------------------------------------------------

    def upload(self, endpoint: str, name: str) -> tuple[str, str] | None:
        """(sha256, fileId) of the recording uploaded under this name, if batcher uploaded it."""
        if self.db is None:
            return None
        row = self.db.execute(
            "SELECT sha256, file_id FROM uploads WHERE endpoint = ? AND name = ?", (endpoint, name)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def record_upload(
        self, endpoint: str, name: str, sha256: str, file_id: str, now: float
    ) -> None:
        """Remember which recording an upload's name stands for."""
        assert self.db is not None
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?)",
                (endpoint, name, sha256, file_id, now),
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    # -- the endpoint's round trip -------------------------------------------------------------

    def latency(self, endpoint: str) -> tuple[float, float] | None:
        """(seconds, epoch) of the round trip `batcher check` last measured to an endpoint."""
        if self.db is None:
            return None
        try:
            row = self.db.execute(
                "SELECT seconds, at FROM latency WHERE endpoint = ?", (endpoint,)
            ).fetchone()
        except sqlite3.OperationalError:
            return None  # a history older than the table, opened without creating it
        return (row[0], row[1]) if row else None

    def record_latency(self, endpoint: str, seconds: float, at: float) -> None:
        """Remember the round trip `batcher check` measured to an endpoint (the latest wins)."""
        assert self.db is not None
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO latency VALUES (?, ?, ?)", (endpoint, seconds, at)
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        """Close the file (a clean exit leaves no -wal or -shm beside it)."""
        if self.db is not None:
            try:
                self.db.execute("PRAGMA busy_timeout=0")
                self.db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass  # another process still has it open: its WAL stays until it closes
            self.db.close()
            self.db = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
