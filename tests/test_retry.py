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
