"""The bundled samples: every one plans cleanly, and the main one runs against the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import read_sheet, summary

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize(
    ("name", "eligible", "duplicates", "invalid", "facts"),
    [
        # 25: row 28 holds two numbers and is called on the first
        ("contacts.xlsx", 25, 3, 8, {"phone column": "Mobile", "region column": "Country"}),
        ("contacts-gbk.csv", 8, 2, 2, {"encoding": "gb18030", "phone column": "手机号码"}),
        ("contacts-titled.xlsx", 8, 2, 1, {"sheet": "Leads", "header row": "4"}),
    ],
)
def test_samples_plan(cli, tmp_path, name, eligible, duplicates, invalid, facts):
    source = tmp_path / name
    shutil.copy(SAMPLES / name, source)
    config = ["--config", SAMPLES / "campaign.toml"] if name == "contacts.xlsx" else []
    code, out = cli("plan", source, *config)
    assert code == 0, out
    assert (
        f"valid distinct numbers: {eligible}   duplicates: {duplicates}   invalid: {invalid}"
    ) in out
    got = summary(source.with_name(source.stem + "-plan.xlsx"))
    for key, value in facts.items():
        assert str(got[key]).lower() == value.lower()


def test_readme_sample_runs_against_the_embedded_sandbox(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    source = tmp_path / "contacts.xlsx"
    shutil.copy(SAMPLES / "contacts.xlsx", source)
    code, out = cli("run", source, "--config", SAMPLES / "campaign.toml", "--sandbox")
    assert code == 0, out
    rows = read_sheet(tmp_path / "contacts-sandbox-results.xlsx", "Results")  # a trial's own
    assert sum(r["outcome"] == "accepted" for r in rows) == 25
