"""The Retry sheet fed back: one current workbook per campaign, nobody called twice.

`batcher run c-results.xlsx --sheet Retry` sends the rows worth sending again and writes the
campaign's own results workbook again, every row of the original input in it; never a second
workbook of only the retried rows. Asserted from the sandbox's ledger.
"""

from __future__ import annotations

import pytest

from tests.helpers import numbers, read_sheet, sandbox_args, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")


def _sheet(path, phones):
    return write_xlsx(path, [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)])


def _once(sandbox, expected):
    counts = sandbox.accepted_counts()
    assert all(n == 1 for n in counts.values()), {c: n for c, n in counts.items() if n > 1}
    assert set(counts) == set(expected)


@pytest.mark.parametrize("sheet", [["--sheet", "Retry"], []])
def test_the_retry_sheet_fed_back_updates_the_campaigns_workbook(sandbox, cli, tmp_path, sheet):
    phones = ["+" + n for n in numbers(12)]
    path = _sheet(tmp_path / "c.xlsx", phones)
    assert cli("run", path, *sandbox_args(sandbox), "--limit", "3")[0] == 5
    results = tmp_path / "c-results.xlsx"
    assert len(read_sheet(results, "Retry")) == 9
    code, out = cli("run", results, *sheet, *sandbox_args(sandbox))
    assert code == 0, out
    assert not (tmp_path / "c-results-results.xlsx").exists(), out
    rows = read_sheet(results, "Results")
    assert [r["name"] for r in rows] == [f"p{i}" for i in range(12)]  # the original's rows
    assert {r["outcome"] for r in rows} == {"accepted"}
    assert read_sheet(results, "Retry") == []
    assert str(summary(results)["input file"]).endswith("c.xlsx")
    assert f"workbook: {results}\n" in out
    # rebuilt from the journal: still the original's rows
    code, out = cli("results", tmp_path / "c.journal")
    assert code == 0, out
    assert [r["outcome"] for r in read_sheet(results, "Results")] == ["accepted"] * 12
    # the original again: nothing to send, and no change of options announced
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0, out
    assert "to send now: 0 numbers" in out and "changed since the last run" not in out
    _once(sandbox, numbers(12))


def test_records_of_a_sandbox_trial_are_kept_and_shown(cli, tmp_path):
    """`records` after `run --sandbox`: the embedded sandbox is gone, but the trial fetched its
    calls' records before it stopped; `records` writes them into the workbook, fetching nothing."""
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(5)])
    code, out = cli("run", path, "--sandbox")
    assert code == 0, out
    trial = tmp_path / "c-sandbox-results.xlsx"
    for target in (trial, tmp_path / "c.sandbox.journal"):
        code, out = cli("records", target)
        assert code == 0, out
        assert "sandbox is gone" not in out and "kept by the trial" in out, out
        assert "5 fetched" not in out  # nothing asked of any endpoint
        rows = read_sheet(trial, "Results")
        assert len(rows) == 5 and all(r["outcome"] == "accepted" for r in rows)
        assert all(r["answered"] in ("yes", "no") for r in rows), rows


def test_records_of_a_trial_that_kept_none_says_what_to_do(cli, tmp_path):
    from batcher.journal import Journal

    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(3)])
    assert cli("run", path, "--sandbox")[0] == 0
    journal = tmp_path / "c.sandbox.journal"
    with Journal(journal) as opened:  # as a trial of an older batcher left it
        opened.db.execute("DELETE FROM call_records")
        opened.db.commit()
    code, out = cli("records", journal)
    assert code == 2, out
    assert "batcher sandbox" in out and "--base-url" in out and "sandbox is gone" not in out
