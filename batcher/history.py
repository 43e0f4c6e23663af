"""The call history: every number any campaign of this user reserved for sending, in one file.

A journal knows whom *its* campaign called; the history knows whom *every* campaign called,
whatever folder or journal it ran from (default `~/.local/share/batcher/history.sqlite`,
`$BATCHER_HISTORY`, `--history`). A campaign reserves each number here, atomically, before the
request that carries it is recorded and sent; a number another campaign reserved within the
cooldown is not sent but held as `recently_called`, unless the operator says `--allow-repeat`.

Two processes on different journals sharing the file cannot both reserve one number: the check
and the insert are one `BEGIN IMMEDIATE` transaction (SQLite WAL, with a busy timeout).

A team's machines share one history in PostgreSQL instead (`history = "postgresql://…"`): the
same SQL runs there through batcher.historydb, whose `BEGIN IMMEDIATE` takes an advisory lock
that every batcher process's write transaction takes, so a check-and-insert never interleaves
with another machine's either. The history is named by a HistoryLocation: a path, or the URL
shown without its password.

Reservations are kept per endpoint kind (batcher.settings.endpoint_kind): calls to a simulator
on this machine never hold numbers for a real endpoint, and the reverse. A trial on the
embedded sandbox (`run --sandbox`, kind `sandbox`) rang nobody: its reservations hold no one,
not even another trial, and nothing holds it (they are kept only so that the trial adopts its
own orphans). So the README's sample run never holds the numbers of a campaign tried or run next.

Beside them it keeps two small facts of this user's account: the audio uploads batcher made
(`uploads`), and the round trip `batcher check` last measured to each endpoint (`latency`),
which a plan's time estimate uses until the campaign has measured its own requests.

And the account's do-not-call register (`register`, read and written by batcher.register):
numbers no campaign calls, whatever --allow-repeat says; `reserve` checks it in the same
transaction, so an opt-out noted during a send holds the number from the next request on.

And every campaign's test calls (`test_calls`, batcher.followup.test_call): one row per test
call, its intent written before it is sent, so a test call of any campaign, folder or machine
within the cooldown is refused unless confirmed (`begin_test_call`, `test_called`). They are
no reservations: `holds` and `reserve` never read them, so a campaign calls a test-called
number normally. A trial's (kind `sandbox`) rang nobody and holds no one.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from batcher import register
from batcher.errors import JournalError, out_of_resource
from batcher.historydb import Database, connect
from batcher.outcomes import Outcome
from batcher.settings import SANDBOX, HistoryLocation

SCHEMA_VERSION = 4
# A reservation is one row per request (its intent): who asked, when, and the numbers it
# carries, comma-separated as the journal keeps a request's callees; `unplaced` lists those
# the request provably did not call ("*": none of them). Nothing is kept or indexed per
# number: format 1's callee index cost a million-number send 26 s of its 37 (each group
# commit rewrote most of it), and a row per number 2.6 s more. Who holds a number is read from
# the cooldown window's reservations once, when the run plans (`holds`), then only from the
# reservations recorded since (`reserve`), so each commit appends a row or two.
SCHEMA = """
CREATE TABLE IF NOT EXISTS callers (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    campaign TEXT NOT NULL,
    name TEXT NOT NULL,
    journal TEXT NOT NULL,
    UNIQUE (endpoint, campaign, journal, name)
);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY,
    intent TEXT NOT NULL UNIQUE,
    caller INTEGER NOT NULL REFERENCES callers (id),
    at REAL NOT NULL,
    callees TEXT NOT NULL,
    unplaced TEXT NOT NULL DEFAULT ''
);
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
CREATE TABLE IF NOT EXISTS register (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    action TEXT NOT NULL,
    why TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    journal TEXT NOT NULL DEFAULT '',
    voice_id TEXT UNIQUE,
    at REAL NOT NULL,
    by_whom TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS register_number ON register (number);
CREATE TABLE IF NOT EXISTS test_calls (
    id INTEGER PRIMARY KEY,
    intent TEXT NOT NULL UNIQUE,
    caller INTEGER NOT NULL REFERENCES callers (id),
    callee TEXT NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'unknown'
);
CREATE INDEX IF NOT EXISTS test_calls_callee ON test_calls (callee);
"""
# Format 4 added test_calls: the test calls of every campaign (`caller` its campaign, journal
# and endpoint kind), `outcome` unknown from the intent until the answer says accepted or that
# nothing was placed. Formats 1 to 3 had none: the script above creates it, and only it.
# Format 3 added the register: the changes of the account's do-not-call list, one row each
# (`action` add or remove, never deleted), `endpoint` the kind it holds on ("*": every one),
# `voice_id` the call record of a key press (noted once). Formats 1 and 2 had none: the
# script above creates it.
# Format 1 kept a row per number, with who and when on each, indexed by callee.
_FROM_V1 = """
INSERT INTO callers (endpoint, campaign, name, journal)
    SELECT DISTINCT endpoint, campaign, name, journal FROM calls;
INSERT INTO reservations (intent, caller, at, callees, unplaced)
    SELECT c.intent, w.id, min(c.at), group_concat(c.callee, ','),
        coalesce(group_concat(CASE WHEN c.placed = 0 THEN c.callee END, ','), '')
    FROM calls c JOIN callers w
        ON (w.endpoint, w.campaign, w.name, w.journal) = (c.endpoint, c.campaign, c.name, c.journal)
    GROUP BY c.intent ORDER BY min(c.at);
DROP TABLE calls;
"""
# The latest test call of one number on one endpoint kind since a time that may have rung it.
_TEST_CALLED = """
SELECT w.name, w.journal, w.campaign, t.at FROM test_calls t JOIN callers w ON w.id = t.caller
WHERE t.callee = ? AND w.endpoint = ? AND t.at >= ? AND t.outcome IN ('unknown', 'accepted')
ORDER BY t.at DESC, t.id DESC LIMIT 1
"""
# Other campaigns' reservations on one endpoint within the window, oldest first.
_OTHERS = """
SELECT r.callees, r.unplaced, w.name, w.journal, r.at FROM reservations r
    JOIN callers w ON w.id = r.caller
WHERE r.at >= ? AND r.id > ? AND r.id <= ? AND w.endpoint = ? AND r.unplaced != '*'
    AND NOT (w.campaign = ? AND w.journal = ?)
ORDER BY r.at
"""
# The reservations carrying one number (portable SQL: `?` and `||`, no SQLite function).
_OF_CALLEE = """
SELECT r.at, w.name, w.journal, w.endpoint, r.intent, r.unplaced FROM reservations r
    JOIN callers w ON w.id = r.caller
WHERE ',' || r.callees || ',' LIKE ?
ORDER BY r.at, r.id
"""


@dataclass(frozen=True)
class Caller:
    """The campaign asking: its id and name, its journal, and the kind of endpoint it calls."""

    campaign: str
    name: str
    journal: str
    endpoint: str  # the endpoint's kind: "sandbox", "loopback" or "vendor"

    @property
    def trial(self) -> bool:
        """A trial on the embedded sandbox: it holds no one and nothing holds it."""
        return self.endpoint == SANDBOX


@dataclass(frozen=True)
class Hold:
    """A number another campaign reserved within the cooldown."""

    name: str
    journal: str
    at: float
    listed: str = ""  # on the do-not-call register: why (the row's reason), and no cooldown

    @property
    def outcome(self) -> Outcome:
        """How the number is held: opted_out (the register), else recently_called."""
        return Outcome.OPTED_OUT if self.listed else Outcome.RECENTLY_CALLED

    def reason(self, now: float) -> str:
        """The row's reason, naming that campaign, its journal and how long ago."""
        if self.listed:
            return self.listed
        return (
            f"called by the campaign {self.name!r} ({self.journal}) {_ago(now - self.at)} "
            "ago, within the cooldown: held (pass --allow-repeat to call again on purpose)"
        )


@dataclass(frozen=True)
class TestCalled:
    """A test call of a number that may have rung it: by which campaign, journal, when."""

    __test__ = False  # not a pytest class, whatever its name

    name: str
    journal: str
    campaign: str  # the campaign's id
    at: float


@dataclass(frozen=True)
class Reservation:
    """One reservation of a number (a request that carried it): when, by which campaign and
    journal, on which kind of endpoint, and whether it may have placed the call."""

    at: float
    name: str
    journal: str
    endpoint: str
    intent: str
    placed: bool  # False: the request provably placed no call to it (`unplace`)


@dataclass
class _Seen:
    """What this run has read of other campaigns' reservations, for one caller: every intent
    up to `mark`, for the numbers in `covered` (None: for every number), and what holds them."""

    mark: int
    covered: set[str] | None
    held: dict[str, Hold]


class History:
    """The call history (a file, or a PostgreSQL database), opened for one run."""

    def __init__(self, where: HistoryLocation | Path | str, *, create: bool = True) -> None:
        self.location = HistoryLocation.of(where)
        self.path = self.location.path  # None: a PostgreSQL database
        self.db: Database | None = None
        self._grouped = False  # inside together(): reservations join its transaction
        self._begun = False  # ... which its first write began
        self.group_intents: list[str] = []  # the intents the latest together() reserved
        self._seen: dict[tuple[str, str, str], _Seen] = {}
        self._callers: dict[Caller, int] = {}
        # this open made the file (first use, a deleted file, another HOME or BATCHER_HISTORY)
        self.created = False
        path = self.path
        try:
            if path is None:
                pass  # a database: made by its administrator, its tables by the first open
            elif create:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.created = not path.exists() or path.stat().st_size == 0
            elif not path.exists():
                return  # a dry run before any campaign: nothing is held
            self.db = connect(self.location)
            if path is None and not create and self.db.version() == 0:
                self.db.close()  # a database no batcher used yet: a plan makes nothing there
                self.db = None
                return
            self._upgrade()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise self._error(exc) from None

    def _upgrade(self) -> None:
        """Create the tables, or bring a file of an older batcher to this version."""
        assert self.db is not None
        version = self.db.version()
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.location}: the call history was written by a newer batcher (format"
                f" {version}; this one reads {SCHEMA_VERSION})",
                "upgrade batcher (pip install -U batcher), or point --history at another file",
            )
        if version == SCHEMA_VERSION:
            return
        if self.path is None and version == 0:
            self.created = True  # the database's first batcher: no campaign before it
        columns = self.db.columns("calls")
        script = SCHEMA + (_FROM_V1 if "endpoint" in columns else "")  # format 1: move it
        self.db.execute("BEGIN IMMEDIATE")  # executescript would commit first: one by one
        try:
            for statement in filter(str.strip, script.split(";")):
                self.db.execute(statement)
            self.db.set_version(SCHEMA_VERSION)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _error(self, exc: BaseException) -> JournalError:
        if isinstance(exc, JournalError):
            return exc
        exhausted = (
            None if self.path is None else out_of_resource(exc, self.path, "the call history")
        )
        if exhausted is not None:
            return exhausted
        why = getattr(exc, "strerror", None) or str(exc)
        if "locked" in why or "lock timeout" in why:
            # busy, not damaged: moving it away would forget whom every campaign called
            return JournalError(
                f"{self.location}: the call history is busy ({why}): another process held it "
                "longer than batcher waits",
                "nothing was sent for it: wait for the other batcher (or the tool that has the "
                "history open) to finish, then run the same command again; do not move the "
                "history away, it is not damaged",
            )
        return JournalError(
            f"{self.location}: the call history cannot be used ({why})",
            "it records whom every campaign called, so nothing is sent without it: fix its "
            "permissions, move a damaged file away, or point --history (or BATCHER_HISTORY) "
            "at another file",
        )

    def news(self) -> str:
        """What the operator must hear once about this file: a history this open created (or,
        opened without creating it, none there yet) remembers no campaign run before it."""
        meaning = "campaigns run before it (with another history) are not held by the cooldown"
        if self.created:
            return f"new call history at {self.location}: {meaning}"
        if self.db is None:
            return f"no call history at {self.location} yet: {meaning}"
        return ""

    # -- reading -------------------------------------------------------------------------------

    def holds(
        self, callees: Iterable[str], me: Caller, cooldown: float, now: float
    ) -> dict[str, Hold]:
        """Which of these numbers other campaigns reserved within the cooldown.

        What it read is kept: the run's reservations then read only the intents since."""
        if self.db is None or cooldown <= 0 or me.trial:
            return {}
        wanted = callees if isinstance(callees, set | dict) else set(callees)
        try:
            mark = self._last_intent()
            found = self._read(me, now - cooldown, 0, mark, wanted)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        self._seen[_key(me)] = _Seen(mark, set(wanted), dict(found))
        return found

    def intents(self, me: Caller) -> dict[str, list[str]]:
        """This campaign's reservations that may have placed calls, by intent: intent ->
        callees (one that provably placed none, `unplace`d whole, is left out)."""
        if self.db is None:
            return {}
        return {
            intent: callees.split(",")
            for intent, callees in self.db.execute(
                "SELECT r.intent, r.callees FROM reservations r JOIN callers w"
                " ON w.id = r.caller WHERE w.campaign = ? AND w.journal = ?"
                " AND r.unplaced != '*'",
                (me.campaign, me.journal),
            )
        }

    def reservations_of(self, callee: str) -> list[Reservation]:
        """Every reservation of this number, whichever campaign and journal made it, oldest
        first (a read for the page's "was this number called"; nothing is indexed per number,
        so it reads the reservations once)."""
        if self.db is None:
            return []
        try:
            rows = self.db.execute(_OF_CALLEE, (f"%,{callee},%",)).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return [
            Reservation(at, name, journal, endpoint, intent, _placed(callee, unplaced))
            for at, name, journal, endpoint, intent, unplaced in rows
        ]

    def _last_intent(self) -> int:
        assert self.db is not None
        return self.db.execute("SELECT coalesce(max(id), 0) FROM reservations").fetchone()[0]

    def _read(
        self, me: Caller, since: float, after: int, upto: int, only: set[str] | dict | None
    ) -> dict[str, Hold]:
        """Other campaigns' reservations at `since` or later, recorded after..upto, of the
        numbers `only` (None: all of them); the latest of each number."""
        assert self.db is not None
        found: dict[str, Hold] = {}
        for callees, unplaced, name, journal, at in self.db.execute(
            _OTHERS, (since, after, upto, me.endpoint, me.campaign, me.journal)
        ):
            hold = Hold(name, journal, at)
            numbers = callees.split(",")
            if only is not None:
                numbers = [c for c in numbers if c in only]
            if unplaced:
                skip = set(unplaced.split(","))
                numbers = [c for c in numbers if c not in skip]
            found.update(dict.fromkeys(numbers, hold))
        return found

    # -- writing -------------------------------------------------------------------------------

    def reserve(
        self,
        callees: list[str],
        me: Caller,
        cooldown: float,
        now: float,
        allowed: frozenset[str] | set[str] = frozenset(),
    ) -> tuple[str, list[str], dict[str, Hold]]:
        """Reserve the numbers no other campaign holds (or that the operator `allowed`) and
        the do-not-call register does not hold, in one transaction; return the intent id, the
        numbers reserved and the ones held."""
        assert self.db is not None
        intent = uuid.uuid4().hex
        try:
            if self._grouped:
                self.begin_write()
            else:
                self.db.execute("BEGIN IMMEDIATE")
            try:
                checked = cooldown > 0 and not me.trial
                held = self._held(callees, me, cooldown, now, allowed) if checked else {}
                for callee, entry in register.holding(self, callees, me.endpoint).items():
                    held[callee] = Hold(entry.campaign, entry.journal, entry.at, entry.reason())
                granted = [c for c in callees if c not in held]
                if granted:
                    mark = self.db.execute(
                        "INSERT INTO reservations (intent, caller, at, callees)"
                        " VALUES (?, ?, ?, ?) RETURNING id",
                        (intent, self._caller(me), now, ",".join(granted)),
                    ).fetchone()[0]
                    if self._grouped:
                        self.group_intents.append(intent)
                    if _key(me) in self._seen:  # our own reservation: nothing to read there
                        self._seen[_key(me)].mark = mark
                if not self._grouped:
                    self.db.execute("COMMIT")
            except BaseException:
                if not self._grouped:
                    _rollback(self.db)
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return intent, granted, held

    def _held(
        self, callees: list[str], me: Caller, cooldown: float, now: float, allowed
    ) -> dict[str, Hold]:
        """Which of these numbers another campaign holds now (inside the write transaction):
        from what `holds` read, and the intents recorded since."""
        seen = self._seen.setdefault(_key(me), _Seen(0, None, {}))
        since = now - cooldown
        if seen.covered is not None:  # numbers `holds` was not asked about: read them too
            missing = set() if seen.covered.issuperset(callees) else set(callees) - seen.covered
            if missing:
                seen.held.update(self._read(me, since, 0, seen.mark, missing))
                seen.covered |= missing
        top = self._last_intent()
        if top > seen.mark:
            for callee, hold in self._read(me, since, seen.mark, top, None).items():
                if callee not in seen.held or seen.held[callee].at <= hold.at:
                    seen.held[callee] = hold
            seen.mark = top
        held = seen.held
        return {
            c: held[c] for c in callees if c in held and held[c].at >= since and c not in allowed
        }

    def _caller(self, me: Caller) -> int:
        """The row id of this caller, added on its first reservation."""
        assert self.db is not None
        if me not in self._callers:
            fields = (me.endpoint, me.campaign, me.journal, me.name)
            self.db.execute(
                "INSERT INTO callers (endpoint, campaign, journal, name)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                fields,
            )
            self._callers[me] = self.db.execute(
                "SELECT id FROM callers WHERE endpoint = ? AND campaign = ? AND journal = ?"
                " AND name = ?",
                fields,
            ).fetchone()[0]
        return self._callers[me]

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Make every reservation inside one transaction, committed (and synced) once: the
        send's journal thread reserves a whole group of requests at a cost of one fsync. Each
        check-and-insert stays atomic against other processes (the transaction holds the write
        lock from its first write on). A group that writes nothing here (only answers) touches
        the history not at all: a history gone mid-send (a database server stopped) still
        lets the requests in flight record their answers."""
        if self.db is None or self._grouped:
            yield
            return
        self._grouped, self._begun = True, False
        self.group_intents = []
        try:
            yield
        except BaseException:
            self._grouped = False
            if self._begun:
                _rollback(self.db)
                self._callers.clear()  # a caller added in the rolled-back transaction is gone
            raise
        self._grouped = False
        if self._begun:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def begin_write(self) -> None:
        """Inside together(): begin its transaction at its first write."""
        if self._grouped and not self._begun:
            assert self.db is not None
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            self._begun = True

    def unplace(self, intent: str, callees: list[str] | None = None) -> None:
        """The request of this intent provably placed no call (to these callees, or to any):
        its reservation holds no one any more."""
        if self.db is None or not intent:
            return
        try:
            self.begin_write()
            if callees is None:
                self.db.execute(
                    "UPDATE reservations SET unplaced = '*' WHERE intent = ?", (intent,)
                )
            elif callees:
                self.db.execute(
                    "UPDATE reservations SET unplaced = CASE WHEN unplaced = '' THEN ?"
                    " WHEN unplaced = '*' THEN '*' ELSE unplaced || ',' || ? END"
                    " WHERE intent = ?",
                    (",".join(callees), ",".join(callees), intent),
                )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    # -- test calls ----------------------------------------------------------------------------

    def test_called(
        self, callee: str, me: Caller, cooldown: float, now: float
    ) -> TestCalled | None:
        """The latest test call of this number within the cooldown, by any campaign on this
        kind of endpoint, that may have rung it (None for a trial, or with no cooldown)."""
        if self.db is None or cooldown <= 0 or me.trial:
            return None
        try:
            row = self.db.execute(_TEST_CALLED, (callee, me.endpoint, now - cooldown)).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return None if row is None else TestCalled(*row)

    def begin_test_call(
        self, callee: str, me: Caller, cooldown: float, now: float, *, confirmed: bool = False
    ) -> tuple[str, TestCalled | None]:
        """Record a test call's intent before it is sent, checked in the same transaction:
        (intent, the test call it repeats or None); ("", that test call), nothing recorded,
        when one within the cooldown holds the number and the operator did not confirm."""
        assert self.db is not None
        intent = uuid.uuid4().hex
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                earlier = self.test_called(callee, me, cooldown, now)
                if earlier is not None and not confirmed:
                    self.db.execute("ROLLBACK")
                    return "", earlier
                self.db.execute(
                    "INSERT INTO test_calls (intent, caller, callee, at) VALUES (?, ?, ?, ?)",
                    (intent, self._caller(me), callee, now),
                )
                self.db.execute("COMMIT")
            except BaseException:
                _rollback(self.db)
                self._callers.clear()  # a caller added in the rolled-back transaction is gone
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        return intent, earlier

    def finish_test_call(self, intent: str, outcome: Outcome) -> None:
        """What came of a test call: one that placed nothing (failed, rejected, not_sent)
        holds no one from now on."""
        if self.db is None or not intent:
            return
        try:
            self.db.execute(
                "UPDATE test_calls SET outcome = ? WHERE intent = ?", (str(outcome), intent)
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
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?) ON CONFLICT (endpoint, name)"
                " DO UPDATE SET sha256 = excluded.sha256, file_id = excluded.file_id,"
                " at = excluded.at",
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
                "INSERT INTO latency VALUES (?, ?, ?) ON CONFLICT (endpoint)"
                " DO UPDATE SET seconds = excluded.seconds, at = excluded.at",
                (endpoint, seconds, at),
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        """Close the file (a clean exit leaves no -wal or -shm beside it) or the connection."""
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rollback(db: Database) -> None:
    """ROLLBACK after a failed write; the write's own error says more (after a full disk
    SQLite has rolled back already, and ROLLBACK would only say there is no transaction)."""
    with contextlib.suppress(sqlite3.Error):
        db.execute("ROLLBACK")


def _placed(callee: str, unplaced: str) -> bool:
    """A reservation may have placed the call to `callee` unless it was unplaced for it."""
    return unplaced != "*" and callee not in unplaced.split(",")


def _key(me: Caller) -> tuple[str, str, str]:
    return me.endpoint, me.campaign, me.journal


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
