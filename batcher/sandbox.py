"""A faithful in-process simulator of the vendor voice API (aiohttp.web), served on loopback.

The project's tests and `batcher run --sandbox` talk to it over real HTTP. Its credentials are
throw-away and documented: Api-Key "sandbox-key", secret "sandbox-secret", appId "sandbox-app",
pre-uploaded fileId "sandbox-file-0001.mp3" (fileName "welcome.mp3").

    with SandboxThread(SandboxConfig(max_callees=200, latency=0.05)) as sandbox:
        sandbox.config.script.append("-18-placed")      # the next sendGroup: placed, then -18
        ...                                               # POST f"{sandbox.url}/voice/sendGroup"
        assert sandbox.accepted_counts()["91856321412"] == 1

Endpoints (under `prefix` and under `prefix + "/v3"`): POST /voice/sendGroup, /voice/fileUpload,
/voice/fileQuery, /voice/recordGroupQuery; GET /voice/recordGroup/{voiceId}. Every answer is
HTTP 200 with JSON {"status": "<string>", "reason": ...} unless a fault says otherwise, and the
`Date` header shows the server clock (time.time() + clock_offset), skew included.

Where the vendor's documents are silent, the sandbox chooses (clients must not rely on more
than API.md says):
- Checks run in this order: Api-Key/Sign (-1), client IP (-2), Timestamp (-16), body and
  fields (-22), rate per country code (-26), balance (-10). Sign must be exact lowercase hex.
- A number repeated inside one callee list is accepted once: `data` holds one element per
  distinct number, first-seen order. `max_callees` counts the list as sent, repeats included.
- Integer fields take JSON integers or digit strings (the vendor's Java backend coerces "50");
  "" or null means absent where the vendor allows empty. Booleans and floats are -22.
- Refused numbers (`refuse(callee)`) get terminationCode "1", "number in blacklist", voiceId ""
  and use no balance. `balance` counts numbers still acceptable and is decremented in place.
- Call-record times are ISO-8601 with offset, e.g. "2022-03-03T11:34:01+08:00", in
  UTC+`record_utc_offset_hours`; answerTime is null when the call was not answered. The record
  also carries voiceId, billPeriod, rate and voiceFileId like the vendor's record pages.
- Paged answers: {"status": "0", "reason": "success", "data": {"records": [...], "total": N,
  "size": s, "current": c, "pages": P, "searchCount": true}}; current defaults to 1, size to 25.
  recordGroupQuery selects records whose submitTime lies in [strTime, endTime], oldest first.
- An unknown voiceId, or one whose record is not yet visible (`record_lag`), answers "-22".

Faults on sendGroup: once its body has arrived, each request takes the next `script` item (if
any), else draws a random fault from the seeded rates, then waits `latency`. "X-placed", "drop"
and "slow" only act on a request that passes every check: its numbers are accepted into the
ledger *before* the failure ("slow" accepts, sleeps `slow_seconds`, then answers success). The
other items skip every check, answer and accept nothing. "redirect" answers 307 to
/voice/moved/sendGroup, which really places calls, so a client that follows it shows in the
ledger. Like a real server, a handler carries on when its client goes away: a client that times
out during `latency` still has its calls placed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import random
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import formatdate
from typing import Any, NamedTuple

import orjson
from aiohttp import web

SEED_FILE_ID = "sandbox-file-0001.mp3"
SEED_FILE_NAME = "welcome.mp3"
REDIRECT_TARGET = "/voice/moved/sendGroup"

# Script items that answer at once and accept nothing: item -> (http status, api status).
_IMMEDIATE_FAULTS = {
    "-1": (200, "-1"),
    "-2": (200, "-2"),
    "-10": (200, "-10"),
    "-16": (200, "-16"),
    "-18": (200, "-18"),
    "-22": (200, "-22"),
    "-26": (200, "-26"),
    "500": (500, None),
    "429": (429, None),
    "redirect": (307, None),
}
# Script items that act only after the request's numbers were accepted.
_PLACED_FAULTS = frozenset({"ok", "-18-placed", "500-placed", "drop", "slow"})
SCRIPT_ITEMS = frozenset(_IMMEDIATE_FAULTS) | _PLACED_FAULTS

REASONS = {
    "0": "success",
    "-1": "account authentication error",
    "-2": "IP restricted",
    "-10": "balance insufficient",
    "-16": "timestamp expired",
    "-18": "system error",
    "-20": "file name already exists",
    "-21": "data validation error",
    "-22": "parameter error",
    "-26": "failed to get the rate",
}

_NUMBER = re.compile(r"[0-9]{7,15}")
_NUMBER_LIST = re.compile(r"(?:[0-9]{7,15},)*[0-9]{7,15}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav")
_UNANSWERED = (
    ("486", "Busy Here"),
    ("480", "Temporarily Unavailable"),
    ("487", "Request Terminated"),
    ("404", "Not Found"),
    ("603", "Decline"),
)
_RATE_PER_MINUTE = Decimal("0.0150")
_RETENTION = timedelta(days=62)
_MAX_WINDOW = timedelta(days=31)


def refuse_blacklisted(callee: str) -> bool:
    """Default per-number refusal rule: numbers ending in "0000" are on the vendor's blacklist."""
    return callee.endswith("0000")


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
    seed: int = 0  # seeds the fault RNG
    latency: float = 0.0  # seconds added to every sendGroup
    fail_rate_18: float = 0.0  # -18; half of them after accepting the numbers
    fail_rate_500: float = 0.0  # HTTP 500; half of them after accepting the numbers
    drop_rate: float = 0.0  # accept, then close the connection without a response
    rate_limit_rate: float = 0.0  # HTTP 429 Retry-After: 1, nothing accepted
    script: list[str] = field(default_factory=list)  # one item per sendGroup, see SCRIPT_ITEMS
    slow_seconds: float = 5.0  # how long a "slow" answer takes (beyond a client read timeout)
    record_lag: float = 0.0  # seconds before an accepted call's record becomes visible
    record_utc_offset_hours: int = 8  # zone of the times in call records
    max_body_bytes: int = 32 * 1024 * 1024  # uploads are base64 audio


class AcceptedCall(NamedTuple):
    """One number the sandbox accepted (terminationCode "0"): a call that was placed.

    A tuple of plain values: a million-number benchmark keeps a million, and such tuples
    drop out of the garbage collector's scans."""

    voice_id: str
    callee: str
    called_info: str
    accepted_at: float  # real epoch seconds (time.time(), not the skewed server clock)
    request_no: int


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


class _Placed(NamedTuple):
    """An accepted call with what its record is built from (made on demand, not stored)."""

    call: AcceptedCall
    submit_ts: float  # server clock at acceptance
    send: _SendRequest  # the request it came in (shared by its numbers)


@dataclass(frozen=True)
class _SendRequest:
    """A validated sendGroup body."""

    numbers: tuple[str, ...]  # distinct, first-seen order
    display_num: str
    file_id: str
    max_duration: int | None
    max_ringing: int | None
    called_info: str


@dataclass(frozen=True)
class _Reply:
    """An answer before it becomes an aiohttp response."""

    http_status: int = 200
    body: dict[str, Any] | None = None  # JSON body; None means plain `text`
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class _Note:
    """Facts a handler learns mid-way that end up in its RequestLog."""

    callees: int = 0
    fault: str | None = None


class _ApiError(Exception):
    """An API-level refusal: HTTP 200 with a non-zero status."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _api(status: str, reason: str | None = None, data: Any = None) -> _Reply:
    """A JSON answer; `data` is included only when given."""
    body: dict[str, Any] = {"status": status, "reason": reason or REASONS[status]}
    if data is not None:
        body["data"] = data
    return _Reply(body=body)


def _expected_sign(key: str, secret: str, timestamp: str) -> str:
    """md5(key + secret + timestamp) as 32 lowercase hex digits."""
    return hashlib.md5((key + secret + timestamp).encode()).hexdigest()


def _opt_int(body: dict, name: str, low: int, high: int, default: int | None = None) -> int | None:
    """An optional integer field in [low, high]; "" and null mean absent."""
    value = body.get(name)
    if value is None or value == "":
        return default
    rule = f"{name} must be an integer {low}-{high}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _ApiError("-22", f"{rule}, got {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,9}", value):
            raise _ApiError("-22", f"{rule}, got {value!r}")
        value = int(value)
    if not low <= value <= high:
        raise _ApiError("-22", f"{rule}, got {value}")
    return value


def _opt_str(body: dict, name: str) -> str:
    """An optional string field; null means ""."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _ApiError("-22", f"{name} must be a string, got {type(value).__name__}")
    return value


def _parse_numbers(body: dict, max_callees: int) -> tuple[str, ...]:
    """The distinct callee numbers of a sendGroup body, or -22."""
    callee = body.get("callee")
    if callee is None or callee == "":
        raise _ApiError("-22", "callee is required")
    if not isinstance(callee, str):
        raise _ApiError("-22", "callee must be a string of comma-separated numbers")
    numbers = callee.split(",")
    if len(numbers) <= max_callees and _NUMBER_LIST.fullmatch(callee):
        return tuple(dict.fromkeys(numbers))  # the usual case, checked in one pass
    if len(numbers) > max_callees:
        raise _ApiError(
            "-22", f"callee: at most {max_callees} numbers per call, got {len(numbers)}"
        )
    for position, number in enumerate(numbers, start=1):
        if not _NUMBER.fullmatch(number):
            raise _ApiError(
                "-22",
                f"callee: number {position} {number!r} must be 7-15 digits "
                "(country code + national number, no '+', no spaces)",
            )
    return tuple(dict.fromkeys(numbers))


def _parse_send(body: Any, config: SandboxConfig, files: dict[str, str]) -> _SendRequest:
    """Validate a sendGroup body like the vendor does, or raise -22."""
    if not isinstance(body, dict):
        raise _ApiError("-22", "request body must be a JSON object")
    numbers = _parse_numbers(body, config.max_callees)
    display_num = _opt_str(body, "displayNum")
    if display_num and not _NUMBER.fullmatch(display_num):
        raise _ApiError("-22", f"displayNum must be empty or 7-15 digits, got {display_num!r}")
    file_id = _opt_str(body, "fileId")
    if not file_id:
        raise _ApiError("-22", "fileId is required")
    if file_id not in files:
        raise _ApiError("-22", f"fileId {file_id!r} is not an uploaded file")
    app_id = _opt_str(body, "appId")
    if not app_id:
        raise _ApiError("-22", "appId is required")
    if app_id not in config.app_ids:
        raise _ApiError("-22", f"appId {app_id!r} is not a voice application of this account")
    max_duration = _opt_int(body, "maxDuration", 1, 120)
    max_ringing = _opt_int(body, "maxRingingTime", 20, 120)
    _opt_int(body, "loopCount", 1, config.max_loop_count)
    called_info = _opt_str(body, "calledInfo")
    if len(called_info) > 1000:
        raise _ApiError("-22", f"calledInfo must be 0-1000 characters, got {len(called_info)}")
    return _SendRequest(numbers, display_num, file_id, max_duration, max_ringing, called_info)


def _unpriced(numbers: tuple[str, ...], disabled: set[str]) -> None:
    """Raise -26 when a number's country code is not enabled for the account."""
    for number in numbers:
        for code in disabled:
            if number.startswith(code):
                raise _ApiError(
                    "-26", f"failed to get the rate for {number} (country code {code} not enabled)"
                )


def _iso(ts: float, tz: timezone) -> str:
    """Epoch seconds as ISO-8601 with offset, second precision."""
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def _call_record(placed: _Placed, tz: timezone) -> dict[str, Any]:
    """A plausible call record, the same every time for the same voiceId."""
    rng = random.Random(int(placed.call.voice_id))
    call_ts = placed.submit_ts + rng.uniform(0.5, 3.0)
    ringing_ts = call_ts + rng.uniform(1.0, 4.0)
    ring_limit = placed.send.max_ringing or 60
    answered = rng.random() < 0.6
    if answered:
        code, reason = "200", "OK"
        answer_ts: float | None = ringing_ts + rng.uniform(2.0, min(20.0, ring_limit))
        limit = placed.send.max_duration or 60
        duration = rng.randint(min(3, limit), limit)
        hangup_ts = answer_ts + duration
        feedback = str(rng.randint(0, 9)) if rng.random() < 0.3 else "-1"
    else:
        code, reason = rng.choice(_UNANSWERED)
        answer_ts, duration, feedback = None, 0, "-1"
        # 487: nobody answered before maxRingingTime ran out
        hangup_ts = ringing_ts + (ring_limit if code == "487" else rng.uniform(1.0, 10.0))
    charged = math.ceil(duration / 60) * 60  # billPeriod 60+60
    cost = (_RATE_PER_MINUTE * charged / 60).quantize(Decimal("0.0001"))
    return {
        "voiceId": placed.call.voice_id,
        "callee": placed.call.callee,
        "displayNum": placed.send.display_num,
        "submitTime": _iso(placed.submit_ts, tz),
        "callTime": _iso(call_ts, tz),
        "ringingTime": _iso(ringing_ts, tz),
        "answerTime": None if answer_ts is None else _iso(answer_ts, tz),
        "hangupTime": _iso(hangup_ts, tz),
        "callDuration": duration,
        "chargedDuration": charged,
        "terminationCode": code,
        "terminationReason": reason,
        "cost": str(cost),
        "billPeriod": "60+60",
        "rate": str(_RATE_PER_MINUTE),
        "voiceFileId": placed.send.file_id,
        "feedbackValue": feedback,
        "calledInfo": placed.call.called_info,
    }


def _page(items: list[Any], current: int, size: int) -> dict[str, Any]:
    """One page in the vendor's paging shape."""
    start = (current - 1) * size
    return {
        "records": items[start : start + size],
        "total": len(items),
        "size": size,
        "current": current,
        "pages": math.ceil(len(items) / size),
        "searchCount": True,
    }


def _paging(body: Any) -> tuple[int, int]:
    """(current, size) of a paged query; both optional but never empty."""
    if not isinstance(body, dict):
        raise _ApiError("-22", "request body must be a JSON object")
    for name in ("current", "size"):
        if body.get(name) == "":
            raise _ApiError("-22", f"{name} must not be empty")
    current = _opt_int(body, "current", 1, 10**9, default=1)
    size = _opt_int(body, "size", 1, 100, default=25)
    assert current is not None and size is not None
    return current, size


def _parse_time(params: dict, name: str) -> datetime:
    """An ISO-8601 time with offset from the query params, or -22."""
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise _ApiError(
            "-22", f"params.{name} is required (ISO-8601, e.g. 2022-02-18T00:00:00+08:00)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _ApiError("-22", f"params.{name} {value!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        raise _ApiError("-22", f"params.{name} {value!r} needs a UTC offset such as +08:00")
    return moment


def _parse_window(body: dict, server_now: float) -> tuple[float, float]:
    """The [strTime, endTime] window of recordGroupQuery as epoch seconds, or -22."""
    params = body.get("params")
    if not isinstance(params, dict):
        raise _ApiError("-22", "params is required: {strTime, endTime}")
    start, end = _parse_time(params, "strTime"), _parse_time(params, "endTime")
    if end < start:
        raise _ApiError("-22", "params.endTime is before params.strTime")
    if end - start > _MAX_WINDOW:
        raise _ApiError("-22", "the window from strTime to endTime is at most 31 days")
    if start < datetime.fromtimestamp(server_now, UTC) - _RETENTION:
        raise _ApiError("-22", "params.strTime: records are kept about two months")
    return start.timestamp(), end.timestamp()


async def _read_json(request: web.Request) -> Any:
    """The parsed body, or None when it is not JSON (always reads it, keeping keep-alive sane)."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _count_callees(body: Any) -> int:
    """Numbers in the callee list as sent, for the request log."""
    callee = body.get("callee") if isinstance(body, dict) else None
    return len(callee.split(",")) if isinstance(callee, str) and callee else 0


class Sandbox:
    """The simulator: an aiohttp app plus the ledger that tests assert from."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        unknown = [item for item in self.config.script if item not in SCRIPT_ITEMS]
        if unknown:
            raise ValueError(f"unknown script items {unknown}; use {sorted(SCRIPT_ITEMS)}")
        self.accepted: list[AcceptedCall] = []
        self.requests: list[RequestLog] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.url = ""
        # Guards compound updates, since tests read from another thread than the loop's.
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._request_no = 0
        self._voice_seq = 1_000_000
        self._last_voice_id = 0
        self._placed: dict[str, AcceptedCall] = {}  # by voiceId
        self._sends: dict[int, tuple[float, _SendRequest]] = {}  # request_no -> clock, body
        self._files: dict[str, str] = {SEED_FILE_ID: SEED_FILE_NAME}
        self._runner: web.AppRunner | None = None
        # Handlers outlive their client (like a real server), so stop() must cancel them itself.
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- ledger ------------------------------------------------------------------------------

    def add_file(self, file_id: str, name: str | None = None) -> None:
        """Make a fileId known, as if uploaded earlier (run --sandbox with a real campaign.toml)."""
        with self._lock:
            self._files.setdefault(file_id, name or file_id)

    def accepted_counts(self) -> Counter[str]:
        """How many times each callee was accepted (placed) so far."""
        with self._lock:
            return Counter(call.callee for call in self.accepted)

    def server_now(self) -> float:
        """The sandbox's clock: real time shifted by config.clock_offset."""
        return time.time() + self.config.clock_offset

    # -- lifecycle ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application serving every endpoint under both prefixes."""
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
        app.on_response_prepare.append(self._set_date)
        return app

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        """Serve on host:port (0 = any free port), over TLS when given a context; return the URL."""
        # A short shutdown_timeout: "slow" handlers must not hold stop() for seconds.
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=ssl_context).start()
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

    # -- plumbing ----------------------------------------------------------------------------

    async def _set_date(self, request: web.Request, response: web.StreamResponse) -> None:
        """Date header from the skewed server clock (clients measure clock skew from it)."""
        response.headers["Date"] = formatdate(self.server_now(), usegmt=True)

    def _route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler that runs one endpoint and logs the request, whatever happens."""
        handlers = {
            "sendGroup": self._send_group,
            "sendGroup-redirected": self._send_group,
            "fileUpload": self._file_upload,
            "fileQuery": self._file_query,
            "recordGroup": self._record_group,
            "recordGroupQuery": self._record_group_query,
        }
        handle = handlers[endpoint]

        async def handler(request: web.Request) -> web.StreamResponse:
            with self._lock:
                self._request_no += 1
                request_no = self._request_no
            note, reply, started = _Note(), None, time.time()
            task = asyncio.current_task()
            if task is not None:
                self._handlers.add(task)
            try:
                try:
                    reply = await handle(request, request_no, note)
                except _ApiError as exc:
                    reply = _api(exc.status, exc.reason)
                return self._respond(request, reply)
            finally:
                if task is not None:
                    self._handlers.discard(task)
                self.requests.append(self._log(endpoint, request_no, note, reply, started))

        return handler

    @staticmethod
    def _log(
        endpoint: str, request_no: int, note: _Note, reply: _Reply | None, started: float
    ) -> RequestLog:
        """The log line of one finished (or cancelled) request."""
        answered = reply is not None and not reply.drop
        return RequestLog(
            request_no=request_no,
            endpoint=endpoint,
            status=reply.body["status"] if answered and reply.body else None,
            http_status=reply.http_status if answered else None,
            callees=note.callees,
            fault=note.fault,
            started=started,
            finished=time.time(),
        )

    @staticmethod
    def _respond(request: web.Request, reply: _Reply) -> web.StreamResponse:
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

    def _authenticate(self, request: web.Request) -> None:
        """Api-Key and Sign (-1), client IP (-2), Timestamp window (-16)."""
        config = self.config
        key = request.headers.get("Api-Key", "")
        timestamp = request.headers.get("Timestamp", "")
        sign = request.headers.get("Sign", "")
        if not (key and timestamp and sign):
            raise _ApiError("-1", "Api-Key, Timestamp and Sign headers are required")
        if not hmac.compare_digest(key.encode(), config.api_key.encode()):
            raise _ApiError("-1", "unknown Api-Key")
        expected = _expected_sign(config.api_key, config.api_secret, timestamp)
        if not hmac.compare_digest(sign.encode(), expected.encode()):
            raise _ApiError("-1", "Sign is not md5(key + secret + Timestamp) in lowercase hex")
        if config.allowed_ips is not None and request.remote not in config.allowed_ips:
            raise _ApiError("-2", f"IP {request.remote} is not on the account's whitelist")
        if not _UNIX_SECONDS.fullmatch(timestamp):
            raise _ApiError("-16", f"Timestamp {timestamp!r} is not unix seconds")
        skew = int(timestamp) - self.server_now()
        if abs(skew) > config.timestamp_window:
            raise _ApiError(
                "-16",
                f"Timestamp is {skew:+.0f} s from server time; "
                f"allowed ±{config.timestamp_window:.0f} s",
            )

    # -- sendGroup ---------------------------------------------------------------------------

    def _draw_fault(self) -> str | None:
        """The next script item, else a random fault from the seeded rates, else None."""
        config = self.config
        with self._lock:
            if config.script:
                item = config.script.pop(0)
                return None if item == "ok" else item
            # Two draws every time so a seed gives the same sequence whatever the rates.
            roll, coin = self._rng.random(), self._rng.random()
        for fault, rate in (
            ("drop", config.drop_rate),
            ("-18", config.fail_rate_18),
            ("500", config.fail_rate_500),
            ("429", config.rate_limit_rate),
        ):
            if roll < rate:
                # -18 and 500 are "unknown" outcomes: half of them placed the calls first.
                return f"{fault}-placed" if fault in ("-18", "500") and coin < 0.5 else fault
            roll -= rate
        return None

    async def _send_group(self, request: web.Request, request_no: int, note: _Note) -> _Reply:
        """POST /voice/sendGroup: latency, faults, checks, acceptance."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # The whole request arrives first; a client leaving during the latency changes nothing.
            body = await _read_json(request)
            note.callees = _count_callees(body)
            note.fault = self._draw_fault()
            if self.config.latency > 0:
                await asyncio.sleep(self.config.latency)
            if note.fault in _IMMEDIATE_FAULTS:
                return self._immediate_fault(request, note.fault)
            if note.fault is not None and note.fault not in _PLACED_FAULTS:
                return _Reply(http_status=500, text=f"sandbox: unknown script item {note.fault!r}")
            self._authenticate(request)
            send = _parse_send(body, self.config, self._files)
            _unpriced(send.numbers, self.config.disabled_country_codes)
            data = self._accept(send, request_no)
            return await self._placed_fault(note.fault, data)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _immediate_fault(self, request: web.Request, fault: str) -> _Reply:
        """A fault that answers at once and accepts nothing."""
        http_status, status = _IMMEDIATE_FAULTS[fault]
        if status is not None:
            return _api(status, f"{REASONS[status]} (injected)")
        if http_status == 429:
            return _Reply(http_status=429, text="Too Many Requests", headers={"Retry-After": "1"})
        if http_status == 307:
            location = request.path.removesuffix("/voice/sendGroup") + REDIRECT_TARGET
            return _Reply(
                http_status=307, text="Temporary Redirect", headers={"Location": location}
            )
        return _Reply(http_status=500, text="Internal Server Error")

    async def _placed_fault(self, fault: str | None, data: list[dict[str, str]]) -> _Reply:
        """The answer to a request whose numbers are already accepted."""
        if fault == "-18-placed":
            return _api("-18", f"{REASONS['-18']} (injected)")
        if fault == "500-placed":
            return _Reply(http_status=500, text="Internal Server Error")
        if fault == "drop":
            return _Reply(drop=True)
        if fault == "slow":
            await asyncio.sleep(self.config.slow_seconds)
        return _api("0", data=data)

    def _accept(self, send: _SendRequest, request_no: int) -> list[dict[str, str]]:
        """Check balance, then accept every number not refused; the per-number `data`."""
        config = self.config
        data: list[dict[str, str]] = []
        with self._lock:
            if config.balance is not None and len(send.numbers) > config.balance:
                raise _ApiError(
                    "-10",
                    f"balance insufficient: {len(send.numbers)} numbers, room for {config.balance}",
                )
            server_now = self.server_now()
            stamp = datetime.fromtimestamp(server_now, self._tz()).strftime("%y%m%d%H%M%S")
            base = int(stamp) * 10_000_000
            seq, last = self._voice_seq, self._last_voice_id
            accepted_at = time.time()
            refuse, accepted, placed = config.refuse, self.accepted, self._placed
            before = len(accepted)
            for number in send.numbers:
                if refuse(number):
                    data.append(_number_result("", number, "1", "number in blacklist"))
                    continue
                # yyMMddHHmmss + a 7-digit sequence, kept increasing even if clock_offset is
                # moved backwards mid-run
                seq = seq + 1 if seq < 9_999_999 else 1_000_000
                last = base + seq if base + seq > last else last + 1
                voice_id = str(last)
                call = AcceptedCall(voice_id, number, send.called_info, accepted_at, request_no)
                accepted.append(call)
                placed[voice_id] = call
                data.append(_number_result(voice_id, number, "0", "success"))
            self._voice_seq, self._last_voice_id = seq, last
            self._sends[request_no] = (server_now, send)
            if config.balance is not None:
                config.balance -= len(accepted) - before
        return data

    def _tz(self) -> timezone:
        """The zone of call-record times and voiceIds."""
        return timezone(timedelta(hours=self.config.record_utc_offset_hours))

    # -- records -----------------------------------------------------------------------------

    def _visible(self) -> list[_Placed]:
        """Accepted calls whose record is visible now (record_lag has passed)."""
        cutoff = time.time() - self.config.record_lag
        with self._lock:
            return [
                _Placed(call, *self._sends[call.request_no])
                for call in self._placed.values()
                if call.accepted_at <= cutoff
            ]

    def _placed_call(self, voice_id: str) -> _Placed | None:
        """The accepted call of that voiceId with its request's details, or None."""
        with self._lock:
            call = self._placed.get(voice_id)
            return None if call is None else _Placed(call, *self._sends[call.request_no])

    async def _record_group(self, request: web.Request, request_no: int, note: _Note) -> _Reply:
        """GET /voice/recordGroup/{voiceId}: one call record."""
        self._authenticate(request)
        voice_id = request.match_info["voiceId"]
        placed = self._placed_call(voice_id)
        if placed is None or placed.call.accepted_at > time.time() - self.config.record_lag:
            raise _ApiError("-22", f"no call record for voiceId {voice_id!r}")
        return _api("0", data=_call_record(placed, self._tz()))

    async def _record_group_query(
        self, request: web.Request, request_no: int, note: _Note
    ) -> _Reply:
        """POST /voice/recordGroupQuery: paged records submitted inside a time window."""
        self._authenticate(request)
        body = await _read_json(request)
        current, size = _paging(body)
        start, end = _parse_window(body, self.server_now())
        hits = sorted(
            (p for p in self._visible() if start <= p.submit_ts <= end),
            key=lambda p: (p.submit_ts, p.call.voice_id),
        )
        page = _page(hits, current, size)
        page["records"] = [_call_record(p, self._tz()) for p in page["records"]]
        return _api("0", data=page)

    # -- files -------------------------------------------------------------------------------

    async def _file_upload(self, request: web.Request, request_no: int, note: _Note) -> _Reply:
        """POST /voice/fileUpload: store a base64 audio file; data = the new fileId."""
        self._authenticate(request)
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise _ApiError("-22", "request body must be a JSON object")
        name, content = body.get("fileName"), body.get("file")
        if not isinstance(name, str) or not name:
            raise _ApiError("-22", "fileName is required")
        if not isinstance(content, str) or not content:
            raise _ApiError("-22", "file is required (base64 of the audio)")
        if not 5 <= len(name) <= 32 or not name.lower().endswith(_AUDIO_SUFFIXES):
            raise _ApiError(
                "-21", "fileName must be 5-32 characters including a .mp3, .m4a or .wav suffix"
            )
        try:
            audio = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _ApiError("-21", "file is not valid base64") from None
        if not audio:
            raise _ApiError("-21", "file is empty")
        with self._lock:
            if name in self._files.values():
                raise _ApiError("-20", f"a file named {name!r} already exists")
            digest = hashlib.md5(f"{len(self._files)}:{name}".encode()).hexdigest()
            day = datetime.fromtimestamp(self.server_now(), self._tz()).strftime("%Y%m%d")
            file_id = f"1{day}{digest}{name[name.rindex('.') :].lower()}"
            self._files[file_id] = name
        return _api("0", data=file_id)

    async def _file_query(self, request: web.Request, request_no: int, note: _Note) -> _Reply:
        """POST /voice/fileQuery: paged {fileId, fileName}, oldest first."""
        self._authenticate(request)
        current, size = _paging(await _read_json(request))
        with self._lock:
            files = [{"fileId": fid, "fileName": name} for fid, name in self._files.items()]
        return _api("0", data=_page(files, current, size))


def _number_result(voice_id: str, callee: str, code: str, reason: str) -> dict[str, str]:
    """One element of sendGroup's `data`."""
    return {
        "voiceId": voice_id,
        "callee": callee,
        "terminationCode": code,
        "terminationReason": reason,
    }


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


def serve(port: int, host: str = "127.0.0.1", config: SandboxConfig | None = None) -> None:
    """Blocking: serve until Ctrl-C (used by `batcher sandbox --port N`)."""

    async def main() -> None:
        sandbox = Sandbox(config)
        url = await sandbox.start(host, port)
        # Credentials are never printed, not even the throw-away sandbox ones.
        print(
            f"sandbox API at {url} (appId {', '.join(sorted(sandbox.config.app_ids))}, "
            f"fileId {SEED_FILE_ID}; credentials: the SandboxConfig defaults). Ctrl-C stops it.",
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
