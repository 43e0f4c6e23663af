"""The one Outcome enum: every outcome explained and coloured; what a later run sends again."""

from __future__ import annotations

import re

import pytest

from batcher.outcomes import Outcome

HEX = re.compile(r"#[0-9A-F]{6}")


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_a_meaning_and_colours(outcome):
    assert outcome.meaning and len(outcome.meaning) < 100
    fill, font = outcome.colours
    assert HEX.fullmatch(fill) and HEX.fullmatch(font) and fill != font


def test_values_are_the_strings_the_journal_and_workbook_hold():
    assert [str(o) for o in Outcome] == [
        "accepted",
        "rejected",
        "invalid",
        "duplicate",
        "failed",
        "unknown",
        "not_sent",
        "suppressed",
        "deferred",
        "recently_called",
        "opted_out",
    ]


def test_only_what_was_never_placed_is_sent_again():
    assert {o for o in Outcome if o.resendable} == {Outcome.FAILED, Outcome.NOT_SENT}
    assert not Outcome.UNKNOWN.resendable  # calls may have been placed


def test_the_retry_sheet_holds_what_the_same_campaign_would_send():
    assert {o for o in Outcome if o.retry} == {Outcome.FAILED, Outcome.NOT_SENT, Outcome.DEFERRED}
    assert {o for o in Outcome if o.resendable} <= {o for o in Outcome if o.retry}


def test_final_outcomes_are_never_sent_again():
    assert {o for o in Outcome if o.final} == {Outcome.ACCEPTED, Outcome.REJECTED}
    assert not any(o.final and (o.resendable or o.retry) for o in Outcome)
