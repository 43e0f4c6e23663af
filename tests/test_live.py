"""The workbook written while the send runs (batcher.workbook.live): when a row is read, and what
happens when the writer child, the run or the operator stops."""

from __future__ import annotations

import os
import pickle
import signal
import threading
from pathlib import Path

import batcher.workbook.live
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.workbook.live import LiveCampaign
from tests.helpers import batcher_process, numbers, read_sheet, sandbox_args, summary, wait_for


def _sheets(path) -> dict[str, object]:
    sheets = {n: read_sheet(path, n) for n in ("Results", "Batches", "Retry")}
    facts = summary(path)
    for when in ("finished", "rebuilt"):  # when it was written is all a rebuild changes
        facts.pop(when, None)
    return {**sheets, "Summary": facts}


def test_the_workbook_written_during_the_send_is_the_one_the_journal_rebuilds(
    make_sandbox, cli, creds, contacts, tmp_path
):
    refused = set(numbers(300)[::17])
    sandbox = make_sandbox(latency=0.02, refuse=lambda callee: callee in refused)
    wanted = numbers(300)
    values = ["+" + n for n in wanted] + ["+" + n for n in wanted[::9]] + ["n/a", "12"]
    path = contacts(values)
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "20")
    assert code == 5, out  # the refused numbers
    live = _sheets(tmp_path / "contacts-results.xlsx")
    outcomes = {r["outcome"] for r in live["Results"]}
    assert outcomes == {"accepted", "rejected", "duplicate", "invalid"}
    code, out = cli("results", tmp_path / "contacts.journal", "-o", tmp_path / "rebuilt.xlsx")
    assert code == 0, out
    assert live == _sheets(tmp_path / "rebuilt.xlsx")


def _journal(tmp_path) -> Journal:
    journal = Journal(tmp_path / "c.journal")
    journal.claim("c")
    return journal


def _answer(journal: Journal, results: dict[str, str]) -> int:
    rid, _ = journal.begin(1, 1, list(results))
    journal.finish(
        rid,
        None,
        "",
        results={c: [o, f"v-{c}" if o == "accepted" else "", "", "r"] for c, o in results.items()},
    )
    return rid


def _following(journal: Journal, todo: list[str]):
    end_read, end_write = os.pipe()
    reader = Journal(journal.path, readonly=True)
    campaign = LiveCampaign.following(reader, 0, todo, end_read, {})
    return campaign, end_write


def _in_thread(call, timeout: float):
    """call() in a thread: (finished within timeout, its result)."""
    done = []
    thread = threading.Thread(target=lambda: done.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(done), (done[0] if done else None), thread


def test_a_row_is_read_once_its_number_is_answered_not_at_the_end_of_the_send(tmp_path):
    journal = _journal(tmp_path)
    campaign, end = _following(journal, ["111", "222", "333"])
    _answer(journal, {"111": "accepted", "222": "rejected"})
    finished, (outcome, _, state), _ = _in_thread(lambda: campaign.outcome("111"), 5)
    assert finished and outcome is Outcome.ACCEPTED and state.voice_id == "v-111"
    finished, (outcome, *_), _ = _in_thread(lambda: campaign.outcome("222"), 5)
    assert finished and outcome is Outcome.REJECTED
    # a number with no answer yet waits for one, or for the end of the send
    finished, _, thread = _in_thread(lambda: campaign.outcome("333"), 0.3)
    assert not finished
    os.write(end, pickle.dumps("not sent: the run stopped (interrupted)"))
    os.close(end)
    thread.join(5)
    assert campaign.outcome("333")[:2] == (
        Outcome.NOT_SENT,
        "not sent: the run stopped (interrupted)",
    )
    assert campaign.follower.changed() == []  # nothing written changed


def test_a_refusal_the_breaker_settles_after_its_row_was_written_writes_the_workbook_again(
    tmp_path,
):
    journal = _journal(tmp_path)
    campaign, end = _following(journal, ["111", "222"])
    rid = _answer(journal, {"111": "rejected", "222": "accepted"})
    assert campaign.outcome("111")[0] is Outcome.REJECTED  # written as rejected
    journal.settle(rid, [("111", Outcome.FAILED, "", "refused while the breaker tripped")])
    os.write(end, pickle.dumps("not sent"))
    os.close(end)
    assert campaign.follower.changed() == ["111"]  # so the workbook is written again
    assert campaign.outcome("111")[:2] == (Outcome.FAILED, "refused while the breaker tripped")


def test_a_failed_request_is_read_at_the_end_it_may_still_be_sent_again(tmp_path):
    journal = _journal(tmp_path)
    campaign, end = _following(journal, ["111"])
    rid, _ = journal.begin(1, 1, ["111"])
    journal.finish(rid, Outcome.FAILED, "refused whole, split and sent again")
    finished, _, thread = _in_thread(lambda: campaign.outcome("111"), 0.3)
    assert not finished
    _answer(journal, {"111": "accepted"})  # the split piece
    thread.join(5)
    assert campaign.outcome("111")[0] is Outcome.ACCEPTED
    os.close(end)


def test_the_breaker_s_workbook_says_failed_for_what_it_settled(make_sandbox, cli, creds, contacts):
    sandbox = make_sandbox(refuse=lambda callee: True)
    path = contacts(["+" + n for n in numbers(300)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "100")
    assert code == 4, out
    rows = read_sheet(path.with_name("contacts-results.xlsx"), "Results")
    assert [r["outcome"] for r in rows] == ["failed"] * 100 + ["not_sent"] * 200


def test_a_writer_child_that_dies_is_replaced_by_a_write_after_the_send(
    make_sandbox, cli, creds, contacts, monkeypatch, tmp_path
):
    monkeypatch.setattr(batcher.workbook.live, "_child", lambda *args: os._exit(3))
    sandbox = make_sandbox()
    wanted = numbers(40)
    path = contacts(["+" + n for n in wanted] + ["+" + wanted[0]])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "10")
    assert code == 0, out
    assert "the workbook's writer stopped (died): writing it after the send instead" in out
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["accepted"] * 40 + ["duplicate"]


def test_a_bug_in_the_writer_child_is_a_bug_of_the_run(
    make_sandbox, cli, creds, contacts, monkeypatch, tmp_path
):
    def broken(*args):
        raise ValueError("a writer bug")

    monkeypatch.setattr(batcher.workbook.live, "write_workbook", broken)
    sandbox = make_sandbox()
    path = contacts(["+" + n for n in numbers(5)])
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 1, out
    assert "a writer bug" in out or "BATCHER_DEBUG" in out
    assert len(sandbox.accepted) == 5  # sent, and in the journal: `batcher results` rebuilds it


def _forked_children(pid: int) -> list[int]:
    """Children of pid running its own command line: forked, not started (the reader child
    and a worker pool's server run other commands)."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                same = Path(f"/proc/{entry}/cmdline").read_bytes() == command
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and same:
                found.append(int(entry))
    return found


def test_a_run_killed_during_its_send_leaves_no_writer_and_no_half_workbook(
    make_sandbox, contacts, tmp_path
):
    sandbox = make_sandbox(latency=0.3)
    path = contacts(["+" + n for n in numbers(60)])
    proc = batcher_process(
        ["run", path, *sandbox_args(sandbox), "--chunk-size", "2", "--concurrency", "2"]
    )
    wait_for(lambda: len(sandbox.requests) >= 3)
    writers = _forked_children(proc.pid)
    assert writers, "the run has a writer child while it sends"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    wait_for(lambda: not any(os.path.exists(f"/proc/{w}") for w in writers), timeout=10)
    assert not list(tmp_path.glob("*.xlsx")) or [p.name for p in tmp_path.glob("*.xlsx")] == [
        "contacts.xlsx"
    ]
    assert not list(tmp_path.glob(".*partial*"))
