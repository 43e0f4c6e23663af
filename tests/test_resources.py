"""Running out of a resource mid-run is a clean stop (exit 9), and a new call history says so.

A real full disk without root: the run is a process of its own with RLIMIT_FSIZE (SIGXFSZ
ignored, so a write past the limit fails with EFBIG, which SQLite reports as an I/O error);
a full call history alone: BATCHER_FULL_DISK=history (PRAGMA max_page_count from the send's
start, the test hook beside BATCHER_CRASH_AT). Every check is read from the sandbox's ledger.
"""

from __future__ import annotations

import errno
import resource
import signal
import sqlite3
from pathlib import Path

import pytest

from batcher.errors import ExitCode, ResourceExhausted, exit_codes_text, out_of_resource
from batcher.journal import Journal
from tests.helpers import batcher_process, numbers, read_sheet, sandbox_args

CONCURRENCY = 4


def _run(args, env=None, fsize: int | None = None) -> tuple[int, str]:
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    proc = batcher_process(args, env, preexec_fn=limited if fsize else None)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def _requests(journal: Path) -> list:
    with Journal(journal, readonly=True) as opened:
        return opened.requests()


def _args(sandbox, path) -> list[object]:
    return [
        "run",
        path,
        *sandbox_args(sandbox),
        "--chunk-size",
        "4",
        "--concurrency",
        str(CONCURRENCY),
    ]


def test_a_disk_that_fills_under_the_journal_stops_cleanly_and_nobody_is_called_twice(
    make_sandbox, contacts, tmp_path
):
    sandbox = make_sandbox(latency=0.02)
    wanted = numbers(400)
    path = contacts(["+" + n for n in wanted])
    journal = tmp_path / "contacts.journal"
    args = _args(sandbox, path)
    code, out = _run([*args, "--limit", "40"])
    assert code == int(ExitCode.INCOMPLETE), out  # 360 not sent, by --limit
    # the disk is full a little above the journal's size after its first requests
    code, out = _run(args, fsize=journal.stat().st_size + 100_000)
    assert code == int(ExitCode.JOURNAL), out
    assert f"{journal}: the campaign journal cannot be written" in out
    assert f"free space on the disk holding {tmp_path}" in out
    assert "run the same command again: nothing already sent is sent again" in out
    assert "internal error" not in out
    # the workbook's writer could not write either (same limit): the message says how later
    assert f"batcher results {journal}` writes it" in out
    sent = sum(r.endpoint == "sendGroup" for r in sandbox.requests)  # not the clock probes
    assert 10 < sent < 100  # stopped mid-run
    assert max(sandbox.accepted_counts().values()) == 1
    # no request went out without its intent on disk, and none after the failure: only the
    # requests in flight then may lack an outcome (unknown on the next open, never lost)
    requests = _requests(journal)
    assert sent <= len(requests)
    in_flight = [r for r in requests if r.state == "intent"]
    # those sent and unanswered (at most CONCURRENCY), and those whose intent the failing
    # group still committed one by one, never sent (at most a group: CONCURRENCY more)
    assert len(in_flight) <= 2 * CONCURRENCY
    # space freed: the same command resumes, and nobody is called twice
    code, out = _run(args)
    assert code in (0, 5), out
    assert (
        f"{len(in_flight)} request was in flight" in out
        or f"{len(in_flight)} requests were in flight" in out
        or not in_flight
    )
    assert "reserved when batcher last stopped" not in out  # the lost group held no one
    assert max(sandbox.accepted_counts().values()) == 1
    # an intent on disk whose outcome could not be written is unknown (maybe not even sent):
    # the records settle it, and what was never placed is sent once
    code, out = _run(["reconcile", journal, "--settle", "0"])
    assert code == 0, out
    code, out = _run(args)
    assert code == 0, out
    assert sandbox.accepted_counts() == {n: 1 for n in wanted}
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert {r["outcome"] for r in rows} <= {"accepted", "unknown"}


@pytest.mark.parametrize("full", ["history", "journal"])
def test_a_full_history_or_journal_mid_run_stops_with_exit_9_and_the_workbook(
    make_sandbox, contacts, tmp_path, private_home, full
):
    sandbox = make_sandbox(latency=0.02)
    wanted = numbers(400)
    path = contacts(["+" + n for n in wanted])
    args = _args(sandbox, path)
    code, out = _run(args, {"BATCHER_FULL_DISK": full})
    assert code == int(ExitCode.JOURNAL), out
    named = private_home / "history.sqlite" if full == "history" else tmp_path / "contacts.journal"
    what = "call history" if full == "history" else "campaign journal"
    assert f"{named}: the {what} cannot be written: the disk is full" in out
    assert f"free space on the disk holding {named.parent}" in out
    # the workbook could still be written: it says what was sent before the stop
    workbook = tmp_path / "contacts-results.xlsx"
    assert f"the results workbook {workbook} says what was sent" in out
    rows = read_sheet(workbook, "Results")
    accepted = {str(r["callee"]) for r in rows if r["outcome"] == "accepted"}
    ledger = sandbox.accepted_counts()
    assert 0 < len(ledger) < len(wanted) and max(ledger.values()) == 1
    assert accepted <= set(ledger)
    in_flight = [r for r in _requests(tmp_path / "contacts.journal") if r.state == "intent"]
    assert len(in_flight) <= 2 * CONCURRENCY  # sent and unanswered; a failing group's, unsent
    code, out = _run(args)
    assert code in (0, 5), out
    assert sandbox.accepted_counts() == {n: 1 for n in wanted}


@pytest.mark.parametrize(
    ("raised", "why"),
    [
        (sqlite3.OperationalError("database or disk is full"), "the disk is full"),
        (sqlite3.OperationalError("disk I/O error"), "disk I/O error"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "quota"),
        (OSError(errno.EFBIG, "File too large"), "file size limit"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    ],
)
def test_every_way_a_disk_runs_out_is_one_error_with_exit_9(raised, why):
    error = out_of_resource(raised, Path("/data/c.journal"), "the campaign journal")
    assert isinstance(error, ResourceExhausted) and error.exit_code == ExitCode.JOURNAL
    assert error.message.startswith("/data/c.journal: the campaign journal cannot be written")
    assert why in error.message
    assert "/data" in error.hint and "run the same command again" in error.hint


@pytest.mark.parametrize(
    "raised",
    [
        sqlite3.OperationalError("no such table: requests"),
        sqlite3.DatabaseError("file is not a database"),
        OSError(errno.EACCES, "Permission denied"),
        ValueError("disk I/O error"),
    ],
)
def test_other_errors_are_not_taken_for_a_full_disk(raised):
    assert out_of_resource(raised, Path("c.journal"), "the campaign journal") is None


def test_the_help_says_what_exit_9_means_mid_run():
    text = exit_codes_text([ExitCode.JOURNAL])
    assert "a disk filled up mid-run" in text and "calls nobody twice" in " ".join(text.split())
    assert "nothing was sent" not in ExitCode.JOURNAL.description  # untrue mid-run


# -- a new call history ---------------------------------------------------------------------


def test_a_new_call_history_is_announced_once_per_creation(
    sandbox, contacts, cli_streams, creds, private_home
):
    history = private_home / "history.sqlite"
    path = contacts(["+" + n for n in numbers(3)])
    news = (
        f"new call history at {history}: campaigns run before it (with another history) "
        "are not held by the cooldown"
    )
    first = cli_streams("run", path, *sandbox_args(sandbox))
    assert first.code == 0, first.err
    assert first.err.count(news) == 1 and news not in first.out
    again = cli_streams("run", path, *sandbox_args(sandbox))
    assert again.code == 0 and news not in again.err
    history.unlink()  # deleted: the next run starts another memory, and says so
    third = cli_streams("run", path, *sandbox_args(sandbox))
    assert third.code == 0 and third.err.count(news) == 1


def test_a_plan_without_a_call_history_says_so(contacts, cli_streams, private_home):
    history = private_home / "history.sqlite"
    path = contacts(["+" + n for n in numbers(3)])
    plan = cli_streams("plan", path)
    assert plan.code == 0, plan.err
    assert (
        f"no call history at {history} yet: campaigns run before it (with another history) "
        "are not held by the cooldown"
    ) in plan.out + plan.err
    assert not history.exists()  # a plan creates nothing


def test_a_plan_with_a_call_history_does_not_say_there_is_none(
    contacts, cli_streams, creds, private_home, sandbox
):
    path = contacts(["+" + n for n in numbers(3)])
    assert cli_streams("run", path, *sandbox_args(sandbox)).code == 0
    plan = cli_streams("plan", path, "--base-url", sandbox.url)
    assert plan.code == 0, plan.err
    assert "no call history" not in plan.out + plan.err, plan.err
