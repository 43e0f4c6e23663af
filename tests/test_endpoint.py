"""The endpoint belongs to the campaign: a trial on the embedded sandbox never stands for a call.

A "real endpoint" here is another sandbox reached by --base-url http://127.0.0.1:PORT (a
simulator standing in for the vendor); `--sandbox` is the embedded trial. Each test asserts
from the real sandbox's ledger (`sandbox.accepted_counts()`): everyone called once there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import numbers, read_sheet, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
IDS = 'app_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\n'


def _campaign(folder: Path, phones: list[str]) -> tuple[Path, Path]:
    """contacts.xlsx and campaign.toml in `folder`, as an operator keeps a campaign."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)]
    config = folder / "campaign.toml"
    config.write_text(IDS)
    return write_xlsx(folder / "contacts.xlsx", rows), config


def _once(sandbox, expected: list[str]) -> None:
    counts = sandbox.accepted_counts()
    assert counts == dict.fromkeys(expected, 1), counts


def test_a_trial_then_the_real_run_calls_everyone_once(sandbox, cli, tmp_path):
    phones = numbers(10)
    path, config = _campaign(tmp_path / "spring", ["+" + n for n in phones])
    code, out = cli("run", path, "--config", config, "--sandbox")
    assert code == 0 and "accepted 10" in out, out
    real = ["--config", config, "--base-url", sandbox.url]
    code, out = cli("plan", path, *real)
    assert code == 0 and "to send now: 10 numbers" in out, out
    real.append("--yes")
    code, out = cli("run", path, *real)
    assert code == 0 and "accepted 10" in out and "already done" not in out, out
    _once(sandbox, phones)
    # the trial again and the real run again: nobody is called twice, the trial kept its files
    assert cli("run", path, "--config", config, "--sandbox")[0] == 0
    code, out = cli("run", path, *real)
    assert code == 0 and "nothing to send now" in out, out
    _once(sandbox, phones)
    results = read_sheet(tmp_path / "spring" / "contacts-results.xlsx", "Results")
    trial = read_sheet(tmp_path / "spring" / "contacts-sandbox-results.xlsx", "Results")
    assert [r["outcome"] for r in results] == [r["outcome"] for r in trial] == ["accepted"] * 10
    # the trial's workbook rebuilt from its journal is the trial's, never the real one
    real_book = (tmp_path / "spring" / "contacts-results.xlsx").read_bytes()
    code, out = cli("results", tmp_path / "spring" / "contacts.sandbox.journal")
    assert code == 0 and "contacts-sandbox-results.xlsx" in out, out
    assert (tmp_path / "spring" / "contacts-results.xlsx").read_bytes() == real_book


def test_a_journal_of_a_trial_is_refused_for_real_calls_with_the_fix(sandbox, cli, tmp_path):
    phones = numbers(6)
    path, config = _campaign(tmp_path, ["+" + n for n in phones])
    shared = ["--config", config, "--journal", tmp_path / "shared.journal"]
    assert cli("run", path, *shared, "--sandbox")[0] == 0
    real = ["--base-url", sandbox.url]
    for command, more in (("plan", []), ("run", ["--yes"])):
        code, out = cli(command, path, *shared, *real, *more)
        assert code == 2, out
        assert "the embedded sandbox" in out and "--journal contacts.journal" in out, out
    assert sandbox.requests == []
    # the fix as it says: the real campaign's own journal
    code, out = cli(
        "run", path, "--config", config, "--journal", tmp_path / "contacts.journal", *real, "--yes"
    )
    assert code == 0 and "accepted 6" in out, out
    _once(sandbox, phones)
    # a campaign run on a simulator, then planned towards the vendor: refused, with the fix
    loop = tmp_path / "loop"
    path, config = _campaign(loop, ["+" + n for n in numbers(6, start=100)])
    assert cli("run", path, "--config", config, *real, "--yes")[0] == 0
    code, out = cli("plan", path, "--config", config)
    assert code == 2 and sandbox.url in out and "--journal contacts.vendor.journal" in out, out
    code, out = cli("plan", path, "--config", config, "--journal", loop / "contacts.vendor.journal")
    assert code == 0 and "to send now: 6 numbers" in out, out
    # and the reverse: a trial into the real campaign's journal is refused
    code, out = cli(
        "run", path, "--config", config, "--journal", tmp_path / "contacts.journal", "--sandbox"
    )
    assert code == 2 and "a trial keeps its own journal" in out, out


def test_the_workbook_names_the_endpoint_of_each_request(make_sandbox, cli, tmp_path):
    first, second = make_sandbox(), make_sandbox()
    phones = numbers(6)
    path, config = _campaign(tmp_path, ["+" + n for n in phones[:3]])
    code, out = cli("run", path, "--config", config, "--sandbox")
    assert code == 0, out
    trial = tmp_path / "contacts-sandbox-results.xlsx"
    assert {b["endpoint"] for b in read_sheet(trial, "Batches")} == {"the embedded sandbox"}
    facts = summary(trial)
    assert facts["endpoint"] == "the embedded sandbox"
    assert facts["requests by endpoint: the embedded sandbox"] == 1
    # the real campaign moves from one port to another of the same kind: each request named
    code, out = cli("run", path, "--config", config, "--base-url", first.url, "--yes")
    assert code == 0, out
    path, _ = _campaign(tmp_path, ["+" + n for n in phones])
    code, out = cli("run", path, "--config", config, "--base-url", second.url, "--yes")
    assert code == 0 and "accepted 3" in out, out
    _once(first, phones[:3])
    _once(second, phones[3:])
    results = tmp_path / "contacts-results.xlsx"
    assert [b["endpoint"] for b in read_sheet(results, "Batches")] == [first.url, second.url]
    facts = summary(results)
    assert facts["endpoint"] == second.url
    assert facts[f"requests by endpoint: {first.url}"] == 1
    assert facts[f"requests by endpoint: {second.url}"] == 1
    assert not any("embedded sandbox" in str(v) for v in facts.values())


def _sample_trial(cli, tmp_path: Path) -> None:
    """The README's first command, on a copy of the sample (never written into samples/)."""
    sample = tmp_path / "samples" / "contacts.xlsx"
    sample.parent.mkdir()
    shutil.copy(SAMPLES / "contacts.xlsx", sample)
    code, out = cli("run", sample, "--config", SAMPLES / "campaign.toml", "--sandbox")
    assert code == 0 and "accepted 25" in out, out


def test_the_readme_sample_trial_never_holds_the_init_campaign(sandbox, cli, tmp_path):
    _sample_trial(cli, tmp_path)
    # `batcher init`'s campaign (also named "contacts"), filled with the Instructions' example
    # number, the sample's first row: tried on the sandbox, then run for real
    assert cli("init", tmp_path / "mine")[0] == 0
    mine, config = _campaign(tmp_path / "mine", ["0091 98563 21412", "+44 7400 123456"])
    code, out = cli("run", mine, "--config", config, "--sandbox")
    assert code == 0 and "recently_called" not in out and "accepted 2" in out, out
    code, out = cli("run", mine, "--config", config, "--base-url", sandbox.url, "--yes")
    assert code == 0 and "recently_called" not in out and "accepted 2" in out, out
    _once(sandbox, ["919856321412", "447400123456"])


def test_the_readme_sample_trial_never_holds_a_real_campaign(sandbox, cli, tmp_path):
    _sample_trial(cli, tmp_path)
    leads = tmp_path / "leads" / "leads.xlsx"  # the same people, another campaign
    leads.parent.mkdir()
    shutil.copy(SAMPLES / "contacts.xlsx", leads)
    real = ["--config", SAMPLES / "campaign.toml", "--base-url", sandbox.url, "--yes"]
    code, out = cli("run", leads, *real)
    assert code == 0 and "recently_called" not in out and "accepted 25" in out, out
    assert len(sandbox.accepted_counts()) == 25
    assert set(sandbox.accepted_counts().values()) == {1}
    assert not list(SAMPLES.glob("*.journal")) and not list(SAMPLES.glob("*-results.xlsx"))
