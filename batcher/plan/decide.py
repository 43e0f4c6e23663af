"""One round of a campaign, decided in one place: `decide()`.

    round_ = decide(settings, plan, journal, history, name="spring", journal_file=path,
                    sheet=sheet)
    round_.todo        # the numbers to send now, in the plan's order
    round_.held        # callee -> (outcome, why) for what is held back this round
    round_.text        # the plan as the operator reads it

"Whom do we call now" has one answer, whoever asks: `batcher run` and its dry run (`batcher
plan`), `--follow`'s rounds, the page's check and `batcher test-call` all call `decide()` with
the campaign's journal (None or an empty one for a new campaign) and the call history, and
assemble nothing of their own. The round reads, in this order: the campaign's states and the
numbers it holds for good (its journal), the opt-outs its stored call records show (noted on
the account's do-not-call register first: `register.note_opt_outs`), the register, the redial
policy's book, the do-not-call lists, the call history's cooldown, the calling window and
--limit (`choose`), then the forecast and the plan's text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from batcher import register
from batcher.clock import iso_utc
from batcher.history import Caller, History
from batcher.journal import Journal, NumberState
from batcher.load import Sheet
from batcher.outcomes import Outcome
from batcher.plan.choose import Choice, choose
from batcher.plan.forecast import Forecast, Latency, forecast, plan_text, sheets_read
from batcher.plan.redial import Book
from batcher.plan.rows import Plan
from batcher.plan.suppress import Suppression, do_not_call
from batcher.settings import Settings


@dataclass(frozen=True)
class Round:
    """A decided round: what to send now, what is held and why, redials, the forecast."""

    name: str  # the campaign's name
    caller: Caller  # the campaign as the call history knows it
    states: dict[str, NumberState]  # the campaign's numbers with an outcome before the round
    choice: Choice  # todo, held, released (--allow-repeat), redials, waiting
    figures: Forecast
    text: str  # the plan as `batcher plan` prints it ("" when decided without a sheet)
    now: datetime  # the time the round was decided at

    @property
    def todo(self) -> list[str]:
        """The numbers to send now."""
        return self.choice.todo

    @property
    def held(self) -> dict[str, tuple[Outcome, str]]:
        """The numbers held back this round: callee -> (outcome, the sentence saying why)."""
        return self.choice.held


def decide(
    settings: Settings,
    plan: Plan,
    journal: Journal | None,
    history: History,
    *,
    name: str,
    journal_file: Path,
    sheet: Sheet | None = None,
    suppressed: Suppression | None = None,
) -> Round:
    """The round the campaign would send now, from its journal and the call history
    (`suppressed`: the do-not-call lists, when the caller read them already)."""
    caller = Caller("", name, str(journal_file.resolve()), settings.account.kind)
    states: dict[str, NumberState] = {}
    sticky: set[str] = set()
    book = None
    known = journal is not None and journal.campaign is not None
    if known:
        assert journal is not None and journal.campaign is not None
        register.note_opt_outs(journal, history, settings.opt_out_key)
    opted = {
        c: e.reason() for c, e in register.holding(history, plan.distinct, caller.endpoint).items()
    }
    if known:
        assert journal is not None and journal.campaign is not None
        states, sticky = journal.number_states(), journal.sticky()
        caller = replace(caller, campaign=journal.campaign.id)
        if settings.redial.active:
            book = Book.of(journal, settings, opted)
    if suppressed is None:
        suppressed = do_not_call(settings.suppress, settings.region, settings.suppress_unreadable)
    now = settings.now()
    holds = history.holds(set(plan.distinct), caller, settings.cooldown, now.timestamp())
    choice = choose(plan, states, sticky | suppressed.numbers, holds, settings, now, book, opted)
    figures = forecast(
        plan,
        choice,
        states,
        settings,
        latency(journal if known else None, settings, history),
        do_not_call=suppressed.lists,
        sheets=sheets_read(sheet) if sheet is not None else (),
    )
    text = (
        plan_text(sheet, plan, figures, settings, settings.account.shown, name)
        if sheet is not None
        else ""
    )
    return Round(name, caller, states, choice, figures, text, now)


def latency(journal: Journal | None, settings: Settings, history: History) -> float | None:
    """Mean seconds per request the campaign has measured, else the round trip `batcher check`
    measured to this endpoint (a Latency saying so), else None."""
    measured = [r.latency for r in journal.requests() if r.latency] if journal else []
    if measured:
        return sum(measured) / len(measured)
    checked = history.latency(settings.account.latency_key)
    return (
        Latency(checked[0], f"the round trip batcher check measured on {iso_utc(checked[1])[:10]}")
        if checked
        else None
    )
