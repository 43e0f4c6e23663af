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
from decimal import Decimal

from batcher.journal import Call, Journal, NumberState, Request, utc_now
from batcher.load import Sheet
from batcher.outcomes import CallOutcome, Outcome, call_outcome
from batcher.plan.rows import Plan
from batcher.plan.status import DUPLICATE, INVALID
from batcher.workbook.columns import (
    BATCH_SPECS,
    CALL_SPECS,
    CALL_SUMMARY_SPECS,
    RECORD_SPECS,
    RESULT_COLUMNS,
    RESULT_SPECS,
    SummaryBlock,
    Table,
    call_row,
    number_text,
    record_columns,
    record_cost,
    records_summary,
    rounds_summary,
    sized_columns,
    utc_datetime,
)
from batcher.workbook.xlsx import unsafe_columns, write_workbook_file

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
    calls: dict[str, list[Call]] = field(default_factory=dict)  # every attempt per number
    endpoint: str = ""  # where the journal's campaign sends ('sandbox' or a URL)
    opt_out_key: str = ""  # the keys its callees press(ed) to opt out, current first ("": none)

    @classmethod
    def of(cls, journal: Journal, not_sent_reason: str) -> CampaignState:
        """Read it from a journal: queries of its tables."""
        states, records = journal.number_states(), journal.call_records()
        return cls(
            states,
            journal.held(),
            journal.requests(),
            journal.events(),
            records,
            not_sent_reason,
            shown_calls(journal, states, records),
            journal.endpoint,
            journal.opt_out_keys,
        )

    @property
    def shows_calls(self) -> bool:
        """The workbook shows calls (columns, a Calls sheet): records exist, or redials."""
        return bool(self.records) or any(len(c) > 1 for c in self.calls.values())

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


def shown_calls(
    journal: Journal, states: dict[str, NumberState], records: dict[str, dict]
) -> dict[str, list[Call]]:
    """Every attempt per number, when the workbook may show them (records, or a number sent
    more than once); else none (a million numbers' attempts are not read for nothing)."""
    if records or journal.numbers_carried() > len(states):
        return journal.calls()
    return {}


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
    retried = {o for o in Outcome if o.retry}  # a set: a property call a row costs 0.2 s
    shows_calls = campaign.shows_calls
    calls = campaign.calls
    # the input's columns as lists: a row is a zip of them (itertuples walks numpy arrays,
    # a second a million rows slower)
    cells = sheet.frame.to_numpy(dtype=object).T.tolist()

    def rows() -> Iterator[list[object]]:
        for values, row, callee, status, reason, dup_of, used in zip(
            zip(*cells, strict=True),
            sheet.rows,
            plan.callee,
            plan.status,
            plan.reason,
            plan.duplicate_of,
            plan.phone_column,
            strict=True,
        ):
            column = used_names[-1 if used is None else used]
            if status == INVALID:
                outcome = Outcome.INVALID
                extra = [row, "", outcome, reason, *_BLANK, "", "", column]
            elif status == DUPLICATE:
                first = campaign.outcome(callee)[0]
                outcome = Outcome.DUPLICATE
                extra = [row, callee, outcome, f"{reason} ({first})", *_BLANK, dup_of, "", column]
            else:
                outcome, why, state = campaign.outcome(callee)
                why = f"{why}; {reason}" if why and reason else (why or reason)
                if state is None:
                    extra = [row, callee, outcome, why, *_BLANK, "", "", column]
                else:
                    extra = [
                        row,
                        callee,
                        outcome,
                        why,
                        state.voice_id,
                        state.termination_code,
                        state.termination_reason,
                        state.batch,
                        "",
                        state.sent_at,
                        column,
                    ]
            counts[outcome] += 1
            for phone_index in phone_indexes:
                phone = values[phone_index]
                if phone.__class__ is str:  # most cells: no isinstance of a union a row
                    continue
                if isinstance(phone, int | float) and not isinstance(phone, bool):
                    values = (*values[:phone_index], number_text(phone), *values[phone_index + 1 :])
            if outcome in retried:
                retry.append(values)
            if records:
                extra += record_columns(records.get(extra[4]) if extra[4] else None)
            if shows_calls:
                extra += _call_summary(
                    calls.get(callee) if callee else None, records, status == DUPLICATE
                )
            yield [*values, *extra]

    specs = sized_columns(
        input_columns,
        sheet.frame.itertuples(index=False, name=None),
        text=[input_columns[i] for i in phone_indexes],
    )
    columns = [
        *specs,
        *RESULT_SPECS,
        *(RECORD_SPECS if records else ()),
        *(CALL_SUMMARY_SPECS if shows_calls else ()),
    ]
    unsafe = unsafe_columns(cells)
    results = Table("Results", columns, rows(), "outcome", unsafe=unsafe)

    def summary() -> SummaryBlock:  # once every row is written
        block = _facts(facts, sheet, campaign)
        if records:
            accepted = sum(
                1 for s in campaign.states.values() if s.outcome is Outcome.ACCEPTED and s.voice_id
            )
            block += records_summary(records, accepted, campaign.opt_out_key)
        if shows_calls and any(len(c) > 1 for c in campaign.calls.values()):
            block += _rounds_facts(campaign)  # rounds once there are redials
        return SummaryBlock(counts, block)

    later = [
        Table("Batches", BATCH_SPECS, _batch_rows(campaign)),
        Table("Retry", specs, retry),
    ]
    if shows_calls:
        later.insert(0, Table("Calls", CALL_SPECS, _call_rows(plan, sheet.rows, campaign)))
    write_workbook_file(output, results, summary, later)
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
    facts = [
        *head,
        ("finished", utc_now()),
        ("requests sent", len(campaign.requests)),
        ("requests by endpoint", _by_endpoint(campaign)),
        ("Input", None),
        ("sheet", ", ".join(sheet.sheets)),
        ("header row", sheet.header_row or "none"),
        ("phone column", ", ".join(map(str, sheet.phone_columns))),
        ("region column", sheet.region_column or ""),
    ]
    if sheet.encoding:
        facts.append(("encoding", sheet.encoding))
        facts.append(("delimiter", {"\t": "tab"}.get(sheet.delimiter or "", sheet.delimiter or "")))
    if campaign.events:
        facts.append(("Events", None))
        facts.extend((f"{at} {kind}", detail) for at, kind, detail in campaign.events)
    return facts


def _by_endpoint(campaign: CampaignState) -> dict[str, int]:
    """How many requests went to each endpoint (batcher.campaign: the endpoint is the
    campaign's), as the Batches sheet names them."""
    return dict(Counter(_endpoint(r, campaign.endpoint) for r in campaign.requests))


def _endpoint(request: Request, recorded: str) -> str:
    """Where a request went, as the operator reads it (recorded: the journal's endpoint, for
    a request of an older batcher)."""
    endpoint = request.endpoint or recorded
    return "the embedded sandbox" if endpoint == "sandbox" else endpoint


def _batch_rows(campaign: CampaignState) -> Iterator[list[object]]:
    for r in campaign.requests:  # read when the writer reaches the sheet
        latency = r.latency
        outcome = r.outcome or ("answered" if r.results is not None else r.state)
        yield [
            r.id,
            r.batch,
            r.attempt,
            len(r.numbers),
            outcome,
            r.http_status,
            r.api_status,
            r.reason,
            round(latency * 1000) if isinstance(latency, float) else "",
            r.sent_at,
            r.finished_at,
            _endpoint(r, campaign.endpoint),
            r.tag,
        ]


def _call_summary(
    calls: list[Call] | None, records: dict[str, dict], duplicate: bool
) -> list[object]:
    """attempts, last_call (how the latest call with a record ended), answered_at."""
    if not calls or duplicate:
        return [None, None, None]
    last, answered_at = None, None
    for call in calls:
        record = records.get(call.voice_id)
        ended = call_outcome(record)
        if ended is not None:
            last = ended
            if ended is CallOutcome.ANSWERED and record is not None:
                answered_at = utc_datetime(record.get("answerTime"))
    return [len(calls), str(last) if last else "", answered_at]


def _call_rows(plan: Plan, rows: list[int], campaign: CampaignState) -> Iterator[list[object]]:
    """One row per call placed: the plan's numbers in row order, then any others."""
    records, calls = campaign.records, campaign.calls
    first_row: dict[str, int] = {}
    for callee, status, row in zip(plan.callee, plan.status, rows, strict=True):
        if callee and status != DUPLICATE and status != INVALID:
            first_row.setdefault(callee, row)
    order = [c for c in first_row if c in calls] + [c for c in calls if c not in first_row]
    for callee in order:
        for call in calls[callee]:
            record = records.get(call.voice_id) if call.voice_id else None
            ended = call_outcome(record)
            outcome = (
                str(ended)
                if ended
                else ("unknown" if call.outcome is Outcome.UNKNOWN else "no record yet")
            )
            yield call_row(
                first_row.get(callee, ""),
                callee,
                call.attempt,
                call.voice_id,
                call.sent_at,
                record,
                outcome,
            )


def _rounds_facts(campaign: CampaignState) -> list[tuple[str, object]]:
    """Per round (attempt N): numbers called, answered, cumulative answer rate; total cost."""
    records = campaign.records
    called: Counter[int] = Counter()
    answered: Counter[int] = Counter()
    cost = Decimal(0)
    for calls in campaign.calls.values():
        for call in calls:
            called[call.attempt] += 1
            record = records.get(call.voice_id) if call.voice_id else None
            cost += record_cost(record)
            if call_outcome(record) is CallOutcome.ANSWERED:
                answered[call.attempt] += 1
    rounds, so_far = [], 0
    for number in range(1, max(called, default=0) + 1):
        so_far += answered[number]
        rounds.append((called[number], answered[number], so_far))
    return rounds_summary(rounds, cost)
