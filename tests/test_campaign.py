"""Around the send: plan, progress, --limit/--rate, do-not-call, calling hours, records,
audio, check, init, and the workbook's presentation."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime

import openpyxl
import pytest

from tests.helpers import numbers, read_sheet, sandbox_args, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")


def test_plan_shows_everything_and_sends_nothing(sandbox, tmp_path, cli):
    rows = [
        ["name", "phone", "country"],
        ["a", "+919856321412", "IN"],
        ["b", "+919856321412", "IN"],
        ["c", "12", "IN"],
        ["d", "+14155552671", "US"],
        ["e", "hello", ""],
        ["f", "+447911123456", "GB"],
    ]
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    dnc = write_xlsx(tmp_path / "dnc.xlsx", [["mobile"], ["+44 7911 123456"]])
    config = tmp_path / "campaign.toml"
    config.write_text("[price]\nper_call = 0.01\ncountries = { IN = 0.002 }\n")
    code, out = cli("plan", path, "--config", config, "--suppress", dnc, "--base-url", sandbox.url)
    assert code == 0, out
    assert sandbox.requests == []
    assert "valid distinct numbers: 3" in out and "duplicates: 1" in out
    assert "invalid: 2" in out and "held back: suppressed 1" in out
    assert "to send now: 2 numbers in 1 request of" in out
    assert "estimated cost: 0.012" in out
    assert not (tmp_path / "c-results.xlsx").exists()  # a dry run never writes the results
    facts = summary(tmp_path / "c-plan.xlsx")
    # campaign facts sit in merged cells, which hold text
    assert (facts["to send"], facts["held: suppressed (do-not-call)"]) == (2, 1)
    assert facts["estimated cost"] == 0.012 and facts["suppressed"] == 1
    assert facts["numbers in IN"] == 1
    outcomes = [r["outcome"] for r in read_sheet(tmp_path / "c-plan.xlsx", "Results")]
    assert outcomes == ["not_sent", "duplicate", "invalid", "not_sent", "invalid", "suppressed"]


def test_suppressed_numbers_are_never_called(sandbox, contacts, cli, tmp_path):
    path = contacts(["+" + n for n in numbers(5)])
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n+" + numbers(5)[1] + "\n" + numbers(5)[3] + "\n")
    config = tmp_path / "campaign.toml"
    config.write_text('suppress = ["dnc.csv"]\nregion = "IN"\n')
    code, out = cli("run", path, *sandbox_args(sandbox), "--config", config)
    assert code == 0, out
    assert set(sandbox.accepted_counts()) == {numbers(5)[i] for i in (0, 2, 4)}
    got = [r["outcome"] for r in read_sheet(tmp_path / "contacts-results.xlsx", "Results")]
    assert got == ["accepted", "suppressed", "accepted", "suppressed", "accepted"]


def test_calling_window_defers_and_a_later_run_sends(sandbox, tmp_path, cli):
    # 16:00 UTC: 21:30 in India (outside 09:00-20:00), 08:00 in California (outside), 16:00 London
    four = datetime(2026, 11, 26, 16, tzinfo=UTC)
    rows = [["phone"], ["+919856321412"], ["+14155552671"], ["+447911123456"]]
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    code, out = cli(
        "run", path, *sandbox_args(sandbox), "--window", "09:00-20:00", clock=lambda: four
    )
    assert code == 5, out
    got = read_sheet(tmp_path / "c-results.xlsx", "Results")
    assert [r["outcome"] for r in got] == ["deferred", "deferred", "accepted"]
    assert "local time 21:30 in Asia/Kolkata" in got[0]["reason"]
    assert "local time 08:00 in America/Los_Angeles" in got[1]["reason"]
    retry = read_sheet(tmp_path / "c-results.xlsx", "Retry")
    assert [r["phone"] for r in retry] == ["+919856321412", "+14155552671"]
    # later that day, in the window everywhere that matters: the same command sends the rest
    five = datetime(2026, 11, 26, 17, tzinfo=UTC)
    code, out = cli(
        "run", path, *sandbox_args(sandbox), "--window", "09:00-23:00", clock=lambda: five
    )
    assert code == 0, out
    assert len(sandbox.accepted) == 3


def test_bad_window_is_a_usage_error(contacts, cli):
    code, out = cli("plan", contacts(["+" + numbers(1)[0]]), "--window", "9-late")
    assert code == 2 and "HH:MM-HH:MM" in out


def test_limit_sends_only_the_first_numbers(sandbox, contacts, cli, tmp_path):
    path = contacts(["+" + n for n in numbers(6)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--limit", "2")
    assert code == 5, out
    assert set(sandbox.accepted_counts()) == set(numbers(6)[:2])
    got = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert [r["outcome"] for r in got] == ["accepted"] * 2 + ["not_sent"] * 4
    assert "--limit 2" in got[2]["reason"]


def test_rate_caps_requests_per_second(sandbox, contacts, cli):
    path = contacts(["+" + n for n in numbers(5)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "1", "--rate", "10")
    assert code == 0, out
    starts = sorted(r.started for r in sandbox.requests)
    assert starts[-1] - starts[0] >= 0.35  # 5 requests at 10/s: at least 4 gaps of 0.1 s


def test_progress_lines_when_not_a_terminal_and_silence_when_quiet(sandbox, contacts, cli):
    path = contacts(["+" + n for n in numbers(4)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "2")
    assert code == 0 and "sent 4/4 numbers (accepted 4; 2 requests)" in out
    path = contacts(["+" + n for n in numbers(4, start=100)], name="q.xlsx")
    code, out = cli("run", path, *sandbox_args(sandbox), "--quiet")
    assert code == 0 and out == ""


def test_workbook_presentation(sandbox, contacts, cli, tmp_path):
    path = contacts(["+" + n for n in numbers(3)] + ["junk"])
    assert cli("run", path, *sandbox_args(sandbox), "--limit", "2")[0] == 5
    out = tmp_path / "contacts-results.xlsx"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        sheet1 = archive.read("xl/worksheets/sheet1.xml").decode()
    assert any(n.startswith("xl/charts/chart") for n in names)  # Summary's outcome chart
    assert "conditionalFormatting" in sheet1 and "autoFilter" in sheet1
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Results", "Summary", "Batches", "Retry"]
    assert book["Results"].freeze_panes == "A2"
    assert [r["phone"] for r in read_sheet(out, "Retry")] == ["+" + numbers(3)[2]]


def test_records_command_adds_who_answered(sandbox, contacts, cli, tmp_path):
    path = contacts(["+" + n for n in numbers(12)])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    code, out = cli("records", tmp_path / "contacts-results.xlsx", "--base-url", sandbox.url)
    assert code == 0, out
    assert "12 fetched" in out
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert all(r["answered"] in ("yes", "no") and r["sipCode"] for r in rows)
    facts = summary(tmp_path / "contacts-results.xlsx")
    assert facts["records fetched"] == 12 and "answer rate" in facts
    code, out = cli("records", tmp_path / "contacts-results.xlsx", "--base-url", sandbox.url)
    assert code == 0 and "0 fetched" in out  # re-runnable: nothing fetched twice


def test_check_reports_credentials_ip_and_clock(make_sandbox, cli, monkeypatch):
    sandbox = make_sandbox(clock_offset=-300)
    code, out = cli("check", "--base-url", sandbox.url)
    assert code == 4 and "credentials: ok" in out and "IP address:  ok" in out
    assert "skewed by -300 s" in out or "skewed by -299 s" in out or "skewed by -301 s" in out
    monkeypatch.setenv("BATCHER_API_SECRET", "wrong")
    code, out = cli("check", "--base-url", make_sandbox().url)
    assert code == 4 and "refused" in out and "wrong" not in out


def test_upload_and_audio_in_campaign_toml(sandbox, contacts, cli, tmp_path):
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(b"ID3" + bytes(200))
    code, out = cli("upload", audio, "--base-url", sandbox.url)
    assert code == 0, out
    file_id = re.search(r'file_id = "([^"]+)"', out).group(1)
    code, out = cli("upload", audio, "--base-url", sandbox.url)
    assert "reusing" in out and file_id in out
    config = tmp_path / "campaign.toml"
    config.write_text(f'app_id = "sandbox-app"\naudio = "promo.mp3"\nbase_url = "{sandbox.url}"\n')
    path = contacts(["+" + n for n in numbers(2)])
    code, out = cli("run", path, "--config", config, "--yes")
    assert code == 0, out
    assert f"reusing the upload fileId {file_id}" in out
    assert len(sandbox.accepted) == 2


def test_init_writes_templates_and_refuses_to_overwrite(cli, tmp_path):
    code, out = cli("init", tmp_path / "new")
    assert code == 0, out
    assert {p.name for p in (tmp_path / "new").iterdir()} == {
        "contacts.xlsx",
        "contacts.csv",
        "campaign.toml",
    }
    book = openpyxl.load_workbook(tmp_path / "new" / "contacts.xlsx")
    assert book.sheetnames == ["Contacts", "Instructions"]
    assert book["Contacts"].column_dimensions["B"].number_format == "@"  # phone column is text
    code, out = cli("init", tmp_path / "new")
    assert code == 2 and "--force" in out
