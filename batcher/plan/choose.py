"""Choosing what to send now: the campaign's rules applied to a plan's distinct numbers. A
number with an outcome keeps it unless the redial policy makes it due again; then the
account's do-not-call register (opted_out), the do-not-call list, the call history's cooldown
(unless --allow-repeat), the calling window and --limit each hold back what is left, with the
outcome and the sentence the results show. The answer is a `Choice`: what to send, what is
held and why, what the operator released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from batcher.history import Hold
from batcher.journal import NumberState
from batcher.outcomes import Outcome
from batcher.plan.redial import DONE, SETTLE, Book, Ruling
from batcher.plan.window import outside_window
from batcher.settings import Settings

if TYPE_CHECKING:  # batcher.plan imports this module
    from batcher.plan.rows import Plan


@dataclass(frozen=True)
class Choice:
    """What a run sends now, what it holds back and why, and what the operator released."""

    todo: list[str]
    held: dict[str, tuple[Outcome, str]]
    # --allow-repeat: numbers another campaign called within the cooldown, sent all the same
    released: dict[str, Hold] = field(default_factory=dict)
    # the redial policy: numbers of todo called again, and numbers waiting (record, after)
    redials: frozenset[str] = frozenset()
    waiting: dict[str, Ruling] = field(default_factory=dict)


def choose(
    plan: Plan,
    states: dict[str, NumberState],
    suppressed: set[str],
    holds: dict[str, Hold],
    settings: Settings,
    now: datetime,
    book: Book | None = None,
    opted: dict[str, str] | None = None,
) -> Choice:
    """Apply the campaign's rules to its distinct numbers, in this order: a number with an
    outcome keeps it, unless the redial policy (`book`) makes it due again; then the account's
    do-not-call register (`opted`: callee -> why, held whatever --allow-repeat says), the
    do-not-call list, the call history's cooldown, the calling window and --limit each hold
    back what is left."""
    held: dict[str, tuple[Outcome, str]] = {}
    released: dict[str, Hold] = {}
    todo: list[str] = []
    redials: set[str] = set()
    waiting: dict[str, Ruling] = {}
    epoch = now.timestamp()
    opted = opted or {}
    for callee in plan.distinct:
        state = states.get(callee)
        verdict = None if book is None or state is None else book.verdict(callee, state, epoch)
        if callee in opted and (
            verdict.kind not in (DONE, SETTLE)
            if verdict is not None
            else state is None or state.outcome.resendable
        ):
            held[callee] = (Outcome.OPTED_OUT, opted[callee])  # its redials stop too
            continue
        if verdict is not None:
            if not verdict.due:
                if verdict.kind != DONE:
                    waiting[callee] = verdict
                continue
            redials.add(callee)
        elif state is not None and not state.outcome.resendable:
            continue
        if callee in suppressed:
            held[callee] = (Outcome.SUPPRESSED, "on the do-not-call list: never called")
        elif callee in holds:
            if settings.allow_repeat:
                released[callee] = holds[callee]
                todo.append(callee)
            else:
                held[callee] = (Outcome.RECENTLY_CALLED, holds[callee].reason(epoch))
        else:
            todo.append(callee)
    if settings.window is not None:
        late = outside_window(todo, settings.window, now)
        held.update((c, (Outcome.DEFERRED, why)) for c, why in late.items())
        todo = [c for c in todo if c not in late]
    if settings.limit is not None and len(todo) > settings.limit:
        why = f"not sent: beyond --limit {settings.limit}; run again without it to send"
        held.update((c, (Outcome.NOT_SENT, why)) for c in todo[settings.limit :])
        todo = todo[: settings.limit]
    released = {c: h for c, h in released.items() if c not in held}
    return Choice(todo, held, released, frozenset(redials & set(todo)), waiting)
