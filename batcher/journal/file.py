"""The journal's SQLite file: held by one process, opened for safe commits, transactions.

A journal is held by one process at a time (an flock on the file itself, `acquire_lock`),
opened in WAL mode with synchronous commits (`connect`). Every write is one `Transaction`:
BEGIN IMMEDIATE ... COMMIT, or a part of an enclosing one (the send layer's group commit).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from batcher.errors import JournalBusy, JournalError


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
    an enclosing transaction, which commits."""

    def __init__(self, db: sqlite3.Connection, nested: bool = False) -> None:
        self.db, self.nested = db, nested

    def __enter__(self) -> sqlite3.Connection:
        if not self.nested:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self.nested:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")


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


def acquire_lock(path: Path) -> int:
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
