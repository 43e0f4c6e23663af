"""Errors the user can see, and the exit codes they map to.

Every message names the file, row or column at fault and says how to fix it. A recipient
that fails is an outcome in the results, never an exception. aiohttp's exceptions and the
vendor's error answers become these at one boundary, `batcher.voiceapi.http`. This module imports
nothing else of batcher.

    BatcherError                 base; carries an ExitCode and a hint
    ├── UsageError               bad option, campaign.toml or credentials (exit 2)
    ├── InputError               the contacts file cannot be used (exit 3)
    ├── StoppedByAPI             the vendor stopped the run: auth, IP, balance, clock,
    │                            or a configuration fault such as TLS or a redirect (exit 4)
    ├── ApiError                 one read/upload call answered a non-zero status; its caller
    │                            decides what it means (-20 name taken, -22 no record yet);
    │                            one that escapes stops the run like StoppedByAPI (exit 4)
    ├── Interrupted              Ctrl-C where nothing can resume it (a test call) (exit 6)
    ├── JournalBusy              another process holds the campaign journal (exit 7)
    ├── OutputError              the results workbook cannot be written (exit 8)
    └── JournalError             the journal or the call history (file or database) cannot
                                 be used, or its database cannot be reached (exit 9)
        └── ResourceExhausted    a disk filled up, or a file became unwritable, mid-run: a
                                 clean stop (exit 9); `out_of_resource` makes it, at each
                                 file's boundary (the journal's transactions, the history,
                                 the workbook's writer)

`ExitCode` is the one list of exit statuses: `--help` and the README's table are rendered
from it (`exit_codes_text`, `exit_codes_markdown`), and a test keeps the README equal to it.
"""

from __future__ import annotations

import errno
import sqlite3
import textwrap
from collections.abc import Iterable
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Documented process exit codes; each carries the sentence `--help` and README show."""

    description: str

    def __new__(cls, value: int, description: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    OK = 0, "every eligible number was accepted (or a dry run / other command succeeded)"
    INTERNAL = (
        1,
        ("internal error in batcher (please report it; `BATCHER_DEBUG=1` shows the traceback)"),
    )
    USAGE = 2, "bad option, campaign.toml or credentials: nothing was sent"
    INPUT = 3, "the contacts file cannot be used: nothing was sent"
    API_STOPPED = (
        4,
        (
            "the API stopped the run (key, IP whitelist, balance, clock, TLS, redirect): fix it, "
            "run the same command again"
        ),
    )
    INCOMPLETE = 5, "finished, but some numbers were rejected, failed, unknown or not sent"
    INTERRUPTED = 6, "interrupted (Ctrl-C): run the same command again to resume"
    BUSY = 7, "another batcher process is using this campaign's journal"
    OUTPUT = (
        8,
        (
            "the results workbook could not be written: every call made is recorded in the "
            "journal, and `batcher results JOURNAL` writes the workbook again"
        ),
    )
    JOURNAL = (
        9,
        (
            "the campaign journal or the call history cannot be used (damaged, not "
            "batcher's, not writable; its database unreachable or refusing), or a disk filled "
            "up mid-run: the message names the file or database and the fix; what was sent is "
            "recorded (as unknown at worst), and the same command run again calls nobody twice"
        ),
    )


def exit_codes_text(codes: Iterable[ExitCode] | None = None) -> str:
    """The "exit codes:" block of --help (every code, or the ones a command can end with)."""
    chosen = sorted(ExitCode if codes is None else set(codes))
    lines = [
        textwrap.fill(c.description, 88, initial_indent=f"  {int(c)}  ", subsequent_indent="     ")
        for c in chosen
    ]
    return "exit codes:\n" + "\n".join(lines)


def exit_codes_markdown() -> str:
    """The README's exit-code table."""
    rows = [f"| {int(c)} | {c.description} |" for c in ExitCode]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


class BatcherError(Exception):
    """Base of every error batcher reports to the user."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class UsageError(BatcherError):
    """A bad option, campaign.toml value or missing credential."""

    exit_code = ExitCode.USAGE


class InputError(BatcherError):
    """The contacts file (or a suppression list) cannot be used as it is."""

    exit_code = ExitCode.INPUT


class StoppedByAPI(BatcherError):
    """The vendor refused the account, IP, balance or clock, or the endpoint is misconfigured."""

    exit_code = ExitCode.API_STOPPED


class ApiError(BatcherError):
    """A non-zero API status from an endpoint other than sendGroup (batcher.voiceapi raises it).

    ApiError("-20", "file name already exists").status == "-20"
    """

    exit_code = ExitCode.API_STOPPED

    def __init__(self, status: str, reason: str, hint: str = "") -> None:
        super().__init__(f"API status {status}: {reason}", hint)
        self.status, self.reason = status, reason


class Interrupted(BatcherError):
    """The operator pressed Ctrl-C where batcher cannot resume (a test call in flight)."""

    exit_code = ExitCode.INTERRUPTED


class JournalBusy(BatcherError):
    """Another process holds the campaign journal."""

    exit_code = ExitCode.BUSY


class OutputError(BatcherError):
    """The results workbook cannot be written; what was sent is safe in the journal."""

    exit_code = ExitCode.OUTPUT


class JournalError(BatcherError):
    """The campaign journal or the call history cannot be read or written: damaged, not
    batcher's, or not writable."""

    exit_code = ExitCode.JOURNAL


class ResourceExhausted(JournalError):
    """A disk filled up (or a quota, a file size limit, a read-only disk) while batcher wrote
    one of its files: the run stops cleanly, no request is sent after it, and every request
    already sent is recorded, as unknown at worst. `out_of_resource` makes one."""


# SQLite's primary result codes that mean "the disk, not the file, is at fault"
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY = 13, 10, 8
_WHY_ERRNO = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file size limit was reached",
    errno.EROFS: "the disk is read-only",
}


AGAIN = "run the same command again: nothing already sent is sent again"


def out_of_resource(
    exc: BaseException, path: Path, what: str, then: str = AGAIN
) -> ResourceExhausted | None:
    """`exc` as ResourceExhausted naming `path` (`what`: "the campaign journal", ...) and the
    fix (`then`: what to type once it is fixed), if it says a disk is full or a file cannot be
    written any more; None for any other error.

    out_of_resource(OSError(errno.ENOSPC, "No space left"), Path("c.journal"), "the journal")
    """
    why = _why(exc)
    if why is None:
        return None
    if "read-only" in why:
        fix = f"make {path} and its folder writable again, then {then}"
    else:
        fix = (
            f"free space on the disk holding {path.parent} (or raise the quota or file size "
            f"limit), then {then}"
        )
    return ResourceExhausted(f"{path}: {what} cannot be written: {why}", fix)


def _why(exc: BaseException) -> str | None:
    """What ran out, in words, or None when `exc` is not about a resource."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        text = str(exc)
        if code == _SQLITE_FULL or "database or disk is full" in text:
            return "the disk is full (database or disk is full)"
        if code == _SQLITE_IOERR or "disk I/O error" in text:
            return (
                "a write failed (disk I/O error: a full disk, a file size limit or a failing disk)"
            )
        if code == _SQLITE_READONLY or "readonly database" in text:
            return "read-only (attempt to write a readonly database)"
        return None
    if isinstance(exc, OSError) and exc.errno in _WHY_ERRNO:
        return _WHY_ERRNO[exc.errno]
    return None
