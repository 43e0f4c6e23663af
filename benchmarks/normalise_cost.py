"""CPU per phone cell, per phone engine: the library alone, and batcher's whole normalisation.

    python benchmarks/normalise_cost.py benchmarks/data/contacts-100000-seed1.xlsx --cells 20000

Takes the first distinct (cell, region) pairs of a generated workbook and times, for each engine
(rust: rphonenumbers, python: phonenumbers), its parse + is_valid_number alone (the least any
tool using that library must do) and batcher.plan.normalise.normalise_many under that engine (the
same plus batcher's checks and reasons), twice each, on one core. Prints one JSON line of
microseconds per cell. Multiply by the distinct cells of a sheet and divide by the cores to see
what normalising costs at least.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

from batcher.load import load_sheet
from batcher.plan import phones
from batcher.plan.normalise import _normalise_cached, normalise_many, with_engine
from batcher.settings import LoadOptions


def pairs_of(path: Path, cells: int) -> list[tuple[object, str, bool]]:
    """The first `cells` distinct (value, region, explicit) pairs, as the plan makes them."""
    sheet = load_sheet(path, LoadOptions())
    phones = sheet.frame[sheet.phone_column].tolist()
    regions = sheet.frame[sheet.region_column].tolist()
    pairs = dict.fromkeys(
        (value, region or "IN", bool(region))
        for value, region in zip(phones, regions, strict=True)
        if value is not None and value == value  # NaN != NaN
    )
    return list(pairs)[:cells]


def library_only(pairs: list[tuple[object, str, bool]], engine: str) -> None:
    lib = phones.engine(engine).lib
    for value, region, _ in pairs:
        text = value if isinstance(value, str) else str(int(value))
        with contextlib.suppress(lib.NumberParseException):
            lib.is_valid_number(lib.parse(text, region))


def batcher_normalise(pairs: list[tuple[object, str, bool]], engine: str) -> None:
    with with_engine(engine):
        _normalise_cached.cache_clear()  # every cell is new, as in a fresh run
        normalise_many(pairs)


def main() -> None:
    """Command line: WORKBOOK [--cells N]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--cells", type=int, default=20_000)
    args = parser.parse_args()
    pairs = pairs_of(args.workbook, args.cells)
    figures: dict[str, object] = {"cells": len(pairs), **phones.engine_info()}
    for engine in phones.ENGINES:
        for _ in range(2):  # the second round is the one reported: caches and imports warm
            for name, work in (
                (f"{engine}_library_us", library_only),
                (f"{engine}_batcher_us", batcher_normalise),
            ):
                started = time.process_time()
                work(pairs, engine)
                figures[name] = round((time.process_time() - started) / len(pairs) * 1e6, 1)
    figures.pop("note")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
