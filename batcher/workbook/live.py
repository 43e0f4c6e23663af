"""A run's workbook, written while its send runs.

At a million rows the workbook takes as long to write as the send takes to be answered (about
20 s of rustpy-xlsxwriter each), and a thread cannot share that work: the writer holds the GIL
half its time, the send's event loop starves, and both together were slower than one after the
other (measured). So a run that sends forks a writer first (`LiveWorkbook`). The child shares
the sheet, the plan and the campaign's states with the parent page for page (nothing is copied
or pickled up front), follows the journal as the send commits it, and writes each row as soon
as its number's outcome can no longer change in this run; the parent says when the send is over
and reads back the counts.

It is the same `write_workbook` over the same campaign state as every other workbook; only the
moment each row is read differs. The child reads the numbers of each request answered since its
last look from the journal's numbers table (a query), and writes a row as soon as its number's
outcome is one no step of this run changes, one that is not `Outcome.resendable`:

- accepted and unknown: a call may have been placed, and no run sends such a number again on
  its own;
- rejected, unless the breaker settles it as failed: so the rows read as rejected are checked
  against the end of the send, and the workbook is written again if one changed;
- failed and not sent may still be sent again, and numbers may be held meanwhile: read at the
  end; so is every number of a workbook that shows calls (their attempts change with the send).

State being a query makes reading cheap, not writing: the workbook's writing still takes the
two cores from the send if it runs beside it in this process, and waits for the send if it
runs after it (measured at 100,000 rows: 5.4-5.7 s without the fork, 4.9-5.4 s with it; a full
sheet's write alone, the floor's, takes 13-24 s), hence the fork.

Where no child can be forked (not Linux), or it dies, the run writes the workbook itself after
the send, from the journal, as `batcher results` would. A bug in the child is raised in the
parent, as a bug of the writer would be.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import NamedTuple

from batcher.errors import BatcherError
from batcher.journal import Journal, NumberState, Request
from batcher.load import Sheet
from batcher.outcomes import Outcome
from batcher.plan.rows import Plan
from batcher.workbook.rows import CampaignState, shown_calls, write_workbook

POLL_S = 0.05  # how often a waiting writer looks at the journal again
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_RESENDABLE = frozenset(o for o in Outcome if o.resendable)  # a set: no property call a number


class _ParentGone(Exception):
    """The run died before saying its send was over: the workbook is not written."""


class _End(NamedTuple):
    """What the end of the send tells the workbook: what it read last."""

    requests: list[Request]
    events: list[tuple[str, str, str]]
    not_sent_reason: str


class LiveCampaign(CampaignState):
    """A campaign whose send is still running.

    A row's outcome waits until its number's can no longer change in this run; what only the
    end of the send knows (the requests and events, which the workbook reads once its rows are
    written, and why numbers were not sent) waits for it. Not a dataclass of its own: those
    three are properties here, the other fields CampaignState's as they stood before the send.
    """

    follower: _Follower

    def __init__(self, before: CampaignState, follower: _Follower) -> None:
        for name in {f.name for f in fields(CampaignState)} - set(_End._fields):
            object.__setattr__(self, name, getattr(before, name))
        object.__setattr__(self, "follower", follower)

    @classmethod
    def following(
        cls,
        journal: Journal,
        after: int,
        todo: list[str],
        end: int,
        states: dict[str, NumberState],
    ) -> LiveCampaign:
        """The campaign as it stands before a send (`states`: the journal's number states
        then), following the requests after `after` as they are answered; `end` is the pipe
        the end of the send is written to."""
        records = journal.call_records()
        before = CampaignState(
            states,
            journal.held(),
            records=records,
            calls=shown_calls(journal, states, records),
        )
        return cls(before, _Follower(journal, after, todo, end, before))

    def outcome(self, callee: str) -> tuple[Outcome, str, NumberState | None]:
        """As CampaignState.outcome, once the number's outcome can no longer change."""
        if callee in self.follower.pending:
            self.follower.wait_for(callee)
        return super().outcome(callee)

    @property
    def requests(self) -> list[Request]:
        """Every request, once the send is over."""
        return self.follower.at_end().requests

    @property
    def events(self) -> list[tuple[str, str, str]]:
        """The event log, once the send is over."""
        return self.follower.at_end().events

    @property
    def not_sent_reason(self) -> str:
        """Why a number was not sent: the end of the send says."""
        return self.follower.at_end().not_sent_reason


class _Follower:
    """Reads the journal of a send in progress into a campaign's states: a number is no longer
    pending once its outcome is one no step of this run changes (not resendable: a call may
    have been placed, or the vendor refused it)."""

    def __init__(
        self, journal: Journal, after: int, todo: list[str], end: int, campaign: CampaignState
    ) -> None:
        self.journal = journal
        self.after = after  # the campaign's last request before this send
        self.pending = set(todo)  # numbers whose outcome may still change
        self.end = end  # the pipe the parent writes the end of the send to
        self.states, self.held, self.calls = campaign.states, campaign.held, campaign.calls
        # a number's attempts are known at the end only: every row waits for it
        self.shows_calls = campaign.shows_calls
        self.seen: set[int] = set()  # requests read
        # rows read as rejected, and their state: the breaker may settle them as failed
        self.rejected: dict[str, NumberState] = {}
        self.final: _End | None = None

    def wait_for(self, callee: str) -> None:
        """Until the number's outcome can no longer change in this run."""
        while callee in self.pending:
            if not self._read():
                self._wait(POLL_S)

    def at_end(self) -> _End:
        """What the end of the send says (waiting for it)."""
        while self.final is None:
            self._wait(None)
        return self.final

    def changed(self) -> list[str]:
        """Numbers read as rejected whose state the end of the send changed (their rows must
        be written again)."""
        self.at_end()
        return [c for c, state in self.rejected.items() if self.states.get(c) != state]

    def _read(self) -> bool:
        """The requests answered since the last look; False when there were none."""
        new = [i for i in self.journal.request_ids(self.after, answered=True) if i not in self.seen]
        if not new:
            return False
        self.seen.update(new)
        read = self._merge(new)
        if not self.shows_calls:
            states, pending, rejected = self.states, self.pending, Outcome.REJECTED
            for callee in read:
                state = states[callee]
                if state.outcome not in _RESENDABLE:
                    pending.discard(callee)
                    if state.outcome is rejected:
                        self.rejected[callee] = state
        return True

    def _merge(self, requests: list[int]) -> dict[str, NumberState]:
        """What these requests left their numbers in, into the states (a number's latest
        request wins); what was read."""
        read = self.journal.number_states(requests=requests)
        states = self.states
        for callee, state in read.items():
            known = states.get(callee)
            if known is None or state.request >= known.request:
                states[callee] = state
        return read

    def _wait(self, timeout: float | None) -> None:
        ready, _, _ = select.select([self.end], [], [], timeout)
        if ready:
            self._end()

    def _end(self) -> None:
        """The send is over: read the rest of it, and everything a run changes meanwhile."""
        data = _read_all(self.end)
        if not data:
            raise _ParentGone()
        not_sent_reason = pickle.loads(data)
        journal = self.journal
        # the requests not read yet (answered or not), and those settled meanwhile
        unread = [i for i in journal.request_ids(self.after) if i not in self.seen]
        self._merge([*unread, *journal.settled_requests(self.after)])
        self.held.clear()
        self.held.update(journal.held())  # numbers held meanwhile (another campaign's)
        if self.shows_calls:
            self.calls.clear()
            self.calls.update(journal.calls())
        self.pending.clear()
        self.final = _End(journal.requests(), journal.events(), not_sent_reason)


class LiveWorkbook:
    """The workbook of a run that sends, written by a child while the send runs.

    with LiveWorkbook(output, sheet, plan, journal, states, facts, todo) as workbook:
        report = send_batches(...)
        counts = workbook.finish(not_sent_reason)
    """

    def __init__(
        self,
        output: Path,
        sheet: Sheet,
        plan: Plan,
        journal: Journal,
        states: dict[str, NumberState],
        facts: list[tuple[str, object]],
        todo: list[str],
        say: Callable[[str], None],
        reload: Callable[[], tuple[Sheet, Plan]],
    ) -> None:
        self.output, self.journal = output, journal
        # dropped once the child holds them (see _fork): None after that
        self.sheet: Sheet | None = sheet
        self.plan: Plan | None = plan
        self.states: dict[str, NumberState] | None = states
        self.facts, self.todo, self.say = facts, todo, say
        self.reload = reload  # the sheet and plan again, for a writer that died
        self.after = journal.last_request_id()
        self.pid: int | None = None
        self.parent = os.getpid()
        self.end = self.back = -1

    def __enter__(self) -> LiveWorkbook:
        if sys.platform.startswith("linux") and self.todo:
            self._fork()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pid is not None:  # the run failed before finish: the child goes with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def finish(self, not_sent_reason: str) -> Counter[str]:
        """The send is over: the workbook, written; its counts per outcome."""
        if self.pid is None:
            return self._write_here(not_sent_reason)
        with contextlib.suppress(BrokenPipeError):  # a child that died is replaced below
            os.write(self.end, pickle.dumps(not_sent_reason))
        os.close(self.end)  # the child reads to the end of the pipe
        self.end = -1
        data = _read_all(self.back)
        self._reap()
        kind, *detail = pickle.loads(data) if data else ("died",)
        if kind == "ok":
            return detail[0]
        if kind == "error":
            cls, message, hint = detail
            raise cls(message, hint)
        if kind == "bug":
            raise RuntimeError(f"batcher bug while writing {self.output}:\n{detail[0]}")
        self.say(f"the workbook's writer stopped ({kind}): writing it after the send instead")
        return self._write_here(not_sent_reason)

    def _write_here(self, not_sent_reason: str) -> Counter[str]:
        if self.sheet is not None and self.plan is not None:
            sheet, plan = self.sheet, self.plan
        else:
            sheet, plan = self.reload()
        state = CampaignState.of(self.journal, not_sent_reason)
        return write_workbook(self.output, sheet, plan, state, self.facts)

    def _fork(self) -> None:
        end_read, self.end = os.pipe()
        self.back, back_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            # Python 3.12 warns of fork in a process with threads (the embedded sandbox's):
            # the child uses none of their locks, only SQLite (which they never touch), its
            # own pipe and the writer
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(self.end)
            os.close(self.back)
            _child(self, end_read, back_write)
        os.close(end_read)
        os.close(back_write)
        self.pid = pid
        # The child holds the sheet, the plan and the states now. Were this process to keep
        # them too, every page of them the child touches would be in memory twice (a full
        # sheet: 400 MB); the caller drops its own references as well.
        self.sheet = self.plan = self.states = None

    def _reap(self) -> None:
        pid, self.pid = self.pid, None
        assert pid is not None
        for fd in (self.end, self.back):
            if fd >= 0:  # each closed once: a number closed twice may be another file's by then
                os.close(fd)
        self.end = self.back = -1
        os.waitpid(pid, 0)
        path = self.output.resolve()  # a killed child's half-written file (named by its pid)
        path.with_name(f".{path.stem}.partial{pid}.xlsx").unlink(missing_ok=True)


def _child(workbook: LiveWorkbook, end: int, back: int) -> None:
    """Write the workbook as the journal fills; report to `back`; exit without cleanup (the
    parent's open files, locks and buffers are the parent's)."""
    result: tuple = ("died",)
    try:
        _die_with(workbook.parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        gc.disable()  # every object is the parent's: a collection would copy them all
        sheet, plan, states = workbook.sheet, workbook.plan, workbook.states
        assert sheet is not None and plan is not None and states is not None  # the child's own
        with Journal(workbook.journal.path, readonly=True) as journal:
            campaign = LiveCampaign.following(journal, workbook.after, workbook.todo, end, states)
            counts = write_workbook(workbook.output, sheet, plan, campaign, workbook.facts)
            if campaign.follower.changed():  # the breaker settled a row written as rejected
                counts = write_workbook(workbook.output, sheet, plan, campaign, workbook.facts)
        result = ("ok", counts)
    except _ParentGone:
        result = ("gone",)
    except BatcherError as exc:
        result = ("error", type(exc), exc.message, exc.hint)
    except BaseException:
        result = ("bug", traceback.format_exc())
    finally:
        try:
            os.write(back, pickle.dumps(result))
        finally:
            os._exit(0)


def _die_with(parent: int) -> None:
    """The child is killed the moment the run dies (a SIGKILL included): it must not go on
    writing, nor hold the run's journal lock, which it shares by inheritance."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl
        os._exit(0)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)
