"""The rules of normalisation that no engine swap touches: which kinds of number can take a
voice call, and what the reference engine (phonenumbers, whichever engine is selected) decides
for `batcher.plan.normalise`: emergency numbers and short codes, and the matcher that finds several
numbers in a cell of digits and spaces. Nothing here reads the engine `normalise.with_engine`
selects, so these live outside the module whose globals it rebinds.

Callable: fixed line, mobile, fixed-line-or-mobile, VoIP and personal numbers. Refused: premium
rate and shared cost (the caller pays extra), toll free (usually unreachable from abroad, where
the vendor originates calls), UAN, pager and voicemail access numbers, emergency numbers and
short codes, and numbers with an extension (an automated call cannot dial one).
"""

from __future__ import annotations

import re
from functools import lru_cache

from batcher.plan import phones
from batcher.plan.cells import SEVERAL, Normalised
from batcher.plan.phones import ParseErrorType, PhoneNumberType, shortnumberinfo

REFERENCE = phones.engine(phones.REFERENCE).lib  # short numbers, matcher: phonenumbers only
_NON_DIGIT = re.compile(r"\D")

CALLABLE_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate number (the call would be charged extra)",
    PhoneNumberType.SHARED_COST: "shared-cost number (the call would be charged extra)",
    PhoneNumberType.TOLL_FREE: "toll-free number (usually unreachable from abroad)",
    PhoneNumberType.UAN: "universal access number (a company switchboard)",
    PhoneNumberType.PAGER: "pager number (cannot play a voice message)",
    PhoneNumberType.VOICEMAIL: "voicemail access number",
}
_SHORT_REGIONS = sorted(shortnumberinfo.SUPPORTED_SHORT_REGIONS)


def several_by_matcher(text: str, digits: str, region: str | None) -> list[str] | Normalised:
    """Numbers separated by spaces only ("9856321412 9856321413"): phonenumbers finds them.

    The reference engine's matcher, whatever the engine: rphonenumbers 0.1.0's misses some
    valid numbers (Argentina's "800 123 4567"). [] when it finds fewer than two; refused when
    digits are left over between the numbers it finds.
    """
    found = [
        match.raw_string
        for match in REFERENCE.PhoneNumberMatcher(text, region or phones.UNKNOWN_REGION)
    ]
    if len(found) < 2:
        return []
    if sum(len(_NON_DIGIT.sub("", piece)) for piece in found) != len(digits):
        return SEVERAL
    return found


@lru_cache(maxsize=4096)
def emergency_somewhere(digits: str) -> bool:
    """Whether some region dials these digits for an emergency: about 2 ms of phonenumbers'
    checks over every region, so remembered (such cells repeat: 0, 1234, 112)."""
    return any(shortnumberinfo.is_emergency_number(digits, r) for r in _SHORT_REGIONS)


def is_short_code(digits: str, region: str) -> bool:
    """Whether the digits are a short code of the region (the reference engine's answer)."""
    try:
        number = REFERENCE.parse(digits, region)
    except ParseErrorType:  # the reference's NumberParseException
        return False
    return shortnumberinfo.is_valid_short_number_for_region(number, region)
