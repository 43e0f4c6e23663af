"""The journal's SQLite file: held by one process, opened for safe commits, transactions.

A journal is held by one process at a time (an flock on the file itself, `acquire_lock`),
opened in WAL mode with synchronous commits (`connect`). Every write is one `Transaction`:
BEGIN IMMEDIATE ... COMMIT, or a part of an enclosing one (the send layer's group commit).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

from batcher.errors import JournalBusy, JournalError, out_of_resource


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """The journal's database: read-only, or in WAL mode with every commit synced."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error:
        db.close()
        raise
    return db


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK if the block raises), or nothing when `nested` in
    an enclosing transaction, which commits.

    The journal's boundary for a disk that fills up (or a file that becomes read-only) under
    a write: that error leaves as `ResourceExhausted` naming `path`, whichever statement
    (or the COMMIT) met it."""

    def __init__(self, db: sqlite3.Connection, nested: bool = False, path: Path | None = None):
        self.db, self.nested, self.path = db, nested, path

    def __enter__(self) -> sqlite3.Connection:
        if not self.nested:
            self._execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, exc: BaseException | None, *rest: object) -> None:
        if self.nested:
            if exc is not None:
                self._translate(exc)
            return
        if exc is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as failed:
                exc = failed
        # the write's own error says more (after a full disk SQLite may have rolled back
        # already); a COMMIT that failed must not leave the transaction open either
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")
        self._translate(exc)
        if exc_type is None:
            raise exc

    def _execute(self, statement: str) -> None:
        try:
            self.db.execute(statement)
        except sqlite3.Error as exc:
            self._translate(exc)
            raise

    def _translate(self, exc: BaseException) -> None:
        """Raise a full disk or an unwritable file as ResourceExhausted; others unchanged
        (only SQLite's errors are the journal's: the call history translates its own)."""
        if self.path is not None and isinstance(exc, sqlite3.Error):
            exhausted = out_of_resource(exc, self.path, "the campaign journal")
            if exhausted is not None:
                raise exhausted from exc


def statements(script: str) -> list[str]:
    """The statements of an SQL script, one by one (a trigger's body holds semicolons), to run
    inside a transaction: executescript would commit it first."""
    found, statement = [], ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                found.append(statement)
            statement = ""
    return found


LOCK_FD = "BATCHER_JOURNAL_LOCK_FD"  # a lock taken for this process by its parent (serve)


def acquire_lock(path: Path) -> int:
    """flock on the journal file itself: no lock file is left behind. (SQLite's own locks are
    POSIX record locks, which flock does not touch; this descriptor is closed only after the
    connection, so closing it cannot drop SQLite's locks.)

    `batcher serve` takes a campaign's lock before it answers a Send, and hands it to the child
    that sends (LOCK_FD): nobody can take the campaign between the press and the child. The
    holder's pid is written beside the journal (`holder`), for a page that comes later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _inherited(path)
    if fd is None:
        fd = take_lock(path)
    with contextlib.suppress(OSError):
        holder_file(path).write_text(f"{os.getpid()}\n", encoding="ascii")
    return fd


def take_lock(path: Path) -> int:
    """The journal's flock, on a descriptor of its own (JournalBusy: another process has it)."""
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


def _inherited(path: Path) -> int | None:
    """The descriptor the parent locked for this journal, if it is this very file (flock on a
    description that holds the lock is a no-op; on another process's, it fails as usual)."""
    given = os.environ.pop(LOCK_FD, "")
    if not given.isdigit():
        return None
    fd = int(given)
    try:
        mine, theirs = os.fstat(fd), os.stat(path)
    except OSError:
        return None
    if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
        return None
    os.set_inheritable(fd, False)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None  # take_lock says who holds it
    return fd


def release_lock(fd: int, path: Path) -> None:
    """Drop the holder's record, then the lock."""
    if holder_pid(path) == os.getpid():
        with contextlib.suppress(OSError):
            holder_file(path).unlink()
    os.close(fd)


def holder_file(path: Path) -> Path:
    """Where the process holding the journal writes its pid."""
    return path.with_name(path.name + ".pid")


def holder_pid(path: Path) -> int | None:
    """The pid the journal's holder wrote (it may be gone: see `holder`)."""
    try:
        text = holder_file(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def holder(path: Path) -> int | None:
    """The live batcher process holding the journal, if any: its pid.

    Read without touching the lock (a probe would make a starting run fail as busy): the pid
    written beside the journal, still alive and still a batcher process. A run killed with
    SIGKILL leaves its pid file behind; that pid is dead, or another program's."""
    pid = holder_pid(path)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return None  # another user's process: not one of ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.is_dir():
        with contextlib.suppress(OSError):
            if b"batcher" not in cmdline.read_bytes():
                return None
    return pid
