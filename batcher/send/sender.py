"""The sender: one asyncio loop sending batches through sendGroup, and what each answer means.

`send_batches` is the only `asyncio.run` of a run. Its `_Sender` sends a canary batch alone,
then the rest with `concurrency` workers; before each request it reserves the numbers in the
call history and commits the intent (through `batcher.send.committer`), then waits for the
rate and pace gates (`batcher.send.gates`). Each answer's verdict is handled here: the retry
table (backoff, throttling, re-signing after clock skew, splitting a batch refused whole), the
lowered batch size, the breaker and the stops.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from gettext import ngettext

import orjson

from batcher.history import Caller, History
from batcher.journal import ENDPOINT, Journal
from batcher.outcomes import Outcome
from batcher.send.committer import Committer, CrashHooks, SendWrites
from batcher.send.gates import PaceGate, RateGate, stop_signals
from batcher.send.report import Batch, SendReport, Stop
from batcher.settings import Settings
from batcher.voiceapi import http, send_group
from batcher.voiceapi.send_group import Reply, Verdict

FAILED, NOT_SENT, REJECTED, UNKNOWN = (
    Outcome.FAILED,
    Outcome.NOT_SENT,
    Outcome.REJECTED,
    Outcome.UNKNOWN,
)

MAX_CONNECT_ATTEMPTS = 5
BACKOFF_BASE, BACKOFF_CAP = 0.5, 10.0
THROTTLE_CAP, THROTTLE_BUDGET = 60.0, 300.0  # seconds: one Retry-After wait, all waits in a run
ALT_LIMIT = 200  # the vendor's English page and SDK cap a request at 200 numbers
ALL_REFUSED_STOP = 10  # single numbers refused in a row with -22: the parameters are wrong
# the breaker: once BREAKER_MIN numbers of a run are answered, if BREAKER_SHARE of them were
# refused per number with one terminationReason, the campaign's parameters are wrong
BREAKER_MIN, BREAKER_SHARE = 20, 0.9


def send_batches(
    settings: Settings,
    journal: Journal,
    callees: list[str],
    progress: Callable[[Counter[str], int], None] | None = None,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    *,
    history: History,
    caller: Caller,
    allowed: frozenset[str] = frozenset(),
) -> SendReport:
    """Send every callee once; return what happened. The only asyncio.run of a run.

    Each request's numbers are reserved in the call history (`allowed`: released by the
    operator from other campaigns' cooldown), then its intent is committed to the journal,
    then it is sent: a number another campaign reserved meanwhile is held, not sent.
    """
    sender = _Sender(
        settings,
        journal,
        progress or (lambda counts, requests: None),
        say,
        history,
        caller,
        allowed,
    )
    return asyncio.run(sender.run(callees))


class _Sender:
    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        progress,
        say,
        history: History,
        caller: Caller,
        allowed: frozenset[str],
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.history, self.caller, self.allowed = history, caller, allowed
        self.progress = progress
        self.say = say
        self.report = SendReport(
            chunk_size=settings.chunk_size, clock_offset=settings.account.clock_offset
        )
        self.queue: deque[Batch] = deque()
        self.refused_streak = 0
        self.throttle_spent = 0.0
        self.busy = 0
        self.wake = asyncio.Event()
        self.next_batch = journal.next_batch()
        self.fields = settings.campaign.request_fields()
        # each request records where it went (batcher.campaign: the endpoint is the campaign's)
        where = {ENDPOINT: settings.account.endpoint}
        self.params = orjson.dumps({**self.fields, **where}).decode()
        self.interrupts = 0
        self.rate_gate = RateGate(settings.rate)
        self.pace_gate = PaceGate(
            settings.pace, journal.last_request(), settings.account.clock_offset
        )
        self.after_canary: list[list[str]] = []  # held back until the canary is answered
        self.answered = 0  # numbers answered per number this run (the breaker's sample)
        self.refused: Counter[str] = Counter()  # ... refused, by terminationReason
        self.refused_at: list[tuple[int, str, str]] = []  # (request, callee, reason)
        # SQLite commits (fsync) run on a thread of their own, in order, so the event loop
        # keeps the other requests moving while a commit waits for the disk
        hooks = CrashHooks.from_env()
        self.db = Committer(journal, history, hooks)
        self.writes = SendWrites(journal, self.db, hooks)
        self.workers: list[asyncio.Task[None]] = []
        self.retries: set[asyncio.Task[None]] = set()  # batches waiting for their backoff
        # a skew learnt mid-run moved the vendor's clock away from the one the round was
        # decided on: the calling window is judged again before each request from then on
        self.redecide = False

    # -- the run -------------------------------------------------------------------------------

    async def run(self, callees: list[str]) -> SendReport:
        size = self.settings.request_size
        self.report.chunk_size = size
        canary = self.settings.canary_size
        if callees:
            self._push(callees[:canary])  # alone: the rest waits for its answer
        rest = callees[canary:]
        self.after_canary = [rest[start : start + size] for start in range(0, len(rest), size)]
        loop = asyncio.get_running_loop()
        workers: list[asyncio.Task[None]] = []
        with stop_signals(loop, self._on_signal):
            async with http.open_session(
                self.settings.account, "send", self.settings.concurrency
            ) as session:
                workers = [
                    asyncio.create_task(self._worker(session))
                    for _ in range(self.settings.concurrency)
                ]
                self.workers = workers
                done = await asyncio.gather(*workers, return_exceptions=True)
        self.db.shutdown()
        failures: list[BaseException] = [r for r in done if isinstance(r, Exception)]
        failures += self.writes.failures()
        if self.db.failure is not None:  # the first write that failed: the cause
            failures.insert(0, self.db.failure)
        if failures:
            raise failures[0]  # a journal that cannot be written must not go unnoticed
        return self.report

    def _halted(self) -> bool:
        """The run stopped, or a write failed (a full disk...): no request is sent now."""
        return self.report.stop is not None or self.db.failure is not None

    def _push(self, callees: list[str], *, split: bool = False, front: bool = False) -> Batch:
        batch = Batch(self.next_batch, callees, split=split)
        self.next_batch += 1
        if front:
            self.queue.appendleft(batch)
        else:
            self.queue.append(batch)
        self.wake.set()
        return batch

    async def _worker(self, session) -> None:
        while True:
            if self._halted():
                return
            if not self.queue:
                if self.busy == 0:
                    self.wake.set()  # release the other idle workers too
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            batch = self.queue.popleft()
            if len(batch.callees) > self.report.chunk_size:
                # the batch size was lowered after this batch was cut: cut it again
                self._resize(batch)
                continue
            self.busy += 1
            try:
                await self._attempt(session, batch)
            finally:
                self.busy -= 1
                self.wake.set()

    def _resize(self, batch: Batch) -> None:
        self._push_pieces(batch.callees, self.report.chunk_size, split=batch.split)

    def _push_pieces(self, callees: list[str], size: int, split: bool) -> None:
        """Cut callees into batches of `size` and put them first in line, in order."""
        pieces = [callees[i : i + size] for i in range(0, len(callees), size)]
        for piece in reversed(pieces):
            self._push(piece, split=split, front=True)

    # -- one request ---------------------------------------------------------------------------

    async def _attempt(self, session, batch: Batch) -> None:
        await self.rate_gate.wait()
        await self.pace_gate.wait(len(batch.callees))
        if self._halted():
            self.queue.appendleft(batch)  # stopped while waiting for the pace: not sent
            return
        # reserved in the history, then the intent on disk, before the first byte leaves
        try:
            begun, held = await self.writes.intent(self._reserve_and_begin, batch)
        finally:
            self.wake.set()  # a write that failed stops the idle workers too
        if held:
            self._count(held)
        if begun is None:
            self._release_after_canary()
            return  # every number of it is held by another campaign now
        request_id, tag = begun
        if self.db.failure is not None:
            # another write failed while this intent was committed: nothing is sent after
            # a failed write (if this outcome cannot be written either, the next open of
            # the journal makes the request unknown: never lost, never sent twice)
            self.writes.finish(request_id, NOT_SENT, "not sent: the journal could not be written")
            self._unplace(batch)
            self._count({NOT_SENT: len(batch.callees)})
            return
        called_info = f"{self.settings.campaign.called_info} {tag}".strip()
        body = {"callee": ",".join(batch.callees), **self.fields, "calledInfo": called_info}
        self.report.requests += 1
        try:
            reply = await send_group.post(
                session, self.settings.account, body, batch.callees, self.report.clock_offset
            )
        except asyncio.CancelledError:
            self.writes.finish(
                request_id,
                UNKNOWN,
                "abandoned by a second Ctrl-C while in "
                "flight: calls may have been placed (run batcher reconcile)",
            )
            self._count({UNKNOWN: len(batch.callees)})
            raise
        if reply.server_time is not None and reply.verdict is not Verdict.SKEW:
            self._learn_clock(http.clock_offset(reply.server_time))
        self._handle(batch, request_id, reply)
        if reply.verdict not in (Verdict.NOT_SENT, Verdict.THROTTLED, Verdict.SKEW):
            self._release_after_canary()  # answered: the canary has done its job

    def _reserve_and_begin(self, batch: Batch) -> tuple[tuple[int, str] | None, dict[str, int]]:
        """On the journal's thread: reserve the batch's numbers in the call history, hold
        those another campaign reserved meanwhile, record the intent of the rest."""
        moment = self.settings.now()  # the vendor's clock, as learnt so far
        now = moment.timestamp()
        late = self._outside_window(batch.callees, moment)
        # the call history re-decides the cooldown at the vendor's time now, request by request
        intent, granted, held = self.history.reserve(
            [c for c in batch.callees if c not in late],
            self.caller,
            self.settings.cooldown,
            now,
            self.allowed,
        )
        if held:  # recently_called, or opted_out: on the do-not-call register meanwhile
            self.journal.hold(
                {c: (h.outcome, h.reason(now)) for c, h in held.items()}, replace=False
            )
        batch.callees, batch.intent = granted, intent
        counts: dict[str, int] = {Outcome.DEFERRED: len(late)}
        for hold in held.values():
            counts[hold.outcome] = counts.get(hold.outcome, 0) + 1
        counts = {k: n for k, n in counts.items() if n}
        if not granted:
            return None, counts
        begun = self.journal.begin(
            batch.number, batch.attempt, granted, self.params, intent, now=now
        )
        return begun, counts

    def _outside_window(self, callees: list[str], moment) -> dict[str, str]:
        """After a skew learnt mid-run: the callees outside their calling window at the
        vendor's time now, held as deferred (the round had judged them on another clock)."""
        window = self.settings.window
        if not self.redecide or window is None:
            return {}
        from batcher.plan.window import outside_window

        late = outside_window(callees, window, moment)
        if late:
            self.journal.hold(
                {c: (Outcome.DEFERRED, why) for c, why in late.items()}, replace=False
            )
        return late

    def _unplace(self, batch: Batch, callees: list[str] | None = None) -> None:
        """The request provably placed no call (to these callees): they hold no one."""
        self.writes.later(self.history.unplace, batch.intent, callees)

    def _handle(self, batch: Batch, request_id: int, reply: Reply) -> None:
        record = {
            "http_status": reply.http_status,
            "api_status": reply.api_status,
            "latency": round(reply.latency, 4),
        }
        size = len(batch.callees)
        verdict = reply.verdict
        if verdict is Verdict.OK:
            results = reply.results
            self.writes.finish(request_id, None, reply.reason, results=results, **record)
            accepted = Outcome.ACCEPTED
            refused = [c for c, r in results.items() if r[0] != accepted]
            if refused:
                self._unplace(batch, refused)
            counts = {
                accepted: len(results) - len(refused),
                REJECTED: len(refused),
                UNKNOWN: size - len(results),
            }
            self._count({k: n for k, n in counts.items() if n})
            self.refused_streak = 0
            if batch.split and size < self.report.chunk_size:
                self._lower_chunk_size(size)
            self._watch_refusals(request_id, results, refused)
        elif verdict is Verdict.UNKNOWN:
            self.writes.finish(request_id, UNKNOWN, reply.reason, **record)
            self._count({UNKNOWN: size})
        elif verdict is Verdict.FAILED:
            self.writes.finish(request_id, FAILED, reply.reason, **record)
            self._unplace(batch)
            self._count({FAILED: size})
        elif verdict is Verdict.SPLIT:
            self._split(batch, request_id, reply, record)
        elif verdict is Verdict.NOT_SENT:
            self.writes.finish(request_id, NOT_SENT, reply.reason, **record)
            self._unplace(batch)
            if batch.attempt >= MAX_CONNECT_ATTEMPTS:
                self._stop(
                    f"could not reach {self.settings.account.base_url} after "
                    f"{batch.attempt} attempts ({reply.reason})",
                    "check the network and --base-url, then run the same command again",
                )
            else:
                self._retry_later(batch, _backoff(batch.attempt))
        elif verdict is Verdict.THROTTLED:
            self.writes.finish(request_id, NOT_SENT, reply.reason, **record)
            self._unplace(batch)
            wait = min(reply.retry_after if reply.retry_after is not None else 1.0, THROTTLE_CAP)
            self.throttle_spent += wait
            if self.throttle_spent > THROTTLE_BUDGET:
                self._stop(
                    "the API kept answering 429 Too Many Requests",
                    "lower --concurrency or --rate, then run the same command again",
                )
            else:
                self._retry_later(batch, wait)
        elif verdict is Verdict.SKEW:
            self.writes.finish(request_id, NOT_SENT, reply.reason, **record)
            self._unplace(batch)
            self._resign(batch, reply)
        else:  # STOP
            self.writes.finish(request_id, NOT_SENT, f"{reply.reason}; {reply.fix}", **record)
            self._unplace(batch)
            self._stop(reply.reason, reply.fix)

    def _release_after_canary(self) -> None:
        """The canary is answered (whatever the answer): the rest of the run may go."""
        if self.after_canary and self.report.stop is None:
            for callees in self.after_canary:
                self._push(callees)
        self.after_canary = []

    def _watch_refusals(
        self, request_id: int, results: dict[str, list[str]], refused: list[str]
    ) -> None:
        """The breaker: most numbers refused one by one for one reason means the campaign's
        parameters (fileId, appId, ...) are wrong, not the numbers: stop, and leave those
        numbers to be sent again once it is fixed (the vendor placed nothing for them).
        `refused`: the answered numbers of `results` the vendor refused."""
        self.answered += len(results)
        for callee in refused:
            why = results[callee][3]
            self.refused[why] += 1
            self.refused_at.append((request_id, callee, why))
        if self.answered < BREAKER_MIN or self.report.stop is not None:
            return
        reason, count = self.refused.most_common(1)[0] if self.refused else ("", 0)
        if count < BREAKER_SHARE * self.answered:
            return
        by_request: dict[int, list[tuple[str, str, str, str]]] = {}
        why = (
            f"refused with {reason!r} while the breaker tripped: the vendor placed no call; "
            "the next run sends it again"
        )
        for rid, callee, refused_why in self.refused_at:
            if refused_why == reason:
                by_request.setdefault(rid, []).append((callee, FAILED, "", why))
        for rid, rows in by_request.items():
            self.writes.later(self.journal.settle, rid, rows)
        self._stop(
            f"the breaker tripped: the API refused {count:,} of the {self.answered:,} numbers "
            f"answered so far one by one, all with terminationReason {reason!r}",
            "check the fileId / appId (and displayNum) of the campaign, then run the same "
            "command again: the refused numbers will be sent again",
        )

    def _split(self, batch: Batch, request_id: int, reply: Reply, record: dict) -> None:
        size = len(batch.callees)
        if size == 1:
            callee = batch.callees[0]
            results = {callee: [REJECTED, "", reply.api_status or "", reply.reason]}
            self.writes.finish(request_id, REJECTED, reply.reason, results=results, **record)
            self._unplace(batch)
            self._count({REJECTED: 1})
            self.refused_streak += 1
            if self.refused_streak >= ALL_REFUSED_STOP:
                self._stop(
                    f"{self.refused_streak} numbers in a row were refused one by one with -22",
                    "the campaign parameters (appId, fileId, displayNum, ...) are "
                    "wrong, not the numbers: fix them, then run the same command again",
                )
            return
        self.writes.finish(
            request_id,
            FAILED,
            f"{reply.reason}; refused whole, split and sent again",
            **record,
        )
        self._unplace(batch)
        # 1000 vs 200: the vendor's documents disagree, so try the smaller limit before halving
        step = ALT_LIMIT if size > ALT_LIMIT else (size + 1) // 2
        self._push_pieces(batch.callees, step, split=True)

    def _note(self, kind: str, note: str) -> None:
        """Something the operator should know: on the terminal, in the journal and summary."""
        self.report.notes.append(note)
        self.writes.event(kind, note)
        self.say(note)

    def _lower_chunk_size(self, size: int) -> None:
        self.report.chunk_size = size
        note = (
            f"the API refused a batch that passed when split: batch size lowered to {size} "
            "for the rest of the run"
        )
        self._note("batch-size", note)

    def _resign(self, batch: Batch, reply: Reply) -> None:
        if batch.resigned:
            self._stop(
                f"the API refused the timestamp again ({reply.reason})",
                "set this machine's clock right (enable NTP), then run the same command again",
            )
            return
        if reply.server_time is not None:
            self._learn_clock(http.clock_offset(reply.server_time))
        batch.attempt += 1
        batch.resigned = True
        self.queue.appendleft(batch)
        self.wake.set()

    def _learn_clock(self, offset: float) -> None:
        """An answer's Date header (or a -16) shows the vendor's clock: when it differs from
        the one this run goes by beyond the header's resolution, every later request is signed,
        reserved, journaled and judged (cooldown, calling window) on the vendor's clock."""
        if not http.skewed(offset - self.report.clock_offset):
            return
        self.report.clock_offset = offset
        self.settings = replace(self.settings, account=self.settings.account.with_offset(offset))
        self.redecide = True
        note = (
            f"this machine's clock differs from the API's by {offset:+.0f} s (learnt mid-run): "
            "the requests from now on are signed, recorded and judged against the cooldown and "
            "the calling window on the API's clock (fix this clock with NTP)"
        )
        self._note("clock-skew", note)

    def _retry_later(self, batch: Batch, delay: float) -> None:
        batch.attempt += 1
        self.busy += 1  # the waiting batch is still work in progress

        async def later() -> None:
            try:
                await asyncio.sleep(delay)
                self.queue.appendleft(batch)
            finally:
                self.busy -= 1
                self.wake.set()

        task = asyncio.get_running_loop().create_task(later())
        self.retries.add(task)
        task.add_done_callback(self.retries.discard)

    def _stop(self, reason: str, fix: str, interrupted: bool = False) -> None:
        if self.report.stop is None:
            self.report.stop = Stop(reason, fix, interrupted)
            self.writes.event("stop", reason)
        self.wake.set()

    def _count(self, counts: dict[str, int]) -> None:
        self.report.counts.update(counts)
        self.progress(self.report.counts, self.report.requests)

    def _on_signal(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self._stop("interrupted", "run the same command again to resume", interrupted=True)
            self.say(
                "stopping: waiting for "
                + ngettext("{n} request in flight", "{n} requests in flight", self.busy).format(
                    n=self.busy
                )
                + " (press Ctrl-C again to abandon them as unknown)"
            )
        else:
            for task in self.workers:
                task.cancel()


def _backoff(attempt: int) -> float:
    """Full-jitter exponential backoff for a request that never reached the server."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
