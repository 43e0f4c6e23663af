"""The command line: help for every command, errors that name the fix, documented exit codes,
results on stdout and diagnostics on stderr."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batcher.cli import build_parser
from batcher.cli.run import Confirm
from batcher.errors import ExitCode
from batcher.settings import Campaign, Settings
from tests.helpers import numbers, read_sheet, sandbox_args, write_xlsx

OURS = ("run", "plan", "results", "reconcile", "records", "check", "upload", "test-call", "init")


def _commands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices.items())


def _options(sub: argparse.ArgumentParser) -> set[str]:
    return {name for action in sub._actions for name in action.option_strings}


@pytest.mark.parametrize(("name", "sub"), _commands())
def test_every_command_has_help_with_an_example(name, sub):
    text = sub.format_help()
    assert sub.description, name
    assert "example" in text, name


@pytest.mark.parametrize(("name", "sub"), [c for c in _commands() if c[0] in OURS])
def test_every_command_lists_its_exit_codes_and_shows_every_default(name, sub):
    text = sub.format_help()
    assert "exit codes:\n  0  " in text, name
    assert f"\n  {int(ExitCode.USAGE)}  " in text, name
    for action in sub._actions:
        if action.option_strings and action.nargs != 0 and action.dest != "help":
            assert "default" in action.help or "required" in action.help, (name, action.dest)


def test_plan_has_only_the_options_a_plan_uses():
    subs = dict(_commands())
    plan, run = _options(subs["plan"]), _options(subs["run"])
    for sending_only in (
        "--yes",
        "-y",
        "--limit",
        "--rate",
        "--resend-unknown",
        "--dry-run",
        "--credentials",
        "--timeout",
    ):
        assert sending_only in run and sending_only not in plan


def test_check_takes_no_sandbox_option():
    assert "--sandbox" not in _options(dict(_commands())["check"])


def test_top_level_help_lists_exit_codes(cli):
    code, out = cli("--help")
    assert code == 0
    for number in ExitCode:
        assert f"\n  {int(number)}  " in out


def test_bare_batcher_prints_the_help_and_is_a_usage_error(cli_streams):
    done = cli_streams()
    assert done.code == ExitCode.USAGE == 2
    assert "COMMAND" in done.err and "exit codes:" in done.err and "run" in done.err
    assert done.out == ""


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(cli_streams, flag):
    done = cli_streams(flag)
    assert done.code == 0 and done.out.startswith("batcher ")


def test_plan_goes_to_stdout_and_hints_to_stderr(cli_streams, contacts):
    path = contacts(["+" + n for n in numbers(3)])
    done = cli_streams("plan", path)
    assert done.code == 0, done.err
    assert "valid distinct numbers: 3" in done.out and "to send now: 3 numbers" in done.out
    assert f"workbook: {path.with_name('contacts-plan.xlsx')}" in done.out
    assert "valid distinct numbers" not in done.err
    assert "next: this was a dry run" in done.err and "next:" not in done.out


def test_a_run_prints_its_results_on_stdout_and_progress_on_stderr(
    cli_streams, contacts, creds, sandbox
):
    path = contacts(["+" + n for n in numbers(3)])
    done = cli_streams("run", path, *sandbox_args(sandbox))
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "results: accepted 3",
        f"workbook: {path.with_name('contacts-results.xlsx')}",
        f"journal:  {path.with_name('contacts.journal')}",
    ]
    assert "to send now: 3 numbers" in done.err  # the plan shown before sending
    assert "sent 3/3 numbers" in done.err and "timings:" in done.err


def test_errors_go_to_stderr(cli_streams, tmp_path):
    done = cli_streams("run", tmp_path / "nope.xlsx", "--dry-run")
    assert done.out == "" and "error:" in done.err


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


def test_a_missing_file_and_a_folder_are_the_same_input_error(cli, tmp_path):
    code, out = cli("run", tmp_path / "nope.xlsx", "--dry-run")
    assert code == ExitCode.INPUT and "no such file" in out
    (tmp_path / "folder.xlsx").mkdir()
    code, out = cli("plan", tmp_path / "folder.xlsx")
    assert code == ExitCode.INPUT and "is a folder" in out


def test_an_output_folder_that_does_not_exist_is_refused_before_sending(
    cli, contacts, creds, sandbox, tmp_path
):
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, *sandbox_args(sandbox), "-o", tmp_path / "no" / "r.xlsx")
    assert code == ExitCode.USAGE and "does not exist" in out
    assert sandbox.requests == []


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
    assert "BATCHER_API_KEY" in out and "--sandbox" in out


@pytest.mark.parametrize(
    ("present", "missing"),
    [("BATCHER_API_KEY", "BATCHER_API_SECRET"), ("BATCHER_API_SECRET", "BATCHER_API_KEY")],
)
def test_half_a_credential_pair_names_the_missing_one(cli, contacts, monkeypatch, present, missing):
    monkeypatch.delenv(missing, raising=False)
    monkeypatch.setenv(present, "x")
    path = contacts(["+" + numbers(1)[0]])
    code, out = cli("run", path, "--app-id", "a", "--file-id", "f", "--yes")
    assert code == 2, out
    assert f"{missing} is not set ({present} is)" in out


def test_check_without_credentials_does_not_suggest_sandbox(cli, monkeypatch):
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    code, out = cli("check")
    assert code == 2, out
    assert "no API credentials found" in out and "--sandbox" not in out


def test_the_operator_is_asked_and_only_yes_is_yes(tmp_path):
    settings = Settings(
        input=tmp_path / "c.xlsx",
        output=tmp_path / "c-results.xlsx",
        journal=tmp_path / "c-results.journal",
        campaign=Campaign("a", "f"),
        quiet=True,
    )
    asked = []

    def operator(answer: str):
        return lambda prompt: asked.append(prompt) or answer

    assert Confirm(settings, ask=operator("y\n"), terminal=lambda: True)("plan") is True
    assert "Real calls will be placed" in asked[0]
    assert Confirm(settings, ask=operator("yes\n"), terminal=lambda: True)("plan") is True
    assert Confirm(settings, ask=operator("\n"), terminal=lambda: True)("plan") is False
    assert Confirm(settings, ask=operator("n\n"), terminal=lambda: True)("plan") is False


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
    config.write_text(
        f'app_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\n'
        f'base_url = "{sandbox.url}"\nloop_count = 2\n'
    )
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

    assert [r["outcome"] for r in read_sheet(again, "Results")] == ["accepted"] * 4
    assert len(sandbox.accepted) == 4


def test_python_dash_m_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "batcher", "-V"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert done.returncode == 0 and "batcher" in done.stdout


def test_changing_output_does_not_start_the_campaign_over(cli, contacts, creds, sandbox, tmp_path):
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


def test_a_reader_that_goes_away_is_no_internal_error(tmp_path):
    """`batcher plan x.xlsx | head -1`: the plan is still written, the exit code is the plan's."""
    import subprocess
    import sys

    plan = tmp_path / "p.xlsx"
    sample = Path(__file__).resolve().parents[1] / "samples" / "contacts.xlsx"
    done = subprocess.run(
        f"{sys.executable} -m batcher plan {sample} -o {plan} | head -1",
        shell=True, capture_output=True, text=True, check=False,
        executable="/bin/bash", env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )  # fmt: skip
    assert "internal error" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.startswith("campaign 'contacts'") and plan.exists()


def test_results_takes_the_workbook_a_run_wrote(sandbox, contacts, cli_streams, creds):
    """`batcher results X-results.xlsx` reads the journal it names and rewrites that workbook;
    its help names the files it writes."""
    path = contacts(["+919856321412", "+919856321413"])
    ran = cli_streams("run", path, "--base-url", sandbox.url, "--app-id", "sandbox-app",
                      "--file-id", "sandbox-file-0001.mp3", "--yes")  # fmt: skip
    assert ran.code == 0, ran.err
    workbook = path.with_name(path.stem + "-results.xlsx")
    again = cli_streams("results", workbook)
    assert again.code == 0, again.err
    assert f"workbook: {workbook}" in again.out
    helped = cli_streams("results", "--help")
    assert "FILE-results.xlsx beside the campaign's contacts" in " ".join(helped.out.split())
    assert "the journal's name" not in cli_streams("reconcile", "--help").out


def test_a_duration_in_two_words_gets_the_commands_usage_and_the_fix(cli_streams, contacts):
    done = cli_streams("plan", contacts(["+919856321412"]), "--cooldown", "2", "days")
    assert done.code == 2
    assert "usage: batcher plan" in done.err and "usage: batcher [-h]" not in done.err
    assert "unrecognized arguments: days" in done.err and "--cooldown 2d" in done.err


def test_a_phone_column_that_is_not_there_is_a_bad_option_exit_2(cli_streams, contacts):
    done = cli_streams("plan", contacts(["+919856321412"]), "--phone-column", "Nope")
    assert done.code == 2, done.err
    assert "--phone-column: no column 'Nope'" in done.err and "'phone'" in done.err


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("max_duration = 300", "between 1 and 120"),
        ("loop_count = 0", "between 1 and 9"),
        ('display_num = "12ab"', "7-15 digits"),
    ],
)
def test_a_plan_refuses_the_call_parameters_a_run_refuses(cli, contacts, tmp_path, key, fragment):
    path = contacts(["+" + numbers(1)[0]])
    config = tmp_path / "campaign.toml"
    config.write_text(f"{key}\n", encoding="utf-8")  # no app_id yet: a plan needs none
    code, out = cli("plan", path, "--config", config)
    assert code == 2 and fragment in out, out
    assert not path.with_name("contacts-plan.xlsx").exists()
    config.write_text("", encoding="utf-8")
    code, out = cli("plan", path, "--config", config)
    assert code == 0, out
