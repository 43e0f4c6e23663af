"""The whole run against the sandbox over real HTTP: sends, workbook contract, statuses."""

from __future__ import annotations

import pytest

from batcher.workbook.columns import RESULT_COLUMNS
from tests.conftest import numbers, sandbox_args, write_xlsx
from tests.helpers import header, read_sheet, summary

pytestmark = pytest.mark.usefixtures("creds")


def test_each_distinct_valid_number_is_sent_once(sandbox, contacts, cli, tmp_path):
    valid = numbers(30)
    values = ["+" + n for n in valid] + ["+" + valid[0], "junk", "", "+" + valid[5]]
    path = contacts(values)
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "7")
    assert code == 0, out
    assert sandbox.accepted_counts() == {n: 1 for n in valid}
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    by_callee = {r["callee"]: r for r in rows if r["outcome"] == "accepted"}
    ledger = {call.callee: call.voice_id for call in sandbox.accepted}
    assert {c: r["voiceId"] for c, r in by_callee.items()} == ledger
    assert [r["outcome"] for r in rows[30:]] == ["duplicate", "invalid", "invalid", "duplicate"]


def test_workbook_contract(sandbox, tmp_path, cli):
    rows = [
        ["Name", "Mobile", "Note"],
        ["a", "+91 98000 00001", '=HYPERLINK("http://x")'],
        ["b", 919800000002, "+cmd"],
        ["c", "not a number", "@SUM(A1)"],
        ["d", "0091-98000-00001", "-2+3"],
        ["e", 919800000000, ""],  # the sandbox refuses numbers ending in 0000
    ]
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    out = tmp_path / "out.xlsx"
    code, text = cli("run", path, *sandbox_args(sandbox), "-o", out)
    assert code == 5, text  # one number rejected: not every eligible number was accepted
    assert header(out) == ["Name", "Mobile", "Note", *RESULT_COLUMNS]
    got = read_sheet(out, "Results")
    assert [r["row"] for r in got] == [2, 3, 4, 5, 6]
    assert [r["outcome"] for r in got] == [
        "accepted",
        "accepted",
        "invalid",
        "duplicate",
        "rejected",
    ]
    assert got[0]["callee"] == "919800000001"
    assert got[1]["Mobile"] == "919800000002"  # phone-like numbers are written as text
    assert got[3]["duplicate_of"] == 2
    assert got[2]["reason"]
    assert got[4]["terminationCode"] not in ("0", None) and got[4]["voiceId"] is None
    assert got[0]["sent_at"].endswith("Z")
    # formulas stay text
    assert got[0]["Note"] == '=HYPERLINK("http://x")'
    assert got[1]["Note"] == "+cmd" and got[2]["Note"] == "@SUM(A1)" and got[3]["Note"] == "-2+3"
    import openpyxl

    sheet = openpyxl.load_workbook(out)["Results"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet["B3"].data_type == "s"
    facts = summary(out)
    assert facts["accepted"] == 2 and facts["rejected"] == 1 and facts["invalid"] == 1
    assert len(str(facts["input SHA-256"])) == 64
    batches = read_sheet(out, "Batches")
    assert len(batches) == 1 and batches[0]["size"] == 3 and batches[0]["api_status"] == "0"


def test_semaphore_bounds_requests_in_flight(make_sandbox, contacts, cli):
    sandbox = make_sandbox(latency=0.05)
    path = contacts(["+" + n for n in numbers(24)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "1", "--concurrency", "3")
    assert code == 0, out
    assert sandbox.max_in_flight == 3
    assert len(sandbox.accepted) == 24


def test_dry_run_sends_nothing_and_needs_no_credentials(
    sandbox, contacts, cli, monkeypatch, tmp_path
):
    monkeypatch.delenv("BATCHER_API_KEY")
    monkeypatch.delenv("BATCHER_API_SECRET")
    path = contacts(["+" + n for n in numbers(5)] + ["bad"])
    code, out = cli("run", path, "--dry-run", "--base-url", sandbox.url)
    assert code == 0, out
    assert sandbox.requests == []
    rows = read_sheet(tmp_path / "contacts-plan.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["not_sent"] * 5 + ["invalid"]
    assert not (tmp_path / "contacts.journal").exists()
    assert not (tmp_path / "contacts-results.xlsx").exists()


@pytest.mark.parametrize(
    ("item", "code", "outcome"),
    [
        ("-1", 4, "not_sent"),
        ("-2", 4, "not_sent"),
        ("-10", 4, "not_sent"),
        ("-26", 5, "failed"),
        ("-18", 5, "unknown"),
        ("-18-placed", 5, "unknown"),
        ("500", 5, "unknown"),
        ("500-placed", 5, "unknown"),
        ("drop", 5, "unknown"),
        ("redirect", 4, "not_sent"),
        ("429", 0, "accepted"),
        ("-16", 0, "accepted"),
    ],
)
def test_each_status_is_handled(make_sandbox, contacts, cli, tmp_path, item, code, outcome):
    sandbox = make_sandbox(script=[item])
    path = contacts(["+" + n for n in numbers(3)])
    got, out = cli("run", path, *sandbox_args(sandbox))
    assert got == code, out
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert {r["outcome"] for r in rows} == {outcome}
    assert all(n <= 1 for n in sandbox.accepted_counts().values())


def test_stop_on_balance_then_resume_sends_only_the_rest(make_sandbox, contacts, cli, tmp_path):
    sandbox = make_sandbox(balance=10)
    path = contacts(["+" + n for n in numbers(25)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "5", "--concurrency", "1")
    assert code == 4, out
    assert "top up the balance, then run the same command again" in out
    assert len(sandbox.accepted) == 10
    sandbox.config.balance = None
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "5")
    assert code == 0, out
    assert sandbox.accepted_counts() == {n: 1 for n in numbers(25)}
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert {r["outcome"] for r in rows} == {"accepted"}


def test_a_cell_excel_cannot_hold_is_written_as_text_the_rest_as_they_are(tmp_path, cli):
    """Only input columns that hold such a value take the cell-by-cell treatment; the
    workbook is the same either way."""
    long_note = "x" * 40_000  # a CSV cell may be longer than Excel's 32,767 characters
    path = tmp_path / "c.csv"
    path.write_text(f"name,phone,note\na,+91 98000 00001,{long_note}\nb,+91 98000 00002,ok\n")
    out = tmp_path / "out.xlsx"
    code, text = cli("run", path, "--dry-run", "-o", out)
    assert code == 0, text
    got = read_sheet(out, "Results")
    assert len(got[0]["note"]) == 32_767 and got[0]["note"].endswith("…")
    assert got[1]["note"] == "ok" and got[1]["phone"] == "+91 98000 00002"


def test_a_workbook_that_cannot_be_written_after_sending_is_exit_8(
    sandbox, contacts, cli, creds, tmp_path
):
    path = contacts(["+" + n for n in numbers(3)])
    blocked = tmp_path / "out.xlsx"
    blocked.mkdir()  # the workbook's place is taken by a folder
    code, out = cli("run", path, *sandbox_args(sandbox), "-o", blocked)
    assert code == 8, out  # not 2: calls were made, and the journal has them
    assert "cannot write the results workbook" in out and "batcher results" in out
    assert len(sandbox.accepted) == 3
    code, out = cli("results", tmp_path / "contacts.journal", "-o", tmp_path / "again.xlsx")
    assert code == 0, out
    assert [r["outcome"] for r in read_sheet(tmp_path / "again.xlsx", "Results")] == [
        "accepted"
    ] * 3


def test_the_time_at_the_prompt_counts_in_no_stage(contacts, tmp_path, monkeypatch):
    import time

    from batcher.pipeline import run
    from batcher.settings import Settings

    path = contacts(["+" + n for n in numbers(2)])
    settings = Settings.from_options({"input": path, "sandbox": True, "quiet": True})
    stopwatch = [100.0]  # the stage timings' clock, moved by hand: only the operator moves it
    monkeypatch.setattr(time, "perf_counter", lambda: stopwatch[0])

    def slow_operator(plan: str) -> bool:
        stopwatch[0] += 60  # a minute reading the plan
        return True

    summary = run(settings, slow_operator, lambda line: None)
    assert summary.timings and set(summary.timings.values()) == {0.0}, summary.timings


def test_parameters_left_to_the_vendor_are_not_summary_headings(
    sandbox, contacts, cli, creds, tmp_path
):
    path = contacts(["+" + n for n in numbers(2)])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    facts = summary(tmp_path / "contacts-results.xlsx")
    assert facts["maxDuration"] == facts["loopCount"] == "(vendor default)"
    assert facts["campaign"] == "contacts"
    assert facts["journal"] == str((tmp_path / "contacts.journal").resolve())
