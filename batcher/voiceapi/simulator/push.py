"""The status report push: the sandbox POSTs each call's record to `push_to` as the call ends.

The vendor's account can be configured to POST call records to an HTTP address as calls finish
(API.md); `SandboxConfig.push_to` does the same, so `batcher serve`'s push address can be tried
without an account. A simulated call ends when its record becomes visible (`record_lag` after
acceptance, whatever answer its request got: a call placed by a request whose answer was lost
is pushed too). Each record is one POST of a JSON object, at most PUSH_CONCURRENCY at once,
each with a timeout, tried PUSH_ATTEMPTS times with a doubling pause (an answer under 500 other
than 429 ends the tries); the API's answers never wait for a push. The ledger counts them
("pushes": {"delivered", "failed"}).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable

import aiohttp

PUSH_ATTEMPTS = 4
PUSH_CONCURRENCY = 8
PUSH_TIMEOUT = 10.0  # seconds for one POST
FIRST_PAUSE = 0.5  # seconds before the second try; doubled each time


class Pusher:
    """POSTs call records to the configured address, off the API's answers, bounded and retried."""

    def __init__(
        self, target: Callable[[], str | None], record: Callable[[str], dict | None]
    ) -> None:
        self.target = target  # where to POST now (SandboxConfig.push_to, which may change)
        self.record = record  # voiceId -> its record (None: not visible yet)
        self.counts: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(PUSH_CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def schedule(self, voice_ids: list[str], after: float) -> None:
        """Push these calls' records `after` seconds from now (call in the sandbox's loop)."""
        if voice_ids:
            timer = asyncio.get_running_loop().call_later(
                max(after, 0.0) + 0.01, self._start, voice_ids
            )
            self._timers.add(timer)

    def _start(self, voice_ids: list[str]) -> None:
        self._timers = {t for t in self._timers if not t.cancelled() and t.when() > _now()}
        for voice_id in voice_ids:
            task = asyncio.create_task(self._push(voice_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _push(self, voice_id: str) -> None:
        record, url = self.record(voice_id), self.target()
        if record is None or not url:
            self.counts["failed"] += 1
            return
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=PUSH_TIMEOUT)
            self._session = aiohttp.ClientSession(timeout=timeout)
        pause = FIRST_PAUSE
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            status = None
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._slots, self._session.post(url, json=record) as answer:
                    status = answer.status
            if status is not None and status < 500 and status != 429:
                self.counts["delivered" if status < 300 else "failed"] += 1
                return
            if attempt < PUSH_ATTEMPTS:
                await asyncio.sleep(pause)
                pause *= 2
        self.counts["failed"] += 1

    async def stop(self) -> None:
        """Cancel the pushes not made yet, and close the session."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _now() -> float:
    return asyncio.get_running_loop().time()
