"""Do-not-call lists are read at least as carefully as the contacts (issue 21): every phone
column, every number of a cell, the campaign's region, and a stop on what cannot be read.

Each run goes to the sandbox on loopback and is asserted from its ledger (`sandbox.accepted`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher.load import load_sheet
from batcher.plan.normalise import every_number
from batcher.plan.suppress import do_not_call
from batcher.settings import LoadOptions
from tests.helpers import sandbox_args, summary, write_xlsx
from tests.helpers.web import Api, call, multipart
from tests.test_web import serving

pytestmark = pytest.mark.usefixtures("creds")

GB = [f"4479111000{i:02d}" for i in range(8)]  # callees of +44 7911 100000...


def _contacts(tmp_path: Path, callees: list[str] = GB) -> Path:
    return write_xlsx(
        tmp_path / "c.xlsx", [["name", "phone"], *([f"p{c}", f"+{c}"] for c in callees)]
    )


def _called(sandbox) -> set[str]:
    counts = sandbox.accepted_counts()
    assert all(n == 1 for n in counts.values()), counts
    return set(counts)


def _national(callee: str) -> str:
    """+44 7911 100000's national form, 07911 100000."""
    return f"0{callee[2:6]} {callee[6:]}"


def test_a_national_list_without_a_region_is_refused_naming_the_row_and_nothing_is_sent(
    sandbox, cli_streams, tmp_path
):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n" + "\n".join(_national(c) for c in GB[:3]) + "\n")
    done = cli_streams("run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc)
    assert done.code == 3, done.err
    assert sandbox.accepted == [] and sandbox.requests == []
    assert f"do-not-call list {dnc}: row 2, column 'phone': '07911 100000'" in done.err
    assert "national number" in done.err and "2 more rows" in done.err
    assert "--region" in done.err and "Traceback" not in done.err


def test_a_national_list_with_the_campaigns_region_holds_those_numbers(sandbox, cli, tmp_path):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n" + "\n".join(_national(c) for c in GB[:3]) + "\n")
    code, out = cli(
        "run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc, "--region", "GB"
    )
    assert code == 0, out
    assert _called(sandbox) == set(GB[3:])
    assert "do-not-call: dnc.csv 3 numbers" in out and "held back: suppressed 3" in out


def test_a_national_list_reads_its_own_region_column(sandbox, cli, tmp_path):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone,country\n" + "".join(f"{_national(c)},UK\n" for c in GB[:2]))
    code, out = cli("run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc)
    assert code == 0, out
    assert _called(sandbox) == set(GB[2:])


def test_every_phone_column_of_a_list_is_held(sandbox, cli, tmp_path):
    dnc = write_xlsx(
        tmp_path / "dnc.xlsx",
        [["Name", "Mobile", "Home"], ["a", f"+{GB[0]}", f"+{GB[1]}"], ["b", None, f"+{GB[2]}"]],
    )
    code, out = cli("run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc)
    assert code == 0, out
    assert _called(sandbox) == set(GB[3:])
    assert "do-not-call: dnc.xlsx 3 numbers" in out


def test_every_number_of_a_cell_is_held(sandbox, cli, tmp_path):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f'phone\n"+44 7911 100000 / +44 7911 100010"\n+{GB[1]} +{GB[2]}\n')
    callees = [*GB, "447911100010"]
    code, out = cli("run", _contacts(tmp_path, callees), *sandbox_args(sandbox), "--suppress", dnc)
    assert code == 0, out
    assert _called(sandbox) == set(GB[3:])
    assert "do-not-call: dnc.csv 4 numbers" in out


def test_an_unreadable_row_stops_the_run_naming_the_file_row_and_cell(
    sandbox, cli_streams, tmp_path
):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f"phone\n+{GB[0]}\ncall me maybe\nn/a\n+{GB[1]}\n")
    done = cli_streams("run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc)
    assert done.code == 3, done.err
    assert sandbox.accepted == [] and sandbox.requests == []
    assert f"do-not-call list {dnc}: row 3, column 'phone': 'call me maybe'" in done.err
    assert "1 more row like it" in done.err
    assert "fix: correct or delete the row" in done.err
    assert "--suppress-unreadable skip" in done.err


def test_the_skip_option_goes_on_without_the_unreadable_rows_and_counts_them(
    sandbox, cli, tmp_path
):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f"phone\n+{GB[0]}\ncall me maybe\nn/a\n+{GB[1]}\n")
    config = tmp_path / "campaign.toml"
    config.write_text('suppress = ["dnc.csv"]\nsuppress_unreadable = "skip"\n')
    code, out = cli("run", _contacts(tmp_path), *sandbox_args(sandbox), "--config", config)
    assert code == 0, out
    assert _called(sandbox) == set(GB[2:])
    assert "do-not-call: dnc.csv 2 numbers (2 rows skipped: unreadable)" in out
    facts = summary(tmp_path / "c-results.xlsx")
    assert facts["do-not-call numbers read: dnc.csv"] == 2
    assert facts["do-not-call rows skipped (unreadable): dnc.csv"] == 2


def test_blank_rows_and_cells_are_fine(sandbox, cli, tmp_path):
    dnc = write_xlsx(
        tmp_path / "dnc.xlsx",
        [["phone", "home"], [f"+{GB[0]}", None], [None, None], [None, f"+{GB[1]}"], ["  ", None]],
    )
    code, out = cli("run", _contacts(tmp_path), *sandbox_args(sandbox), "--suppress", dnc)
    assert code == 0, out
    assert _called(sandbox) == set(GB[2:])


def test_the_plan_counts_the_numbers_of_each_list(sandbox, cli, tmp_path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(f"phone\n+{GB[0]}\n+{GB[1]}\n+{GB[1]}\n")
    second.write_text("phone\n+44 7911 200000\n")  # on no contact row: read, holds nobody
    args = ("--suppress", first, "--suppress", second, "--base-url", sandbox.url)
    code, out = cli("plan", _contacts(tmp_path), *args)
    assert code == 0, out
    assert "do-not-call: first.csv 2 numbers; second.csv 1 number" in out
    assert sandbox.requests == []
    facts = summary(tmp_path / "c-plan.xlsx")
    assert facts["do-not-call numbers read: first.csv"] == 2
    assert facts["do-not-call numbers read: second.csv"] == 1


def test_the_page_refuses_an_unreadable_list_readably(tmp_path):
    folder = tmp_path / "campaigns"
    folder.mkdir()
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n+447911100000\ncall me maybe\n")
    with serving(folder) as (server, sandbox):
        api = Api(server)
        body, kind = multipart({}, {"file": _contacts(tmp_path), "dnc": dnc})
        answer = call(
            "POST", f"{server.url}/api/campaigns", headers=api.auth, data=body, content_type=kind
        )
        assert answer.status == 422, answer.text
        error = answer.json()
        assert "row 3, column 'phone': 'call me maybe'" in error["error"] and error["hint"]
        assert "suppress-unreadable skip" in error["hint"]  # a refusal, not a 500
        # and a refused upload leaves no campaign behind (issue 22)
        assert api.get("/campaigns/c").status == 404
        assert not list(folder.rglob("dnc*"))
        assert sandbox.accepted == []


@pytest.mark.parametrize(
    ("cell", "region", "callees"),
    [
        ("+44 7911 100000 / +44 7911 100010", None, ["447911100000", "447911100010"]),
        ("+447911100000 +447911100010", None, ["447911100000", "447911100010"]),
        ("07911 100000; 07911 100010", "GB", ["447911100000", "447911100010"]),
        ("+44 7911 100000", None, ["447911100000"]),
        (447911100000, None, ["447911100000"]),
        (None, None, []),
        ("", None, []),
    ],
)
def test_every_number_reads_each_number_of_a_cell(cell, region, callees):
    assert [n.callee for n in every_number(cell, region)] == callees


def test_a_list_without_a_header_reads_every_column_of_numbers(tmp_path):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f"+{GB[0]},+{GB[1]}\n+{GB[2]},+{GB[3]}\n")
    sheet = load_sheet(dnc, LoadOptions(every_phone_column=True))
    assert len(sheet.phone_columns) == 2
    assert do_not_call([dnc], None).numbers == frozenset(GB[:4])


def test_a_column_of_ids_is_not_read_as_phones(tmp_path):
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f"phone,customer id\n+{GB[0]},1234567\n+{GB[1]},7654321\n")
    assert do_not_call([dnc], None).numbers == frozenset(GB[:2])
