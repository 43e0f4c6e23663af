"""Errors the user can see, and the exit codes they map to.

Every message names the file, row or column at fault and says how to fix it. A recipient
that fails is an outcome in the results, never an exception. aiohttp's exceptions and the
vendor's error answers become these at one boundary, `batcher.vendor.http`. This module imports
nothing else of batcher.

    BatcherError                 base; carries an ExitCode and a hint
    ├── UsageError               bad option, campaign.toml or credentials (exit 2)
    ├── InputError               the contacts file cannot be used (exit 3)
    ├── StoppedByAPI             the vendor stopped the run: auth, IP, balance, clock,
    │                            or a configuration fault such as TLS or a redirect (exit 4)
    ├── ApiError                 one read/upload call answered a non-zero status; its caller
    │                            decides what it means (-20 name taken, -22 no record yet);
    │                            one that escapes stops the run like StoppedByAPI (exit 4)
    ├── Interrupted              Ctrl-C; the journal holds everything so far (exit 6)
    └── JournalBusy              another process holds the campaign journal (exit 7)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (see README)."""

    OK = 0  # every eligible number was accepted
    INTERNAL = 1  # a bug in batcher: please report it
    USAGE = 2  # bad option, campaign.toml or credentials; nothing sent
    INPUT = 3  # the contacts file cannot be used; nothing sent
    API_STOPPED = 4  # the vendor API stopped the run (auth, IP, balance, clock, TLS, redirect)
    INCOMPLETE = 5  # finished, but some eligible numbers are rejected, failed, unknown or not sent
    INTERRUPTED = 6  # stopped by Ctrl-C; run the same command again to resume
    BUSY = 7  # another batcher process is using this campaign's journal
    JOURNAL = 8  # the campaign's journal or the call history cannot be used; nothing sent


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
    """A non-zero API status from an endpoint other than sendGroup (batcher.vendor raises it).

    ApiError("-20", "file name already exists").status == "-20"
    """

    exit_code = ExitCode.API_STOPPED

    def __init__(self, status: str, reason: str, hint: str = "") -> None:
        super().__init__(f"API status {status}: {reason}", hint)
        self.status, self.reason = status, reason


class Interrupted(BatcherError):
    """The operator pressed Ctrl-C."""

    exit_code = ExitCode.INTERRUPTED


class JournalBusy(BatcherError):
    """Another process holds the campaign journal."""

    exit_code = ExitCode.BUSY


class JournalError(BatcherError):
    """The campaign journal or the call history is unreadable, damaged or cannot be written."""

    exit_code = ExitCode.JOURNAL
