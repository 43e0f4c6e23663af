"""The simulator's application: its config, its state (the ledger), routing and lifecycle.

Each endpoint's rules live in a module of its own (auth, send_group, files, records, faults);
this one wires them into an aiohttp app, logs every request, serves the ledger, and runs the
app on a loopback port, in a thread of its own (`SandboxThread`) or in the foreground (`serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from email.utils import formatdate
from typing import Any

import orjson
from aiohttp import web

from batcher.voiceapi.simulator import files, records, send_group
from batcher.voiceapi.simulator.faults import REDIRECT_TARGET, SCRIPT_ITEMS
from batcher.voiceapi.simulator.files import SEED_FILE_ID, SEED_FILE_NAME
from batcher.voiceapi.simulator.protocol import Note, Refusal, Reply, api
from batcher.voiceapi.simulator.push import Pusher
from batcher.voiceapi.simulator.records import CallShares, Placed
from batcher.voiceapi.simulator.send_group import AcceptedCall, SendRequest, refuse_blacklisted

LEDGER_PATH = "/sandbox/ledger"  # GET: the ledger as JSON (unsigned, never under the prefix)
Handler = Callable[["Sandbox", web.Request, int, Note], Awaitable[Reply]]


@dataclass
class SandboxConfig:
    """Every knob of the simulator; safe defaults (no faults, no latency, no limits).

    Mutable on purpose: tests change `script`, `balance` or `clock_offset` mid-run.
    SandboxConfig(max_callees=200, balance=500, script=["ok", "drop"], latency=0.1, seed=7)
    """

    api_key: str = field(default="sandbox-key", repr=False)
    api_secret: str = field(default="sandbox-secret", repr=False)
    app_ids: set[str] = field(default_factory=lambda: {"sandbox-app"})
    prefix: str = ""  # e.g. "/api": endpoints at /api/voice/... and /api/v3/voice/...
    timestamp_window: float = 300.0  # seconds either side of the server clock
    clock_offset: float = 0.0  # server clock = time.time() + clock_offset
    allowed_ips: set[str] | None = None  # None: any client IP
    max_callees: int = 1000  # seed document: 1000; English page and SDK: 200
    max_loop_count: int = 9  # seed document: 9; English page: 3
    disabled_country_codes: set[str] = field(default_factory=set)  # e.g. {"882"} -> -26
    balance: int | None = None  # numbers that can still be accepted; None = unlimited
    refuse: Callable[[str], bool] = refuse_blacklisted
    seed: int = 0  # seeds the fault RNG and every call's outcome
    latency: float = 0.0  # seconds added to every sendGroup
    read_latency: float = 0.0  # seconds added to every recordGroup and recordGroupQuery
    fail_rate_18: float = 0.0  # -18; half of them after accepting the numbers
    fail_rate_500: float = 0.0  # HTTP 500; half of them after accepting the numbers
    drop_rate: float = 0.0  # accept, then close the connection without a response
    rate_limit_rate: float = 0.0  # HTTP 429 Retry-After: 1, nothing accepted
    script: list[str] = field(default_factory=list)  # one item per sendGroup, see SCRIPT_ITEMS
    slow_seconds: float = 5.0  # how long a "slow" answer takes (beyond a client read timeout)
    call_shares: CallShares = field(default_factory=CallShares)  # how accepted calls end
    record_lag: float = 0.0  # seconds before an accepted call's record becomes visible
    # callee ending -> key pressed: {"99": "9"} answers every call to a number ending in 99
    # with feedbackValue "9" (a campaign's opt-out key, deterministically); see records
    keypresses: dict[str, str] = field(default_factory=dict)
    record_utc_offset_hours: int = 8  # zone of the times in call records
    max_body_bytes: int = 32 * 1024 * 1024  # uploads are base64 audio
    push_to: str | None = None  # POST each call's record here as the call ends (push.py)


@dataclass(frozen=True)
class RequestLog:
    """One request as the sandbox handled it; appended when the handler finishes."""

    request_no: int
    endpoint: str  # sendGroup, sendGroup-redirected, fileUpload, fileQuery, recordGroup, ...
    status: str | None  # API status, None when the answer had no JSON body
    http_status: int | None  # None when the connection was dropped or the handler cancelled
    callees: int  # numbers in the callee list as sent (sendGroup only)
    fault: str | None  # script item or random fault drawn for the request
    started: float
    finished: float


_HANDLERS: dict[str, Handler] = {
    "sendGroup": send_group.send_group,
    "sendGroup-redirected": send_group.send_group,
    "fileUpload": files.file_upload,
    "fileQuery": files.file_query,
    "recordGroup": records.record_group,
    "recordGroupQuery": records.record_group_query,
}


class Sandbox:
    """The simulator: an aiohttp app plus the ledger that tests assert from."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        unknown = [item for item in self.config.script if item not in SCRIPT_ITEMS]
        if unknown:
            raise ValueError(f"unknown script items {unknown}; use {sorted(SCRIPT_ITEMS)}")
        self.accepted: list[AcceptedCall] = []
        self.requests: list[RequestLog] = []
        self.in_flight = 0  # sendGroup requests being handled
        self.max_in_flight = 0
        self.peak_in_flight: Counter[str] = Counter()  # per endpoint, the most at once
        self.url = ""
        # Guards compound updates, since tests read from another thread than the loop's.
        self.lock = threading.Lock()
        self.rng = random.Random(self.config.seed)
        self.voice_seq = 1_000_000
        self.last_voice_id = 0
        self.placed: dict[str, AcceptedCall] = {}  # by voiceId
        self.calls_to: dict[str, int] = {}  # accepted calls per callee
        self.sends: dict[int, tuple[float, SendRequest]] = {}  # request_no -> clock, body
        self.files: dict[str, str] = {SEED_FILE_ID: SEED_FILE_NAME}
        self._request_no = 0
        self._busy: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        # Handlers outlive their client (like a real server), so stop() must cancel them itself.
        self._handlers: set[asyncio.Task[Any]] = set()
        self.pusher: Pusher | None = None  # made by the first call placed with push_to set
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop serving it

    # -- ledger ------------------------------------------------------------------------------

    def add_file(self, file_id: str, name: str | None = None) -> None:
        """Make a fileId known, as if uploaded earlier (run --sandbox with a real campaign.toml)."""
        with self.lock:
            self.files.setdefault(file_id, name or file_id)

    def accepted_counts(self) -> Counter[str]:
        """How many times each callee was accepted (placed) so far."""
        with self.lock:
            return Counter(call.callee for call in self.accepted)

    def ledger(self) -> dict[str, Any]:
        """What GET /sandbox/ledger answers: calls accepted per number, requests per endpoint."""
        with self.lock:
            by_endpoint = Counter(r.endpoint for r in self.requests)
            return {
                "accepted": dict(Counter(call.callee for call in self.accepted)),
                "accepted_total": len(self.accepted),
                "requests": len(self.requests),
                "requests_by_endpoint": dict(by_endpoint),
                "max_in_flight": dict(self.peak_in_flight),
                "pushes": dict(self.pusher.counts) if self.pusher else {},
            }

    def call_record(self, voice_id: str) -> dict[str, Any] | None:
        """The call record of a voiceId as the API shows it now; None if unknown or lagging."""
        with self.lock:
            call = self.placed.get(voice_id)
            if call is None or call.accepted_at > time.time() - self.config.record_lag:
                return None
            placed = Placed(call, *self.sends[call.request_no])
        config = self.config
        return records.call_record(
            placed, self.tz(), config.call_shares, config.seed, config.keypresses
        )

    def ended_later(self, voice_ids: list[str], after: float | None = None) -> None:
        """Calls just placed (in the sandbox's loop): their records are pushed once visible,
        or `after` seconds from now (config.push_to)."""
        if not self.config.push_to:
            return
        if self.pusher is None:
            self.pusher = Pusher(lambda: self.config.push_to, self.call_record)
        self.pusher.schedule(voice_ids, self.config.record_lag if after is None else after)

    def push_now(self, voice_ids: list[str]) -> None:
        """Push these calls' records (visible ones) to config.push_to now, from any thread:
        a test's vendor push at the moment it chooses."""
        if self._loop is None:
            raise RuntimeError("the sandbox is not serving")
        self._loop.call_soon_threadsafe(self.ended_later, list(voice_ids), 0.0)

    def server_now(self) -> float:
        """The sandbox's clock: real time shifted by config.clock_offset."""
        return time.time() + self.config.clock_offset

    def tz(self) -> timezone:
        """The zone of call-record times and voiceIds."""
        return timezone(timedelta(hours=self.config.record_utc_offset_hours))

    # -- lifecycle ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application serving every endpoint under both prefixes, and the ledger."""
        app = web.Application(client_max_size=self.config.max_body_bytes)
        base = self.config.prefix.rstrip("/")
        for prefix in dict.fromkeys([base, base + "/v3"]):
            app.router.add_post(f"{prefix}/voice/sendGroup", self._route("sendGroup"))
            app.router.add_post(f"{prefix}{REDIRECT_TARGET}", self._route("sendGroup-redirected"))
            app.router.add_post(f"{prefix}/voice/fileUpload", self._route("fileUpload"))
            app.router.add_post(f"{prefix}/voice/fileQuery", self._route("fileQuery"))
            app.router.add_get(
                f"{prefix}/voice/recordGroup/{{voiceId}}", self._route("recordGroup")
            )
            app.router.add_post(f"{prefix}/voice/recordGroupQuery", self._route("recordGroupQuery"))
        app.router.add_get(LEDGER_PATH, self._ledger)
        app.on_response_prepare.append(self._set_date)
        return app

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        """Serve on host:port (0 = any free port), over TLS when given a context; return the URL."""
        self._loop = asyncio.get_running_loop()
        # A short shutdown_timeout: "slow" handlers must not hold stop() for seconds.
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port, ssl_context=ssl_context).start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        bound_port = self._runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving; in-flight handlers get half a second, then are cancelled (and logged)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self.pusher is not None:
            await self.pusher.stop()

    # -- plumbing ----------------------------------------------------------------------------

    async def _set_date(self, request: web.Request, response: web.StreamResponse) -> None:
        """Date header from the skewed server clock (clients measure clock skew from it)."""
        response.headers["Date"] = formatdate(self.server_now(), usegmt=True)

    async def _ledger(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.ledger()), content_type="application/json")

    def _route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler that runs one endpoint and logs the request, whatever happens."""
        handle = _HANDLERS[endpoint]

        async def handler(request: web.Request) -> web.StreamResponse:
            with self.lock:
                self._request_no += 1
                request_no = self._request_no
                self._busy[endpoint] += 1
                self.peak_in_flight[endpoint] = max(
                    self.peak_in_flight[endpoint], self._busy[endpoint]
                )
            note, reply, started = Note(), None, time.time()
            task = asyncio.current_task()
            if task is not None:
                self._handlers.add(task)
            try:
                try:
                    reply = await handle(self, request, request_no, note)
                except Refusal as exc:
                    reply = api(exc.status, exc.reason)
                return self._respond(request, reply)
            finally:
                if task is not None:
                    self._handlers.discard(task)
                with self.lock:
                    self._busy[endpoint] -= 1
                self.requests.append(self._log(endpoint, request_no, note, reply, started))

        return handler

    @staticmethod
    def _log(
        endpoint: str, request_no: int, note: Note, reply: Reply | None, started: float
    ) -> RequestLog:
        """The log line of one finished (or cancelled) request."""
        answered = reply if reply is not None and not reply.drop else None
        return RequestLog(
            request_no=request_no,
            endpoint=endpoint,
            status=answered.body["status"] if answered is not None and answered.body else None,
            http_status=answered.http_status if answered is not None else None,
            callees=note.callees,
            fault=note.fault,
            started=started,
            finished=time.time(),
        )

    @staticmethod
    def _respond(request: web.Request, reply: Reply) -> web.StreamResponse:
        """Turn a reply into a response, or drop the connection."""
        if reply.drop:
            if request.transport is not None:
                request.transport.close()
            # aiohttp's write to the closed transport fails quietly as a client disconnect
            return web.Response(status=204)
        if reply.body is None:
            return web.Response(status=reply.http_status, text=reply.text, headers=reply.headers)
        return web.Response(
            status=reply.http_status,
            body=orjson.dumps(reply.body),
            content_type="application/json",
            charset="utf-8",
            headers=reply.headers,
        )


class SandboxThread:
    """Runs a Sandbox on its own event loop in a daemon thread: `with SandboxThread() as sb:`."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.sandbox = Sandbox(config)
        self._host, self._port, self._ssl = host, port, ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sandbox:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.sandbox.start(self._host, self._port, self._ssl))
            except BaseException as exc:  # handed to the caller's thread below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.sandbox.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="batcher-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("sandbox did not start within 10 s")
        if failure:
            raise failure[0]
        return self.sandbox

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def banner(sandbox: Sandbox) -> str:
    """What `batcher sandbox` prints once it serves: where, and the throw-away credentials."""
    config = sandbox.config
    return (
        f"sandbox API at {sandbox.url} (Ctrl-C stops it)\n"
        f"  api key  {config.api_key}\n"
        f"  secret   {config.api_secret}\n"
        f"  appId    {', '.join(sorted(config.app_ids))}\n"
        f"  fileId   {SEED_FILE_ID}\n"
        f"  ledger   GET {sandbox.url}{LEDGER_PATH}\n"
        "  (throw-away simulator credentials: nothing is called, nothing is billed)"
    )


def serve(port: int, host: str = "127.0.0.1", config: SandboxConfig | None = None) -> None:
    """Blocking: serve until Ctrl-C (used by `batcher sandbox --port N`).

    Raises OSError before printing anything when the port cannot be bound.
    """

    async def main() -> None:
        sandbox = Sandbox(config)
        await sandbox.start(host, port)
        print(banner(sandbox), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
