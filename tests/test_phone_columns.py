"""Several phone columns per contact (issue 13): CRM exports, one call per person.

HubSpot, Outlook and Google Contacts exports carry several phone columns; each row is one
contact, called on its first callable number (mobile-like columns first unless --phone-column
orders them), and deduplicated on the number chosen, whichever column it came from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher.load import load_sheet
from batcher.plan.rows import plan_rows
from batcher.plan.status import DUPLICATE, ELIGIBLE, INVALID
from batcher.settings import LoadOptions, Settings
from tests.helpers import read_sheet, sandbox_args, write_xlsx

A, B, C, D = "+919856321412", "+919856321413", "+442071838750", "+14155550123"


def hubspot(path: Path) -> Path:
    """HubSpot: "Phone Number" and "Mobile Phone Number"; some contacts have only a mobile."""
    return write_xlsx(path, [
        ["First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number"],
        ["Ann", "Lee", "ann@x.com", A, B],  # mobile first: B
        ["Bob", "Roy", "bob@x.com", "", C],  # only a mobile
        ["Cy", "Fox", "cy@x.com", D, ""],  # only an office number
        ["Di", "Orr", "di@x.com", C, ""],  # Bob's mobile as her phone: one call (Bob's row)
        ["Ed", "Kim", "ed@x.com", "", ""],  # nothing to call
    ])  # fmt: skip


def outlook(path: Path) -> Path:
    """Outlook: Business, Home and Mobile Phone, with the fax and the assistant beside them."""
    return write_xlsx(path, [
        ["First Name", "Last Name", "Business Phone", "Business Fax", "Home Phone",
         "Mobile Phone", "Assistant's Phone"],
        ["Ann", "Lee", A, "+919856300000", "", "junk", "+919856399999"],  # mobile junk: A
        ["Bob", "Roy", "", "", "", C, ""],
        ["Cy", "Fox", "", "", D, "", ""],
    ])  # fmt: skip


def google(path: Path) -> Path:
    """Google Contacts: "Phone 1 - Value" / "Phone 2 - Value", several numbers " ::: "."""
    return write_xlsx(path, [
        ["Name", "Phone 1 - Type", "Phone 1 - Value", "Phone 2 - Type", "Phone 2 - Value"],
        ["Ann", "Mobile", f"{A} ::: {B}", "Work", C],
        ["Bob", "", "", "Mobile", D],
        ["Cy", "Home", B, "", ""],  # Ann's second number: Cy is called on it, Ann on A
    ])  # fmt: skip


def test_hubspot_export_uses_both_columns_mobile_first(tmp_path):
    sheet = load_sheet(hubspot(tmp_path / "hubspot.xlsx"))
    assert sheet.phone_columns == ("Mobile Phone Number", "Phone Number")
    assert sheet.phone_found_by == "header"
    plan = plan_rows(sheet, None)
    assert plan.callee == ["919856321413", "442071838750", "14155550123", "442071838750", None]
    assert plan.status == [ELIGIBLE, ELIGIBLE, ELIGIBLE, DUPLICATE, INVALID]
    assert plan.duplicate_of[3] == 3  # a duplicate across columns of two rows
    assert plan.phone_column == [0, 0, 1, 1, None]
    assert plan.reason[4].startswith("empty phone cell")


def test_outlook_export_leaves_fax_and_assistant_out(tmp_path):
    sheet = load_sheet(outlook(tmp_path / "outlook.xlsx"))
    assert sheet.phone_columns == ("Mobile Phone", "Business Phone", "Home Phone")
    plan = plan_rows(sheet, None)
    assert plan.callee == ["919856321412", "442071838750", "14155550123"]
    assert plan.phone_column == [1, 0, 2]


def test_google_export_reads_joined_numbers_and_dedupes_on_the_number_chosen(tmp_path):
    sheet = load_sheet(google(tmp_path / "google.xlsx"))
    assert sheet.phone_columns == ("Phone 1 - Value", "Phone 2 - Value")
    plan = plan_rows(sheet, None)
    assert plan.callee == ["919856321412", "14155550123", "919856321413"]
    assert plan.status == [ELIGIBLE] * 3
    assert "first of 2 numbers" in plan.reason[0]
    assert plan.phone_column == [0, 1, 0]


def test_phone_column_option_sets_the_order(tmp_path):
    path = hubspot(tmp_path / "hubspot.xlsx")
    options = LoadOptions(phone_columns=("Phone Number", "Mobile Phone Number"))
    sheet = load_sheet(path, options)
    assert (sheet.phone_columns, sheet.phone_found_by) == (
        ("Phone Number", "Mobile Phone Number"),
        "option",
    )
    assert plan_rows(sheet, None).callee[0] == "919856321412"
    assert LoadOptions(phone_column="B").phone_columns == ("B",)
    assert LoadOptions(phone_columns=("E", "D")).phone_column == "E"


def test_phone_column_option_naming_a_missing_column_is_refused(tmp_path):
    from batcher.errors import UsageError  # a bad option: exit 2

    with pytest.raises(UsageError, match="not every one of the columns 'Phone Number', 'Fax'"):
        load_sheet(hubspot(tmp_path / "h.xlsx"), LoadOptions(phone_columns=("Phone Number", "Fax")))


def test_settings_take_repeated_options_and_the_toml_list(tmp_path):
    path = hubspot(tmp_path / "h.xlsx")
    given = Settings.from_options(
        {"input": path, "dry_run": True, "phone_column": ["D", "Mobile Phone Number"]}
    )
    assert given.load.phone_columns == ("D", "Mobile Phone Number")
    config = tmp_path / "campaign.toml"
    config.write_text('phone_columns = ["Phone Number", "Mobile Phone Number"]\n')
    listed = Settings.from_options({"input": path, "dry_run": True}, config)
    assert listed.load.phone_columns == ("Phone Number", "Mobile Phone Number")


@pytest.mark.usefixtures("creds")
def test_a_run_calls_each_contact_once_and_says_which_column(sandbox, cli, tmp_path):
    path = hubspot(tmp_path / "hubspot.xlsx")
    code, out = cli("plan", path, "-o", tmp_path / "plan.xlsx")
    assert code == 0, out
    assert "'Mobile Phone Number', 'Phone Number', tried in this order" in out
    out_file = tmp_path / "results.xlsx"
    code, out = cli(
        "run",
        path,
        *sandbox_args(sandbox),
        "-o",
        out_file,
        "--phone-column",
        "Mobile Phone Number",
        "--phone-column",
        "Phone Number",
    )
    assert code == 0, out
    counts = sandbox.accepted_counts()
    assert sorted(counts) == ["14155550123", "442071838750", "919856321413"]
    assert set(counts.values()) == {1}
    rows = read_sheet(out_file, "Results")
    assert [r["phone_column_used"] for r in rows] == [
        "Mobile Phone Number",
        "Mobile Phone Number",
        "Phone Number",
        "Phone Number",
        None,
    ]
    assert [r["outcome"] for r in rows] == [
        "accepted",
        "accepted",
        "accepted",
        "duplicate",
        "invalid",
    ]
