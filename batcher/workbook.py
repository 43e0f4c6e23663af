"""The results workbook's rows: input rows joined with the campaign's full state.

One function, `write_workbook`, builds it whatever asks for it (a run, a dry run, `results`,
`reconcile`, `records`): each row's outcome is what the campaign decided for its number —
its journal state, else what the campaign holds back (suppressed, recently called, deferred,
beyond --limit), else not sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from batcher.journal import Journal, NumberState, Request, utc_now
from batcher.load import Sheet
from batcher.outcomes import Outcome
from batcher.plan import DUPLICATE, INVALID, Plan
from batcher.results import (
    BATCH_SPECS,
    RECORD_SPECS,
    RESULT_COLUMNS,
    RESULT_SPECS,
    SummaryBlock,
    Table,
    number_text,
    record_columns,
    records_summary,
    sized_columns,
    unsafe_columns,
    write_workbook_file,
)

_BLANK = ("", "", "", "")


@dataclass(frozen=True)
class CampaignState:
    """Everything the campaign knows, as the workbook needs it."""

    states: dict[str, NumberState]
    held: dict[str, tuple[Outcome, str]]
    requests: list[Request] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    records: dict[str, dict] = field(default_factory=dict)
    not_sent_reason: str = "not sent"

    @classmethod
    def of(cls, journal: Journal, not_sent_reason: str) -> CampaignState:
        """Read it from a journal."""
        return cls(journal.number_states(), journal.held(), journal.requests(),
                   journal.events(), journal.call_records(), not_sent_reason)

    @classmethod
    def empty(cls, not_sent_reason: str) -> CampaignState:
        """A campaign that has done nothing yet."""
        return cls({}, {}, not_sent_reason=not_sent_reason)

    def outcome(self, callee: str) -> tuple[Outcome, str, NumberState | None]:
        """What the campaign decided for one number: (outcome, reason, its journal state)."""
        state = self.states.get(callee)
        if state is not None and not state.outcome.resendable:
            return state.outcome, state.reason, state
        held = self.held.get(callee)
        if held is not None:
            return held[0], held[1], None
        if state is not None:
            return state.outcome, state.reason, state
        return Outcome.NOT_SENT, self.not_sent_reason, None


def write_workbook(
    output,
    sheet: Sheet,
    plan: Plan,
    campaign: CampaignState,
    facts: list[tuple[str, object]],
) -> Counter[str]:
    """Join input rows, plan and the campaign's state into the workbook; counts per outcome."""
    counts: Counter[str] = Counter()
    input_columns = _input_columns(sheet)
    records = campaign.records
    names = list(sheet.frame.columns)
    phone_indexes = [names.index(c) for c in sheet.phone_columns]
    used_names = [*map(str, sheet.phone_columns), ""]  # plan.phone_column None: the last
    retry: list[tuple] = []

    def rows() -> Iterator[list[object]]:
        for values, row, callee, status, reason, dup_of, used in zip(
            sheet.frame.itertuples(index=False, name=None), sheet.rows, plan.callee,
            plan.status, plan.reason, plan.duplicate_of, plan.phone_column, strict=True,
        ):
            column = used_names[-1 if used is None else used]
            if status == INVALID:
                outcome = Outcome.INVALID
                extra = [row, "", outcome, reason, *_BLANK, "", "", column]
            elif status == DUPLICATE:
                first = campaign.outcome(callee)[0]
                outcome = Outcome.DUPLICATE
                extra = [row, callee, outcome, f"{reason} ({first})", *_BLANK, dup_of, "",
                         column]
            else:
                outcome, why, state = campaign.outcome(callee)
                why = f"{why}; {reason}" if why and reason else (why or reason)
                if state is None:
                    extra = [row, callee, outcome, why, *_BLANK, "", "", column]
                else:
                    extra = [row, callee, outcome, why, state.voice_id, state.termination_code,
                             state.termination_reason, state.batch, "", state.sent_at, column]
            counts[outcome] += 1
            for phone_index in phone_indexes:
                phone = values[phone_index]
                if isinstance(phone, int | float) and not isinstance(phone, bool):
                    values = (*values[:phone_index], number_text(phone),
                              *values[phone_index + 1:])
            if outcome.retry:
                retry.append(values)
            if records:
                extra += record_columns(records.get(extra[4]) if extra[4] else None)
            yield [*values, *extra]

    specs = sized_columns(input_columns, sheet.frame.itertuples(index=False, name=None),
                          text=[input_columns[i] for i in phone_indexes])
    columns = [*specs, *RESULT_SPECS, *(RECORD_SPECS if records else ())]
    unsafe = unsafe_columns(sheet.frame[c].tolist() for c in sheet.frame.columns)
    results = Table("Results", columns, rows(), "outcome", unsafe=unsafe)
    facts = _facts(facts, sheet, campaign)
    if records:
        accepted = sum(1 for s in campaign.states.values()
                       if s.outcome is Outcome.ACCEPTED and s.voice_id)
        facts += records_summary(records, accepted)
    later = [
        Table("Batches", BATCH_SPECS, _batch_rows(campaign.requests)),
        Table("Retry", specs, retry),
    ]
    write_workbook_file(output, results, SummaryBlock(counts, facts), later)
    return counts


def _input_columns(sheet: Sheet) -> list[str]:
    """The input's column names, renamed only where they clash with a results column."""
    names: list[str] = []
    for column in map(str, sheet.frame.columns):
        while column in RESULT_COLUMNS or column in names:
            column = f"{column} (input)"
        names.append(column)
    return names


def _facts(head, sheet: Sheet, campaign: CampaignState) -> list[tuple[str, object]]:
    facts = [*head, ("finished", utc_now()), ("requests sent", len(campaign.requests)),
             ("Input", None), ("sheet", sheet.sheet_name or ""),
             ("header row", sheet.header_row or "none"),
             ("phone column", ", ".join(map(str, sheet.phone_columns))),
             ("region column", sheet.region_column or "")]
    if sheet.encoding:
        facts.append(("encoding", sheet.encoding))
        facts.append(("delimiter", {"\t": "tab"}.get(sheet.delimiter or "",
                                                     sheet.delimiter or "")))
    if campaign.events:
        facts.append(("Events", None))
        facts.extend((f"{at} {kind}", detail) for at, kind, detail in campaign.events)
    return facts


def _batch_rows(requests: list[Request]) -> Iterator[list[object]]:
    for r in requests:
        latency = r.latency
        outcome = r.outcome or ("answered" if r.results is not None else r.state)
        yield [
            r.id, r.batch, r.attempt, len(r.numbers), outcome, r.http_status, r.api_status,
            r.reason, round(latency * 1000) if isinstance(latency, float) else "",
            r.sent_at, r.finished_at, r.tag,
        ]
