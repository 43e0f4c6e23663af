"""Plan: normalise every row, keep the first row of each number, cut the rest into batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from batcher.load import Sheet
from batcher.normalise import normalise_number, region_reason, resolve_region

INVALID, DUPLICATE, ELIGIBLE = "invalid", "duplicate", "eligible"


@dataclass(frozen=True)
class Plan:
    """Per input row (aligned with Sheet.frame): its callee, status and reason."""

    callee: list[str | None]
    status: list[str]
    reason: list[str]
    duplicate_of: list[int | None]  # source row number of the first occurrence
    number_region: list[str | None]
    distinct: list[str] = field(default_factory=list)  # eligible callees, first occurrence order

    @property
    def counts(self) -> Counter[str]:
        """How many rows are eligible, invalid and duplicate."""
        return Counter(self.status)

    def countries(self) -> Counter[str]:
        """Distinct eligible numbers per region."""
        first = {c: r for c, r, s in zip(self.callee, self.number_region, self.status,
                                          strict=True) if s == ELIGIBLE}
        return Counter(r or "?" for r in first.values())


def plan_rows(sheet: Sheet, default_region: str | None) -> Plan:
    """Normalise each row's phone cell and mark duplicates of an earlier row's number."""
    phones = sheet.frame[sheet.phone_column].tolist()
    if sheet.region_column is not None:
        regions = sheet.frame[sheet.region_column].tolist()
    else:
        regions = [None] * len(phones)
    callees: list[str | None] = []
    status: list[str] = []
    reasons: list[str] = []
    duplicate_of: list[int | None] = []
    number_region: list[str | None] = []
    first_row: dict[str, int] = {}
    region_cache: dict[tuple[type, object], str | None] = {}
    for value, region_cell, row in zip(phones, regions, sheet.rows, strict=True):
        region, bad_region = _row_region(region_cell, default_region, region_cache)
        if bad_region:
            result_callee, reason, found_region = None, bad_region, None
        else:
            result = normalise_number(value, region)
            result_callee, reason, found_region = result.callee, result.reason, result.region
        callees.append(result_callee)
        number_region.append(found_region)
        if result_callee is None:
            status.append(INVALID)
            reasons.append(reason)
            duplicate_of.append(None)
        elif result_callee in first_row:
            status.append(DUPLICATE)
            reasons.append(f"same number as row {first_row[result_callee]}")
            duplicate_of.append(first_row[result_callee])
        else:
            first_row[result_callee] = row
            status.append(ELIGIBLE)
            reasons.append("")
            duplicate_of.append(None)
    return Plan(callees, status, reasons, duplicate_of, number_region, list(first_row))


def _row_region(
    cell: object, default: str | None, cache: dict[tuple[type, object], str | None]
) -> tuple[str | None, str]:
    if cell is None or cell == "" or (isinstance(cell, float) and cell != cell):
        return default, ""
    key = (type(cell), cell)
    if key not in cache:
        cache[key] = resolve_region(cell)
    region = cache[key]
    if region is None:
        return None, region_reason(cell)
    return region, ""


def chunked(callees: Iterable[str], size: int) -> Iterator[list[str]]:
    """Cut callees into lists of at most `size`, in order."""
    iterator = iter(callees)
    while chunk := list(islice(iterator, size)):
        yield chunk
