"""The one vocabulary of what happened to a contact row.

Every module that records, chooses, counts or shows an outcome uses `Outcome`; no outcome is
typed as a string literal anywhere else.

    >>> Outcome.ACCEPTED.final
    True
    >>> Outcome.FAILED.resendable
    True
    >>> str(Outcome.NOT_SENT)
    'not_sent'

This module imports nothing else of batcher.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """A row's outcome, in the order the Summary lists them."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NOT_SENT = "not_sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    RECENTLY_CALLED = "recently_called"
    OPTED_OUT = "opted_out"

    @property
    def meaning(self) -> str:
        """One line for the Summary sheet and the README."""
        return _MEANINGS[self]

    @property
    def colours(self) -> tuple[str, str]:
        """(fill, font) for the Results sheet's conditional formatting."""
        return _COLOURS[self]

    @property
    def resendable(self) -> bool:
        """A number with this outcome in the journal may be sent by a later run: nothing was
        placed for it (a request refused whole, or never sent)."""
        return self in _RESENDABLE

    @property
    def retry(self) -> bool:
        """A row worth handing back on the Retry sheet: the same campaign would send it."""
        return self in _RETRY

    @property
    def final(self) -> bool:
        """The vendor took or refused the number: no run sends it again on its own."""
        return self in (Outcome.ACCEPTED, Outcome.REJECTED)


_RESENDABLE = frozenset({Outcome.FAILED, Outcome.NOT_SENT})
_RETRY = frozenset({Outcome.FAILED, Outcome.NOT_SENT, Outcome.DEFERRED})

_MEANINGS = {
    Outcome.ACCEPTED: "the vendor accepted the number: its phone was called",
    Outcome.REJECTED: "the vendor refused this number (see terminationReason)",
    Outcome.INVALID: "not a callable number: the reason says what to fix",
    Outcome.DUPLICATE: "same number as an earlier row, which is the one called",
    Outcome.FAILED: "the request was refused whole, nothing placed: the next run sends it again",
    Outcome.UNKNOWN: "the answer was lost, calls may have been placed: run batcher reconcile",
    Outcome.NOT_SENT: "not sent (dry run, --limit, or the run stopped): the next run sends it",
    Outcome.SUPPRESSED: "on the do-not-call list: never called",
    Outcome.DEFERRED: "outside the calling window in the callee's local time: the next run "
    "sends it",
    Outcome.RECENTLY_CALLED: "called by another campaign within the cooldown: held "
    "(--allow-repeat calls it again)",
    Outcome.OPTED_OUT: "on the account's do-not-call register: never called (batcher dnc "
    "remove calls it again)",
}

_RED, _AMBER, _GREY, _GREEN = (
    ("#FFC7CE", "#9C0006"),
    ("#FFEB9C", "#9C5700"),
    ("#EDEDED", "#595959"),
    ("#C6EFCE", "#006100"),
)
_COLOURS = {
    Outcome.ACCEPTED: _GREEN,
    Outcome.REJECTED: _RED,
    Outcome.FAILED: _RED,
    Outcome.UNKNOWN: _AMBER,
    Outcome.NOT_SENT: _AMBER,
    Outcome.DEFERRED: _AMBER,
    Outcome.INVALID: _GREY,
    Outcome.DUPLICATE: _GREY,
    Outcome.SUPPRESSED: _GREY,
    Outcome.RECENTLY_CALLED: _GREY,
    Outcome.OPTED_OUT: _GREY,
}


# -- how one call ended (from its vendor call record) ------------------------------------------


class CallOutcome(StrEnum):
    """How one placed call ended, read from its call record's SIP code (`call_outcome`).

    >>> call_outcome({"terminationCode": "486", "hangupTime": "x"})
    <CallOutcome.BUSY: 'busy'>
    >>> CallOutcome.DECLINED.final
    True
    """

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """No redial policy may call a number again after this."""
        return self in (CallOutcome.ANSWERED, CallOutcome.DECLINED, CallOutcome.UNREACHABLE)


# SIP termination code -> how the call ended; a code not here is `failed` (200 is answered only
# with an answer time: an established call nobody answered is not an answer)
SIP_OUTCOMES = {
    "486": CallOutcome.BUSY,
    "600": CallOutcome.BUSY,
    "408": CallOutcome.NO_ANSWER,
    "480": CallOutcome.NO_ANSWER,
    "487": CallOutcome.NO_ANSWER,
    "603": CallOutcome.DECLINED,
    "404": CallOutcome.UNREACHABLE,
    "410": CallOutcome.UNREACHABLE,
    "484": CallOutcome.UNREACHABLE,
    "604": CallOutcome.UNREACHABLE,
}


def call_outcome(record: dict | None) -> CallOutcome | None:
    """How a call ended, from its vendor record; None while the call is not over (no record
    yet, or one without its SIP code and hangup time): such a call is waited for."""
    if not record:
        return None
    code = str(record.get("terminationCode") or "").strip()
    if not code or not record.get("hangupTime"):
        return None
    if code == "200":
        return CallOutcome.ANSWERED if record.get("answerTime") else CallOutcome.FAILED
    return SIP_OUTCOMES.get(code, CallOutcome.FAILED)
