"""The call history's database: a SQLite file, or a PostgreSQL database a team shares.

batcher.history keeps one set of SQL, written as SQLite reads it (`?` placeholders,
`BEGIN IMMEDIATE`, `INSERT … ON CONFLICT`, `RETURNING id`); `connect(location)` gives a
`Database` whose `execute` runs that SQL unchanged on either:

- SQLite: the statements as they are (WAL, a 30 s busy timeout, synchronous=FULL); its errors
  pass through, for History to translate with the file's own causes (a full disk, a damaged
  file).
- PostgreSQL (psycopg 3, autocommit outside explicit transactions): `?` becomes `%s`;
  `BEGIN IMMEDIATE` becomes `BEGIN` plus `pg_advisory_xact_lock(LOCK_KEY)`, so that two
  processes' check-and-insert of reservations never interleave (the lock is held to COMMIT or
  ROLLBACK, as SQLite's write lock is); `CREATE TABLE`'s types are widened (`INTEGER PRIMARY
  KEY` an identity, `INTEGER` BIGINT, `REAL` DOUBLE PRECISION: a REAL would round an epoch
  to minutes; `BLOB` BYTEA; AUTOINCREMENT and WITHOUT ROWID dropped); `group_concat(x, sep)`
  becomes `string_agg(x, sep)`; the schema's version is a row of `batcher_schema` where SQLite has
  `PRAGMA user_version`. Every psycopg error becomes a JournalError here, at this one
  boundary, naming the database by its URL without the password (exit 9: nothing is sent
  without the history). A ROLLBACK on a lost connection is moot and never raises.

What History's SQL must therefore keep to (tests/test_history.py runs on both): `?`
placeholders and no `?` or `%` inside a string literal; `INSERT … ON CONFLICT … DO NOTHING` or
`DO UPDATE SET c = excluded.c` (never `INSERT OR IGNORE/REPLACE`); `RETURNING id` (never
`lastrowid`); no PRAGMA but through `version`/`set_version`/`columns`; a parameter compared with
a column of its own type (PostgreSQL casts no text to a number).

psycopg is imported only when a PostgreSQL history is opened.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from batcher.errors import JournalError
from batcher.settings import HistoryLocation

if TYPE_CHECKING:
    import psycopg

# the advisory lock every batcher process takes for a write transaction (b"batcher!")
LOCK_KEY = int.from_bytes(b"batcher!", "big")
LOCK_WAIT = "30s"  # as long as SQLite's busy timeout: then the write fails (exit 9)
VERSION_TABLE = "batcher_schema"
# libpq's parameters batcher sets unless the URL (or PGCONNECT_TIMEOUT) does: a server gone
# without a word (a cable, a crashed host) is noticed within a minute, not after the kernel's
# two hours, and the run stops (exit 9)
CONNECT_DEFAULTS: dict[str, str | int] = {
    "connect_timeout": 10,
    "application_name": "batcher",
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 60000,
}
REACH = (
    "nothing is sent without the call history: start the database server, or check the "
    "URL, the password (PGPASSWORD or ~/.pgpass) and the network, then run the same "
    "command again"
)


class Database(Protocol):
    """One open call history database: what batcher.history needs of it."""

    location: HistoryLocation

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        """Run one statement of History's SQL; a cursor (fetchone, fetchall, iteration)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> Any:
        """Run one statement for each of `rows`."""

    def version(self) -> int:
        """The schema's version (0: a new database)."""

    def set_version(self, version: int) -> None:
        """Record the schema's version (inside the upgrade's transaction)."""

    def columns(self, table: str) -> set[str]:
        """The columns of a table (none when there is no such table)."""

    def close(self) -> None:
        """Close the connection."""


def connect(location: HistoryLocation) -> Database:
    """Open the history at `location` (the file must be creatable; the database must exist)."""
    if location.postgres:
        return Postgres(location)
    return Sqlite(location)


class Sqlite:
    """A history file: the SQL runs as written."""

    def __init__(self, location: HistoryLocation) -> None:
        self.location = location
        self.db = sqlite3.connect(
            location.file, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        except BaseException:
            self.db.close()
            raise

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run a statement as written."""
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> sqlite3.Cursor:
        """Run a statement for each row, as written."""
        return self.db.executemany(sql, rows)

    def version(self) -> int:
        """PRAGMA user_version."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, version: int) -> None:
        """PRAGMA user_version = version."""
        self.db.execute(f"PRAGMA user_version = {int(version)}")

    def columns(self, table: str) -> set[str]:
        """PRAGMA table_info's names."""
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        """Close the file (a clean exit leaves no -wal or -shm beside it)."""
        try:
            self.db.execute("PRAGMA busy_timeout=0")
            self.db.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error:
            pass  # another process still has it open: its WAL stays until it closes
        self.db.close()


class Postgres:
    """A PostgreSQL history: History's SQL translated, psycopg's errors made JournalErrors."""

    def __init__(self, location: HistoryLocation) -> None:
        self.location = location
        try:
            import psycopg
        except ImportError:
            raise JournalError(
                f"{location}: a PostgreSQL call history needs psycopg, which is not installed",
                "pip install 'batcher[postgres]' (psycopg 3), or point --history (or "
                "BATCHER_HISTORY) at a file",
            ) from None
        self._errors = psycopg.Error
        self._lost = psycopg.OperationalError
        with self._translated():
            given = psycopg.conninfo.conninfo_to_dict(location.connect_url)
            if os.environ.get("PGCONNECT_TIMEOUT"):
                given["connect_timeout"] = os.environ["PGCONNECT_TIMEOUT"]
            defaults = {k: v for k, v in CONNECT_DEFAULTS.items() if k not in given}
            conninfo = psycopg.conninfo.make_conninfo(location.connect_url, **defaults)
            self.db: psycopg.Connection = psycopg.connect(conninfo, autocommit=True)
            self.db.execute(f"SET lock_timeout = '{LOCK_WAIT}'")

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        """Run one statement of History's SQL, translated."""
        statement = sql.strip().upper()
        if statement == "ROLLBACK":
            with contextlib.suppress(self._errors):  # on a lost connection: nothing to undo
                self.db.execute("ROLLBACK")
            return None
        with self._translated():
            if statement.startswith("BEGIN"):
                self.db.execute("BEGIN")
                return self.db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            if not params:  # no placeholders: psycopg reads the text as it is
                return self.db.execute(_translate(sql, False))
            return self.db.execute(_translate(sql, True), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement of History's SQL for each of `rows`."""
        with self._translated(), self.db.cursor() as cursor:
            cursor.executemany(_translate(sql, True), rows)

    def version(self) -> int:
        """The row of batcher_schema (0: none yet)."""
        with self._translated():
            made = self.db.execute("SELECT to_regclass(%s)", (VERSION_TABLE,)).fetchone()
            if made is None or made[0] is None:
                return 0
            row = self.db.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def set_version(self, version: int) -> None:
        """Replace batcher_schema's row."""
        with self._translated():
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT NOT NULL)")
            self.db.execute(f"DELETE FROM {VERSION_TABLE}")
            self.db.execute(f"INSERT INTO {VERSION_TABLE} VALUES (%s)", (int(version),))

    def columns(self, table: str) -> set[str]:
        """information_schema's names of the table's columns."""
        with self._translated():
            rows = self.db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                " AND table_schema = current_schema()",
                (table,),
            ).fetchall()
        return {row[0] for row in rows}

    def close(self) -> None:
        """Close the connection (a lost one too)."""
        with contextlib.suppress(self._errors):
            self.db.close()

    @contextlib.contextmanager
    def _translated(self):
        """psycopg's errors as JournalError, naming the database without its password."""
        try:
            yield
        except self._errors as exc:
            raise self.error(exc) from None

    def error(self, exc: BaseException) -> JournalError:
        """A psycopg error as the operator reads it."""
        why = _scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else "", self.location)
        why = why or type(exc).__name__
        if getattr(exc, "sqlstate", None) == "55P03":  # lock_not_available: lock_timeout passed
            return JournalError(
                f"{self.location}: the call history is busy ({why}): another batcher held its "
                f"write lock longer than batcher waits ({LOCK_WAIT})",
                "nothing was sent for it: wait for the other machine's batcher to finish its "
                "request, then run the same command again",
            )
        if isinstance(exc, self._lost) and "SSL was required" in why:
            return JournalError(
                f"{self.location}: the call history's database cannot be reached ({why})",
                "nothing is sent without the call history: the URL's sslmode=require asks for "
                "TLS, which this server does not offer: enable ssl on the server (the team's "
                "data crosses the network), or drop sslmode from the URL on a trusted network",
            )
        if isinstance(exc, self._lost) and re.search(r'database ".*" does not exist', why):
            return JournalError(
                f"{self.location}: the call history's database cannot be reached ({why})",
                "nothing is sent without the call history: correct the database's name in the "
                "URL, or have it made once on the server (createdb -O ROLE NAME: batcher makes "
                "its tables on first use)",
            )
        if isinstance(exc, self._lost):
            return JournalError(
                f"{self.location}: the call history's database cannot be reached ({why})", REACH
            )
        return JournalError(
            f"{self.location}: the call history cannot be used ({why})",
            "it records whom every campaign called, so nothing is sent without it: check the "
            "database's permissions for this user, or point --history (or BATCHER_HISTORY) at "
            "another database or file",
        )


@functools.lru_cache(maxsize=256)
def _translate(sql: str, placeholders: bool) -> str:
    """History's SQLite statement as PostgreSQL reads it (its `?` as psycopg's `%s`; History's
    SQL has no `?` inside a string literal)."""
    text = sql.replace("%", "%%").replace("?", "%s") if placeholders else sql
    if re.match(r"\s*CREATE\s+TABLE", text, re.IGNORECASE):
        text = re.sub(
            r"\bINTEGER\s+PRIMARY\s+KEY\b",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            text,
            flags=re.IGNORECASE,
        )
        text = re.sub(r"\bAUTOINCREMENT\b", "", text, flags=re.IGNORECASE)
        text = re.sub(r"\bINTEGER\b", "BIGINT", text, flags=re.IGNORECASE)
        text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text, flags=re.IGNORECASE)
        text = re.sub(r"\bBLOB\b", "BYTEA", text, flags=re.IGNORECASE)
        text = re.sub(r"\)\s*WITHOUT\s+ROWID\s*$", ")", text, flags=re.IGNORECASE)
    # SQLite's group_concat(x, sep) is PostgreSQL's string_agg(x, sep)
    return re.sub(r"\bgroup_concat\s*\(", "string_agg(", text, flags=re.IGNORECASE)


def _scrub(text: str, location: HistoryLocation) -> str:
    """A driver's message with the URL's password (should it quote it) blanked."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(location.connect_url)
    secrets = [parts.password or ""]
    secrets += [v for k, v in parse_qsl(parts.query) if k in ("password", "sslpassword")]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***").replace(unquote(secret), "***")
    return text
