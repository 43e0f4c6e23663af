"""Plan: normalise once per distinct cell, dedupe in input order, on every core when large."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import batcher.plan
from batcher.load import Sheet
from batcher.plan import DUPLICATE, ELIGIBLE, INVALID, plan_rows


def _sheet(values, regions=None) -> Sheet:
    frame = pd.DataFrame({"phone": values, "region": regions or [None] * len(values)},
                         dtype=object)
    return Sheet(Path("x.xlsx"), frame, list(range(2, len(values) + 2)), "phone",
                 "region" if regions else None, "S", 1, None, None)


def test_first_row_is_called_and_later_rows_point_to_it():
    plan = plan_rows(_sheet(["+919856321412", "junk", "0091 98563 21412", 919856321412.0]),
                     "IN")
    assert plan.status == [ELIGIBLE, INVALID, DUPLICATE, DUPLICATE]
    assert plan.duplicate_of == [None, None, 2, 2]
    assert plan.distinct == ["919856321412"]


def test_true_and_one_are_different_cells():
    plan = plan_rows(_sheet([True, 1, 1.0, "1"]), "IN")
    assert plan.reason[0] != plan.reason[1]  # a boolean is not the number 1
    assert plan.status == [INVALID] * 4


def test_bad_region_cell_is_the_reason():
    plan = plan_rows(_sheet(["98563 21412", "98563 21413"], ["Atlantis", "IN"]), None)
    assert plan.status == [INVALID, ELIGIBLE]
    assert "Atlantis" in plan.reason[0]


def test_process_pool_gives_the_same_plan(monkeypatch):
    values = [f"+91 98{i:08d}" for i in range(300)] + ["x", 919800000007, "+919800000003"]
    sheet = _sheet(values)
    serial = plan_rows(sheet, "IN")
    monkeypatch.setattr(batcher.plan, "PARALLEL_FROM", 10)
    monkeypatch.setattr(batcher.plan, "POOL_CHUNK", 50)
    parallel = plan_rows(sheet, "IN")
    assert parallel == serial


def test_digits_with_their_own_calling_code_lost_the_plus():
    # a German mobile stored as a number reads as a (valid) long national number too
    plan = plan_rows(_sheet([4915123456789], ["DE"]), None)
    assert plan.callee == ["4915123456789"]


def test_a_foreign_number_in_a_row_of_another_region_is_called_with_a_note():
    # Excel dropped the '+' of an Indian number in a row whose region cell says CZ: calling it
    # keeps the contact, and the row's reason says how it was read (a default region: silent).
    cells = ["919856321412", "12015550123", "9856321413 ::: 9856321414", 919856321412]
    plan = plan_rows(_sheet(cells, ["CZ", None, "IN", "CZ"]), "GB")
    assert plan.status == [ELIGIBLE, ELIGIBLE, ELIGIBLE, DUPLICATE]
    assert plan.callee == ["919856321412", "12015550123", "919856321413", "919856321412"]
    assert plan.reason == [
        "read as +91 98563 21412 (IN); the row's region says CZ",
        "",
        "first of 2 numbers in the cell",
        "same number as row 2",
    ]
