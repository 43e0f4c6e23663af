"""Generate a realistic contacts workbook of any size for the benchmarks.

    python benchmarks/generate.py 1048575 benchmarks/data/contacts-1048575.xlsx --seed 1

One sheet "Contacts" with the columns Name, Mobile, Country, City, Notes (like
samples/contacts.xlsx). The Mobile column mixes what real sheets hold: E.164 text, international
with spaces or dashes, national with a trunk prefix (the Country column then says where),
00-prefixed, numbers stored as Excel numbers (with or without the country code), brackets.
About 10% of the rows repeat an earlier number (sometimes in another format) and about 3% are
junk (placeholders, too short, scientific notation, letters, empty). About half the numbers are
Indian; the rest come from CN, US, ID, BR, GB, NG, DE, PH and MX.

Every number that is not junk is one phonenumbers deems a valid mobile: a national number is a
mobile prefix learned from phonenumbers plus random trailing digits. The same --seed gives the
same cells. Rows are made in a second process while this one streams them to disk with
rustpy-xlsxwriter (batcher's own writer library, constant memory): XlsxWriter needs ~60 us of
CPU a row on the benchmark machine, over a minute for a full sheet, where this takes ~20 us.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from queue import Empty

import phonenumbers
import rustpy_xlsxwriter as rx
from phonenumbers import PhoneNumberFormat, PhoneNumberType

MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header
HEADER = ("Name", "Mobile", "Country", "City", "Notes")
DUPLICATE_RATE = 0.10
JUNK_RATE = 0.03
SUFFIX_DIGITS = 4  # digits drawn at random after a learned prefix
PREFIXES_PER_HALF = 1500  # prefixes of a region holding half the numbers: few collisions at 1M
MIN_PREFIXES = 100
MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
CHUNK_ROWS = 10_000  # rows per message from the maker process to the writer

# (region, share of the numbers, cities, first names, last names)
REGIONS = (
    (
        "IN",
        0.50,
        ("Mumbai", "Delhi", "Bengaluru", "Chennai", "Pune", "Kolkata", "Jaipur"),
        ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Kabir", "Isha", "Arjun", "Meera"),
        ("Sharma", "Patel", "Gupta", "Iyer", "Singh", "Reddy", "Mehta", "Nair", "Das", "Joshi"),
    ),
    (
        "CN",
        0.10,
        ("Beijing", "Shanghai", "Shenzhen", "Chengdu", "Wuhan"),
        ("Wei", "Fang", "Lei", "Jing", "Hao", "Min"),
        ("Wang", "Li", "Zhang", "Liu", "Chen"),
    ),
    (
        "US",
        0.08,
        ("New York", "Chicago", "Houston", "Phoenix", "Seattle"),
        ("James", "Mary", "Robert", "Linda", "Michael"),
        ("Smith", "Johnson", "Brown", "Davis"),
    ),
    (
        "ID",
        0.07,
        ("Jakarta", "Surabaya", "Bandung", "Medan"),
        ("Budi", "Siti", "Agus", "Dewi", "Eko"),
        ("Santoso", "Wijaya", "Kusuma", "Hidayat"),
    ),
    (
        "BR",
        0.06,
        ("São Paulo", "Rio de Janeiro", "Brasília", "Salvador"),
        ("João", "Maria", "Pedro", "Ana", "Lucas"),
        ("Silva", "Santos", "Oliveira", "Souza"),
    ),
    (
        "GB",
        0.06,
        ("London", "Leeds", "Bristol", "Manchester", "Glasgow"),
        ("Oliver", "Amelia", "Harry", "Isla", "George"),
        ("Smith", "Jones", "Brown", "Taylor"),
    ),
    (
        "NG",
        0.05,
        ("Lagos", "Abuja", "Kano", "Ibadan"),
        ("Chinedu", "Ngozi", "Emeka", "Aisha", "Tunde"),
        ("Okafor", "Adeyemi", "Bello", "Eze"),
    ),
    (
        "DE",
        0.04,
        ("Berlin", "Hamburg", "München", "Köln"),
        ("Lukas", "Mia", "Leon", "Emma", "Paul"),
        ("Müller", "Schmidt", "Schneider", "Fischer"),
    ),
    (
        "PH",
        0.02,
        ("Manila", "Cebu", "Davao"),
        ("Jose", "Maria", "Juan", "Ana"),
        ("Santos", "Reyes", "Cruz", "Bautista"),
    ),
    (
        "MX",
        0.02,
        ("Ciudad de México", "Guadalajara", "Monterrey"),
        ("José", "Guadalupe", "Luis", "Sofía"),
        ("Hernández", "García", "Martínez", "López"),
    ),
)
DEFAULT_REGION = "IN"  # the benchmark runs with --region IN: blank Indian cells rely on it

# How a valid number is typed into the sheet, and how often.
FORMATS = (
    ("e164", 0.22),  # "+919856321412"
    ("international", 0.15),  # "+91 98563 21412"
    ("national", 0.18),  # "098563 21412" + Country column
    ("idd00", 0.05),  # "0091 98563 21412"
    ("excel_int", 0.15),  # 919856321412 stored as a number
    ("excel_national", 0.05),  # 9856321412 stored as a number + Country column
    ("dashes", 0.08),  # "+91-98563-21412"
    ("brackets", 0.04),  # "(+91) 98563-21412"
    ("digits_text", 0.08),  # "919856321412" as text: Excel dropped the +
)
NEEDS_REGION = frozenset({"national", "excel_national"})
JUNK = (
    None,
    None,
    "n/a",
    "N/A",
    "-",
    "not available",
    "#N/A",
    "12345",
    "98563",
    "9.18563E+11",
    "9.19856E+11",
    "call after 6pm",
    "98563 2141O",
    "+91 98563 ABCDE",
    "+91 98563 21412 999",
    "0000000000",
    "?",
)
NOTES = (
    "VIP",
    "call after 6pm",
    "existing customer",
    "lead from expo",
    "prefers Hindi",
    "do not call on Sunday",
    "referred by a friend",
    "moved city",
    "second number",
)
NOTE_RATE = 0.25


@dataclass(frozen=True)
class Region:
    """What the maker needs to draw and type numbers of one region."""

    code: str
    country_code: int
    length: int  # national significant number length of its mobiles
    prefixes: tuple[str, ...]  # learned valid mobile prefixes of length - SUFFIX_DIGITS
    cities: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def learn_region(code: str, share: float, rng: random.Random, cities, firsts, lasts) -> Region:
    """Draw random national numbers and keep the prefixes of those phonenumbers calls mobiles.

    A prefix is kept only when its lowest and highest completions are mobiles too: mobile
    patterns constrain the leading digits, so every completion in between is then valid (the
    tests check a sample with phonenumbers.is_valid_number).
    """
    example = phonenumbers.example_number_for_type(code, PhoneNumberType.MOBILE)
    length = len(phonenumbers.national_significant_number(example))
    country_code = example.country_code
    wanted = max(MIN_PREFIXES, round(PREFIXES_PER_HALF * share / 0.5))
    prefixes: set[str] = set()
    for _ in range(400_000):
        if len(prefixes) >= wanted:
            break
        prefix = str(rng.randrange(10 ** (length - 1), 10**length))[: length - SUFFIX_DIGITS]
        if prefix not in prefixes and all(
            _is_mobile(country_code, prefix + end * SUFFIX_DIGITS) for end in "095"
        ):
            prefixes.add(prefix)
    if not prefixes:
        raise RuntimeError(f"no valid {code} mobile found: phonenumbers metadata changed?")
    return Region(code, country_code, length, tuple(sorted(prefixes)), cities, firsts, lasts)


def _is_mobile(country_code: int, nsn: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(nsn))
    return phonenumbers.number_type(number) in MOBILE_TYPES


class NumberMaker:
    """Draws fresh valid numbers and types them in the sheet's many formats."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.regions = [learn_region(code, share, self.rng, *x) for code, share, *x in REGIONS]
        self.region_weights = list(accumulate(share for _, share, *_ in REGIONS))
        self.format_names = [name for name, _ in FORMATS]
        self.format_weights = list(accumulate(share for _, share in FORMATS))
        self.seen: set[tuple[int, str]] = set()
        self._templates: dict[tuple[str, str, int], tuple[str, tuple[int, ...]]] = {}

    def fresh(self) -> tuple[Region, str]:
        """A valid number never drawn before: its region and national significant number."""
        rng = self.rng
        while True:
            region = rng.choices(self.regions, cum_weights=self.region_weights)[0]
            suffix = str(rng.randrange(10**SUFFIX_DIGITS)).zfill(SUFFIX_DIGITS)
            nsn = rng.choice(region.prefixes) + suffix
            key = (region.country_code, nsn)
            if key not in self.seen:
                self.seen.add(key)
                return region, nsn

    def pick_format(self) -> str:
        """A format name drawn with the FORMATS shares."""
        return self.rng.choices(self.format_names, cum_weights=self.format_weights)[0]

    def typed(self, region: Region, nsn: str, style: str) -> str | int:
        """The number as a person or an export would have typed it in that style."""
        cc = region.country_code
        if style == "e164":
            return f"+{cc}{nsn}"
        if style == "excel_int":
            return int(f"{cc}{nsn}")
        if style == "excel_national":
            return int(nsn)
        if style == "digits_text":
            return f"{cc}{nsn}"
        international = self._format(region, nsn, PhoneNumberFormat.INTERNATIONAL)
        if style == "international":
            return international
        if style == "national":
            return self._format(region, nsn, PhoneNumberFormat.NATIONAL)
        if style == "idd00":
            return "00" + international[1:]
        if style == "dashes":
            return international.replace(" ", "-")
        rest = international[len(str(cc)) + 2 :]
        return f"(+{cc}) " + rest.replace(" ", "-")  # brackets

    def _format(self, region: Region, nsn: str, style: int) -> str:
        # phonenumbers picks a layout from the leading digits and the length only, so the
        # layout of one number of a prefix is reused for all of them (30 us -> 2 us a number).
        prefix = nsn[: region.length - SUFFIX_DIGITS]
        key = (region.code, prefix, style)
        template = self._templates.get(key)
        if template is None:
            number = phonenumbers.PhoneNumber(
                country_code=region.country_code, national_number=int(nsn)
            )
            text = phonenumbers.format_number(number, style)
            digits = [i for i, ch in enumerate(text) if ch.isdigit()][-len(nsn) :]
            template = self._templates[key] = (text, tuple(digits))
        text, positions = template
        chars = list(text)
        for position, digit in zip(positions, nsn, strict=True):
            chars[position] = digit
        return "".join(chars)


def make_rows(rows: int, seed: int) -> Iterator[tuple[object, ...]]:
    """The data rows (no header): name, phone cell, region cell, city, note."""
    maker = NumberMaker(seed)
    rng = maker.rng
    earlier: list[tuple[Region, str, str, str]] = []  # region, nsn, style, name
    for _ in range(rows):
        roll = rng.random()
        if roll < JUNK_RATE:
            region = rng.choices(maker.regions, cum_weights=maker.region_weights)[0]
            phone = rng.choice(JUNK)
            name = f"{rng.choice(region.first_names)} {rng.choice(region.last_names)}"
            yield (
                name,
                phone,
                _region_cell(rng, region.code, "junk"),
                rng.choice(region.cities),
                _note(rng),
            )
            continue
        if roll < JUNK_RATE + DUPLICATE_RATE and earlier:
            region, nsn, style, name = earlier[rng.randrange(len(earlier))]
            if rng.random() < 0.5:
                style = maker.pick_format()
        else:
            region, nsn = maker.fresh()
            style = maker.pick_format()
            name = f"{rng.choice(region.first_names)} {rng.choice(region.last_names)}"
            earlier.append((region, nsn, style, name))
        yield (
            name,
            maker.typed(region, nsn, style),
            _region_cell(rng, region.code, style),
            rng.choice(region.cities),
            _note(rng),
        )


def _note(rng: random.Random) -> str | None:
    return rng.choice(NOTES) if rng.random() < NOTE_RATE else None


def _region_cell(rng: random.Random, code: str, style: str) -> str | None:
    # National numbers need their region; blank Indian ones rely on --region IN.
    if style in NEEDS_REGION and code != DEFAULT_REGION:
        return code
    return None if rng.random() < 0.2 else code


def _produce(rows: int, seed: int, queue) -> None:
    chunk: list[tuple[object, ...]] = []
    for row in make_rows(rows, seed):
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            queue.put(chunk)
            chunk = []
    queue.put(chunk)
    queue.put(None)


def _chunks_from_process(rows: int, seed: int) -> Iterator[list[tuple[object, ...]]]:
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    queue = context.Queue(maxsize=8)
    maker = context.Process(target=_produce, args=(rows, seed, queue), daemon=True)
    maker.start()
    try:
        while True:
            try:
                chunk = queue.get(timeout=1)
            except Empty:
                if maker.is_alive():
                    continue
                raise RuntimeError(
                    f"the row maker process died (exit code {maker.exitcode})"
                ) from None
            if chunk is None:
                break
            yield chunk
    finally:
        maker.join(timeout=5)
        if maker.is_alive():
            maker.terminate()
    if maker.exitcode:
        raise RuntimeError(f"the row maker process failed with exit code {maker.exitcode}")


def write_contacts(path: Path, rows: int, seed: int = 1, shared_strings: bool = False) -> Path:
    """Write the workbook to path (a temporary name first, renamed when complete)."""
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be 1-{MAX_ROWS} (one sheet), not {rows}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.xlsx")
    records = (
        dict(zip(HEADER, row, strict=True))
        for chunk in _chunks_from_process(rows, seed)
        for row in chunk
    )
    # Strings are always text cells; None is a blank cell. dedupe_strings writes the shared
    # string table Excel writes, at the cost of holding the sheet in memory.
    rx.write_worksheet(records, str(partial), sheet_name="Contacts", dedupe_strings=shared_strings)
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: ROWS OUT.xlsx [--seed N]."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python benchmarks/generate.py 100000 "
        "benchmarks/data/contacts-100000.xlsx --seed 1",
    )
    parser.add_argument("rows", type=int, help=f"data rows, 1-{MAX_ROWS}")
    parser.add_argument("out", type=Path, help="workbook to write (.xlsx)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--shared-strings",
        action="store_true",
        help="store text in a shared string table, as Excel does (default: inline strings, "
        "as XlsxWriter's constant_memory mode does)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= MAX_ROWS:
        parser.error(f"ROWS must be 1-{MAX_ROWS} (one sheet)")
    started = time.perf_counter()
    write_contacts(args.out, args.rows, args.seed, args.shared_strings)
    elapsed = time.perf_counter() - started
    size = args.out.stat().st_size / 1e6
    print(f"generated {args.rows} rows in {elapsed:.1f} s: {args.out} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
