"""Was this number called, when, by which campaign: the call history and the folder's journals.

    found = look_up("020 7946 0018", "GB", history_file, journals)
    found.callee                 # "442079460018"
    [(c.at, c.campaign, c.outcome) for c in found.calls]   # [] : never called

The owner's text is read by the campaign's normaliser (batcher.plan.normalise) with the
folder's region; a text that is no callable number is a NotANumber with the normaliser's
reason. The call history (batcher.history) knows every campaign's reservations, whatever
folder or journal they ran from; the served folder's journals add what came of each request
(its outcome, a settlement) and the operator's test calls, marked as such. A request of a
journal and its reservation in the history are one call (the request's intent names it). The
answer also says whether the account's do-not-call register holds the number, and why.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from batcher import register
from batcher.clock import iso_utc
from batcher.errors import JournalError, UsageError
from batcher.history import History
from batcher.journal import Journal
from batcher.plan import phones
from batcher.plan.normalise import normalise_number
from batcher.plan.regions import resolve_region
from batcher.settings import HistoryLocation

HISTORY, JOURNAL, TEST = "history", "journal", "test"
LONGEST = 64  # characters of a searched text: far more than any number written with spaces


def shown_number(callee: str) -> str:
    """A callee as people write it: 442079460018 -> +44 20 7946 0018 (else +digits)."""
    try:
        parsed = phones.lib.parse(f"+{callee}", None)
        if phones.lib.is_valid_number(parsed):
            return str(phones.lib.format_number(parsed, phones.PhoneNumberFormat.INTERNATIONAL))
    except Exception:  # either engine's parse error: shown as digits
        pass
    return f"+{callee}"


def shown_time(iso: str) -> str:
    """A journal's time as people read it: 2026-12-05T19:57:50Z -> 2026-12-05 19:57 UTC."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, AttributeError):
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class NotANumber(UsageError):
    """The owner's text is no number batcher would call (`reason`: the normaliser's why)."""

    def __init__(self, message: str, hint: str, reason: str = "") -> None:
        super().__init__(message, hint)
        self.reason = reason or message


@dataclass(frozen=True)
class Found:
    """One call (or reservation) of the number."""

    at: str  # ISO-8601 UTC
    campaign: str
    journal: str
    outcome: str  # an Outcome; "reserved" for a history row no journal here explains
    reason: str
    source: str  # HISTORY, JOURNAL or TEST (a test call)
    endpoint: str = ""  # the history's endpoint kind (sandbox, loopback, vendor), if known

    def as_json(self) -> dict[str, str]:
        """The call for the JSON API."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class LookUp:
    """The answer: the number as batcher calls it, and every call of it, oldest first."""

    query: str
    callee: str
    calls: list[Found]
    listed: list[register.Entry] = field(default_factory=list)  # on the register: why

    def as_json(self) -> dict[str, object]:
        """The answer for the JSON API."""
        return {
            "query": self.query,
            "callee": self.callee,
            "called": bool(self.calls),
            "calls": [c.as_json() for c in self.calls],
            "on_register": bool(self.listed),
            "register": [_listed_json(e) for e in self.listed],
        }


def _listed_json(entry: register.Entry) -> dict[str, str]:
    return {
        "why": entry.why,
        "at": iso_utc(entry.at),
        "campaign": entry.campaign,
        "journal": entry.journal,
        "voice_id": entry.voice_id,
        "endpoint": entry.endpoint,
        "by": entry.by,
    }


RESERVED = "reserved"
PLACED_NOTHING = "placed_nothing"


class NotARegion(NotANumber):
    """The region given with the number is none batcher knows."""


def region_of(text: str) -> str | None:
    """The searched number's region, given as a code, a name or a calling code ("gb", "India",
    "+44"): its ISO code; None when none is given; NotARegion when it is none batcher knows
    (it would otherwise be ignored without a word)."""
    if not text:
        return None
    known = resolve_region(text)
    if known is None:
        raise NotARegion(
            f"{shown_text(text)!r} is not a region batcher knows",
            "give the region's two-letter code, e.g. GB or IN, or leave it empty",
            "unknown region: give its two-letter code, e.g. GB or IN, or leave it empty",
        )
    return known


def shown_path(path: Path | str) -> str:
    """A folder or journal as its owner knows it: ~/my-campaigns/spring.journal under the
    home folder, else the whole path (for the page; the JSON API keeps the whole path)."""
    whole = Path(path).resolve()
    try:
        return str(Path("~") / whole.relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError):  # outside the home folder, or no home
        return str(whole)


def shown_text(text: str) -> str:
    """The owner's text as the page may echo it: invisible control and direction characters
    (NUL, U+202E, ...) as U+FFFD, and cut to LONGEST characters."""
    cleaned = "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    return cleaned if len(cleaned) <= LONGEST else cleaned[:LONGEST] + "…"


def _refuse_odd(text: str) -> None:
    """A text too long for a number, or holding invisible characters, is refused before it is
    read: the normaliser would drop what cannot be seen, and the owner's search is exact."""
    if len(text) > LONGEST:
        raise NotANumber(
            f"the text is {len(text):,} characters long: no phone number is",
            "type the number as a campaign would have it, e.g. +44 20 7946 0018",
            f"longer than any phone number ({len(text):,} characters)",
        )
    odd = next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf")), None)
    if odd is not None:
        code = f"U+{ord(odd):04X}"
        raise NotANumber(
            f"the text holds an invisible character ({code})",
            "type the number again rather than pasting it",
            f"holds an invisible character ({code}): type the number again",
        )


def look_up(
    text: str,
    region: str | None,
    history: HistoryLocation | Path,
    journals: Iterable[tuple[str, Path]],
) -> LookUp:
    """Every call of the number `text` (read with `region`) that the call history and the
    journals (campaign name, journal) know of; NotANumber when it is none."""
    _refuse_odd(text.strip())
    read = normalise_number(text.strip(), region)
    if read.callee is None:
        raise NotANumber(
            f"{shown_text(text.strip())!r} is not a number batcher would call: {read.reason}",
            "type the number as a campaign would have it, e.g. +44 20 7946 0018 (with its "
            "country code, or choose the region)",
            read.reason,
        )
    callee = read.callee
    found: list[Found] = []
    intents: set[str] = set()
    for name, path in journals:
        for call in _in_journal(name, path, callee):
            found.append(call[0])
            intents.add(call[1])
    with History(history, create=False) as opened:
        reservations = opened.reservations_of(callee)
        listed = register.standing(opened, callee)
    for r in reservations:
        if r.intent in intents:
            continue  # the journal's own row says more: its outcome
        found.append(
            Found(
                iso_utc(r.at),
                r.name,
                r.journal,
                RESERVED if r.placed else PLACED_NOTHING,
                "",
                HISTORY,
                r.endpoint,
            )
        )
    found.sort(key=lambda c: c.at)
    return LookUp(text.strip(), callee, found, listed)


def _in_journal(name: str, path: Path, callee: str) -> list[tuple[Found, str]]:
    """The number's rows in one journal (its requests and test calls), with their intents."""
    if not path.is_file():
        return []
    try:
        opened = Journal(path, readonly=True)
    except JournalError:
        return []  # being created, or no journal: the history still answers
    rows: list[tuple[Found, str]] = []
    with contextlib.closing(opened):
        if opened.campaign is None:
            return []
        for _, sent_at, outcome, reason, intent in opened.rows_of(callee):
            rows.append((Found(sent_at, name, str(path), outcome, reason, JOURNAL), intent))
        for test in opened.test_calls():
            if test.callee == callee:
                rows.append((Found(test.at, name, str(path), test.outcome, test.reason, TEST), ""))
    return rows
