"""The command line: help for every command, errors that name the fix, documented exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from batcher.cli import build_parser
from tests.conftest import numbers, sandbox_args, write_xlsx


def _commands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices.items())


@pytest.mark.parametrize(("name", "sub"), _commands())
def test_every_command_has_help_with_an_example(name, sub):
    text = sub.format_help()
    assert sub.description, name
    assert "example" in text, name


def test_top_level_help_lists_exit_codes(cli):
    code, out = cli("--help")
    assert code == 0
    for number in range(8):
        assert f"\n  {number}  " in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-duration", "500"], "between 1 and 120"),
        (["--max-ringing-time", "5"], "between 20 and 120"),
        (["--loop-count", "0"], "between 1 and 9"),
        (["--display-num", "12ab"], "7-15 digits"),
        (["--called-info", "x" * 990], "batch tag"),
        (["--chunk-size", "5000"], "from 1 to 1000"),
        (["--concurrency", "0"], "from 1 to 64"),
        (["--base-url", "http://api.example.com"], "https://"),
        (["--region", "XX"], "ISO 3166"),
        (["-o", "out.csv"], "must end in .xlsx"),
    ],
)
def test_bad_options_are_usage_errors(cli, contacts, creds, sandbox, args, fragment):
    path = contacts(["+" + numbers(1)[0]])
    base = ["--base-url", sandbox.url, "--app-id", "a", "--file-id", "f", "--yes"]
    code, out = cli("run", path, *base, *args)
    assert code == 2, out
    assert fragment in out
    assert "Traceback" not in out
    assert sandbox.requests == []


def test_missing_file(cli, tmp_path):
    code, out = cli("run", tmp_path / "nope.xlsx", "--dry-run")
    assert code == 2 and "no such file" in out


def test_no_phone_column_is_an_input_error(cli, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", [["name", "city"], ["a", "Paris"], ["b", "Rome"]])
    code, out = cli("run", path, "--dry-run")
    assert code == 3, out
    assert "c.xlsx" in out and "--phone-column" in out


def test_missing_credentials(cli, contacts, monkeypatch, tmp_path):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--app-id", "a", "--file-id", "f")
    assert code == 2, out
    assert "BATCHER_API_KEY" in out


def test_credentials_file_readable_by_others_is_refused(cli, contacts, monkeypatch, tmp_path):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    secret_file = tmp_path / "creds.toml"
    secret_file.write_text('api_key = "k"\napi_secret = "s"\n')
    secret_file.chmod(0o644)
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--credentials", secret_file, "--app-id", "a", "--file-id", "f")
    assert code == 2 and "chmod 600" in out


def test_credentials_file(cli, contacts, monkeypatch, tmp_path, sandbox):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    secret_file = tmp_path / "creds.toml"
    secret_file.write_text('api_key = "sandbox-key"\napi_secret = "sandbox-secret"\n')
    secret_file.chmod(0o600)
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--credentials", secret_file, *sandbox_args(sandbox))
    assert code == 0, out
    assert len(sandbox.accepted) == 1


def test_real_endpoint_without_terminal_or_yes_is_refused(cli, contacts, creds):
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--app-id", "a", "--file-id", "f", stdin="")
    assert code == 2, out
    assert "--yes" in out


def test_config_file(cli, contacts, creds, sandbox, tmp_path):
    config = tmp_path / "campaign.toml"
    config.write_text(f'app_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\n'
                      f'base_url = "{sandbox.url}"\nloop_count = 2\n')
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--config", config, "--yes")
    assert code == 0, out
    bad = tmp_path / "bad.toml"
    bad.write_text("app_idd = 1\n")
    code, out = cli("run", path, "--config", bad, "--yes")
    assert code == 2 and "app_idd" in out


def test_sandbox_flag_runs_without_account(cli, contacts, monkeypatch, tmp_path):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    path = contacts(["+" + n for n in numbers(4)])
    code, out = cli("run", path, "--sandbox")
    assert code == 0, out
    assert "accepted 4" in out


def test_results_command_rebuilds_from_journal(cli, contacts, creds, sandbox, tmp_path):
    path = contacts(["+" + n for n in numbers(4)])
    code, _ = cli("run", path, *sandbox_args(sandbox))
    assert code == 0
    again = tmp_path / "again.xlsx"
    code, out = cli("results", tmp_path / "contacts.journal", "-o", again)
    assert code == 0, out
    from tests.helpers import read_sheet

    assert [r["outcome"] for r in read_sheet(again, "Results")] == ["accepted"] * 4
    assert len(sandbox.accepted) == 4


def test_python_dash_m_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "batcher", "--version"],
                          capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0 and "batcher" in done.stdout


def test_changing_output_does_not_start_the_campaign_over(cli, contacts, creds, sandbox,
                                                          tmp_path):
    path = contacts(["+" + n for n in numbers(3)])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    # the journal belongs to the campaign, beside the results: another workbook name resumes it
    code, out = cli("run", path, *sandbox_args(sandbox), "-o", tmp_path / "other.xlsx")
    assert code == 0, out
    assert "already done in this campaign: accepted 3" in out
    assert len(sandbox.accepted) == 3
    # and another journal is another campaign: the call history holds what the first called
    code, out = cli("run", path, *sandbox_args(sandbox), "--journal", tmp_path / "x.journal")
    assert code == 0, out
    assert "recently_called 3" in out
    assert len(sandbox.accepted) == 3
