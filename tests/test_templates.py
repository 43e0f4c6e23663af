"""`batcher init`'s templates tell the truth: every example the Instructions sheet gives is
called, or refused, as it says (checked with `batcher plan` over init's own output), the prose
names no number the examples table does not check, and campaign.toml labels no key as coming."""

from __future__ import annotations

import re

import openpyxl

from tests.helpers import read_sheet

HEADER = "as you type it"
PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{5,}\d")


def _instructions(path):
    """The prose lines above the examples table, and the table's rows as dicts."""
    rows = list(openpyxl.load_workbook(path, read_only=True)["Instructions"].values)
    start = next(i for i, row in enumerate(rows) if row[0] == HEADER)
    prose = [str(row[0]) for row in rows[:start] if row[0]]
    keys = [str(c) for c in rows[start]]
    table = [dict(zip(keys, row, strict=False)) for row in rows[start + 1 :] if row[0]]
    return prose, table


def test_every_example_of_the_init_template_is_planned_as_it_says(cli, tmp_path):
    assert cli("init", tmp_path / "mine")[0] == 0
    contacts = tmp_path / "mine" / "contacts.xlsx"
    prose, examples = _instructions(contacts)
    assert len(examples) >= 8
    assert {e["called?"] for e in examples} == {"yes", "no"}
    book = openpyxl.load_workbook(contacts)
    for i, example in enumerate(examples, 2):  # filled in as the user would
        book["Contacts"].append([f"example {i}", example[HEADER], example["region"] or None])
    book.save(contacts)
    code, out = cli("plan", contacts)
    assert code == 0, out
    rows = read_sheet(tmp_path / "mine" / "contacts-plan.xlsx", "Results")
    assert [r["phone"] for r in rows] == [e[HEADER] for e in examples]
    for example, row in zip(examples, rows, strict=True):
        called = row["outcome"] == "not_sent"  # a dry run's "would be sent"
        assert called == (example["called?"] == "yes"), (example, row)
        if "first callable" in str(example["what batcher does"]):
            assert "first of 2 numbers in the cell" in row["reason"], row
        if example["called?"] == "yes" and "called as +" in example["what batcher does"]:
            assert f"called as +{row['callee']}" in example["what batcher does"], (example, row)
    # the prose promises nothing the table does not check
    checked = {e[HEADER] for e in examples}
    for line in prose:
        for number in PHONE_LIKE.findall(line):
            assert any(number in example for example in checked), (number, line)
    assert any("several numbers" in line and "called once" in line for line in prose)


def test_the_init_campaign_toml_labels_no_key_as_coming(cli, tmp_path):
    assert cli("init", tmp_path / "mine")[0] == 0
    text = (tmp_path / "mine" / "campaign.toml").read_text()
    assert not re.search(r"coming|not yet acted|not yet implemented|planned", text, re.I), text
