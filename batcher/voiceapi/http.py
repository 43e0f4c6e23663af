"""Signed HTTP to the vendor API: signing, the session, the clock, paging, and the error mapping.

    async with connect(account, "read", concurrency=8) as api:
        data = await api.call("GET", "/voice/recordGroup/2203031134011000001")
        files = await api.pages("/voice/fileQuery")

Signing is pure (the vendor's example is the known answer):

    >>> sign("bDqJFiq9", "secret", 1630468800)
    '5e05d651d20b87515084ccf02b24c04f'

The one place where aiohttp's exceptions and the vendor's error answers become batcher's:
`transport_failure` sorts every exception a request can raise into a `Failure` (never sent,
answer lost, or a configuration fault), and `Api` raises `StoppedByAPI` or `ApiError` from
them. Read and upload endpoints place no calls, so their failures simply stop the command;
the send layer turns the same `Failure` into a `Verdict` (see send_group.py).

    >>> clock_offset(server_time=1000.0, received=1000.0)  # the Date header's midpoint
    0.5
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

import aiohttp
import orjson
from aiohttp import client_exceptions as aerr

from batcher.errors import ApiError, BatcherError, StoppedByAPI
from batcher.settings import Account, Credentials

T = TypeVar("T")

# -- signing -----------------------------------------------------------------------------------


def sign(api_key: str, api_secret: str, timestamp: int) -> str:
    """The vendor's Sign header: md5(key + secret + timestamp) as 32 lowercase hex digits."""
    return hashlib.md5(f"{api_key}{api_secret}{timestamp}".encode()).hexdigest()


def signed_headers(credentials: Credentials, clock_offset: float = 0.0) -> dict[str, str]:
    """Fresh Api-Key/Timestamp/Sign headers; clock_offset corrects a measured skew."""
    timestamp = int(time.time() + clock_offset)
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": credentials.api_key,
        "Timestamp": str(timestamp),
        "Sign": sign(credentials.api_key, credentials.api_secret, timestamp),
    }


# -- the session -------------------------------------------------------------------------------


Purpose = Literal["send", "read", "upload", "probe"]  # which of the Account's timeouts


def ssl_context(ca_bundle: str | Path | None = None) -> ssl.SSLContext:
    """Verified TLS; a --ca-bundle adds a private CA (verification is never turned off)."""
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)


def open_session(account: Account, purpose: Purpose, concurrency: int = 1) -> aiohttp.ClientSession:
    """A command's one ClientSession to the account: verified TLS (its CA bundle), the
    timeouts of `purpose`, one connection per slot."""
    connector = aiohttp.TCPConnector(limit=max(1, concurrency), ssl=ssl_context(account.ca_bundle))
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=account.timeouts.connect,
        sock_read=getattr(account.timeouts, purpose),
    )
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


# -- the clock ---------------------------------------------------------------------------------

SKEW_TOLERANCE = 2.0  # seconds; the Date header has one-second resolution


@dataclass
class Clock:
    """The correction added to local time when signing; learnt from the server on -16.

    Mutable on purpose: concurrent calls of one command share what the first one learnt.
    """

    offset: float = 0.0


def server_time(headers: object) -> float | None:
    """The server's clock from a Date header, epoch seconds; None without a readable one."""
    try:
        return parsedate_to_datetime(headers.get("Date", "")).timestamp()  # type: ignore[attr-defined]
    except (TypeError, ValueError, AttributeError):
        return None


def clock_offset(server_time: float, received: float | None = None) -> float:
    """Server clock minus ours, from a Date header read at `received` (default: now).

    The Date header is truncated to the second: its midpoint is the best estimate.
    """
    return server_time + 0.5 - (time.time() if received is None else received)


def skewed(offset: float) -> bool:
    """Whether an offset is more than the Date header's resolution can explain."""
    return abs(offset) > SKEW_TOLERANCE


# -- aiohttp's exceptions -> batcher's ---------------------------------------------------------


class Failure(StrEnum):
    """What an exception raised by a request says about that request."""

    NOT_SENT = "not_sent"  # never reached the server: safe to retry with a fresh signature
    UNKNOWN = "unknown"  # sent, answer lost: a sendGroup may have placed calls
    STOP = "stop"  # a configuration fault (TLS, URL, redirect): retrying cannot help


@dataclass(frozen=True)
class TransportFailure:
    """One exception, translated: its Failure, a reason without secrets, and the fix."""

    kind: Failure
    reason: str
    fix: str


# what a request can raise besides answering: caught once, translated by transport_failure
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)

NETWORK_FIX = (
    "check --base-url and this machine's network (DNS, firewall, proxy), then run the same "
    "command again (what is done so far is kept)"
)
_TLS_FIX = "check --base-url, or pass --ca-bundle for a private CA"
URL_FIX = "check --base-url (it should end at the host or its /v3 prefix)"
REDIRECT_FIX = "check --base-url: batcher never follows a redirect on a send"

# Every exception class aiohttp defines is listed by name (tests/test_voiceapi.py fails when an
# aiohttp upgrade adds one): an unlisted subclass would fall back to its nearest listed base.
FAILURES: dict[type[BaseException], tuple[Failure, str]] = {
    # never reached the server
    aerr.ClientConnectorError: (Failure.NOT_SENT, NETWORK_FIX),
    aerr.ClientConnectorDNSError: (Failure.NOT_SENT, NETWORK_FIX),
    aerr.ClientProxyConnectionError: (Failure.NOT_SENT, NETWORK_FIX),
    aerr.UnixClientConnectorError: (Failure.NOT_SENT, NETWORK_FIX),
    aerr.ConnectionTimeoutError: (Failure.NOT_SENT, NETWORK_FIX),
    aerr.ClientHttpProxyError: (Failure.NOT_SENT, NETWORK_FIX),  # the proxy refused CONNECT
    # configuration: TLS, URL, redirects
    aerr.ClientSSLError: (Failure.STOP, "check --base-url and --ca-bundle"),
    aerr.ClientConnectorSSLError: (Failure.STOP, "check --base-url and --ca-bundle"),
    aerr.ClientConnectorCertificateError: (Failure.STOP, _TLS_FIX),
    aerr.ServerFingerprintMismatch: (Failure.STOP, _TLS_FIX),
    aerr.InvalidURL: (Failure.STOP, URL_FIX),
    aerr.InvalidUrlClientError: (Failure.STOP, URL_FIX),
    aerr.NonHttpUrlClientError: (Failure.STOP, URL_FIX),
    aerr.TooManyRedirects: (Failure.STOP, REDIRECT_FIX),
    aerr.RedirectClientError: (Failure.STOP, REDIRECT_FIX),
    aerr.InvalidUrlRedirectClientError: (Failure.STOP, REDIRECT_FIX),
    aerr.NonHttpUrlRedirectClientError: (Failure.STOP, REDIRECT_FIX),
    # sent, answer lost or unreadable: read timeout, reset, disconnect, broken body
    aerr.ClientError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ClientConnectionError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ClientConnectionResetError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ClientOSError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ServerConnectionError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ServerDisconnectedError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ServerTimeoutError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.SocketTimeoutError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ClientPayloadError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ClientResponseError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.ContentTypeError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.WSServerHandshakeError: (Failure.UNKNOWN, NETWORK_FIX),
    aerr.UploadAbortedError: (Failure.UNKNOWN, NETWORK_FIX),
    TimeoutError: (Failure.UNKNOWN, NETWORK_FIX),  # asyncio.TimeoutError is TimeoutError
    OSError: (Failure.UNKNOWN, NETWORK_FIX),
}


def transport_failure(exc: BaseException) -> TransportFailure:
    """Translate an exception a request raised (TRANSPORT_ERRORS) into a TransportFailure."""
    kind, fix = next(
        (FAILURES[cls] for cls in type(exc).__mro__ if cls in FAILURES),
        (Failure.UNKNOWN, NETWORK_FIX),  # not an exception a request raises: assume the worst
    )
    detail = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = f"TLS certificate not trusted: {exc.certificate_error}"
    elif isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        reason = f"TLS error: {exc}"
    elif kind is Failure.NOT_SENT:
        reason = f"could not connect: {exc}"
    elif fix == REDIRECT_FIX:
        reason = f"redirect refused ({detail})"
    elif kind is Failure.STOP:
        reason = f"unusable URL ({detail})"
    else:
        reason = f"no answer ({detail})"
    return TransportFailure(kind, reason, fix)


# -- the vendor's error answers -> batcher's ---------------------------------------------------

STOP_STATUSES = {
    "-1": "the API key, secret or signature was refused: check BATCHER_API_KEY and "
    "BATCHER_API_SECRET, then run the same command again",
    "-2": "this machine's IP address is not whitelisted: add it in the vendor console, "
    "then run the same command again",
    "-10": "the account balance is insufficient: top up the balance, then run the same "
    "command again",
}
NTP_FIX = "set this machine's clock right (enable NTP), then run the same command again"
_HTTP_FIXES = {
    429: "the API is rate-limiting this account: wait a minute, then run the same command again",
}
_LATER_FIX = "check --base-url, then run the same command again in a few minutes"


def refusal(path: str, error: ApiError) -> BatcherError:
    """The batcher error for an API status other than 0 on a read or upload endpoint.

    Account-level refusals (-1, -2, -10) and a timestamp refused even at the server's clock stop
    the command with the fix; any other status stays an ApiError for the caller to judge.
    """
    if error.status in STOP_STATUSES:
        return StoppedByAPI(f"{path}: {error}", STOP_STATUSES[error.status])
    if error.status == "-16":
        return StoppedByAPI(f"{path}: the API refused the timestamp even at its own clock", NTP_FIX)
    return error


# -- the account -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The API's JSON answer to one signed request: status, reason, data, the server's clock."""

    status: str
    reason: str
    data: object
    server_time: float | None
    received: float  # local epoch seconds when the answer arrived


@dataclass(frozen=True)
class Probe:
    """The API status of one signed fileQuery and the clock offset its Date header shows."""

    status: str
    reason: str
    offset: float | None


PAGE_SIZE = 100  # the API's largest page
PAGES_IN_FLIGHT = 6  # pages of one list fetched at once, once the first gives the total
PROBE_PATH = "/voice/fileQuery"  # reads one line of the file list: changes nothing, costs nothing


class Api:
    """Signed calls to one account's read and upload endpoints, sharing a session and a Clock."""

    def __init__(self, session: aiohttp.ClientSession, account: Account) -> None:
        self.session = session
        self.account = account
        self.credentials = account.signing
        self.clock = Clock(account.clock_offset)

    async def answer(
        self, method: str, path: str, body: dict[str, object] | None, offset: float
    ) -> Answer:
        """One signed request, never following a redirect; its JSON answer whatever the status.

        Raises StoppedByAPI (with the fix) when no JSON answer came back: connection, TLS,
        redirect, HTTP errors, a body that is not the API's.
        """
        url = self.account.url(path)
        payload = None if body is None else orjson.dumps(body)
        try:
            async with self.session.request(
                method,
                url,
                data=payload,
                headers=signed_headers(self.credentials, offset),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                http_status, headers = response.status, response.headers
        except TRANSPORT_ERRORS as exc:
            failure = transport_failure(exc)
            raise StoppedByAPI(f"could not reach {url}: {failure.reason}", failure.fix) from exc
        received = time.time()
        if http_status != 200:
            fix = _HTTP_FIXES.get(http_status, URL_FIX if http_status < 500 else _LATER_FIX)
            raise StoppedByAPI(f"{url}: HTTP {http_status} from the server", fix)
        try:
            doc = orjson.loads(raw)
            status, reason = str(doc["status"]), str(doc.get("reason", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StoppedByAPI(f"{url}: unreadable answer (not the API's JSON)", URL_FIX) from None
        return Answer(status, reason, doc.get("data"), server_time(headers), received)

    async def probe(self, offset: float = 0.0) -> Probe:
        """One signed fileQuery of one line: its status and the server clock offset."""
        answer = await self.answer("POST", PROBE_PATH, {"current": 1, "size": 1}, offset)
        measured = None
        if answer.server_time is not None:
            measured = clock_offset(answer.server_time, answer.received)
        return Probe(answer.status, f"{answer.status} {answer.reason}".strip(), measured)

    async def call(self, method: str, path: str, body: dict[str, object] | None = None) -> object:
        """A signed call re-signed once with the server's clock on -16; returns `data`.

        Raises StoppedByAPI for account-level refusals and failures to reach the API, and
        ApiError for any other status (see `refusal`).
        """
        used = self.clock.offset
        answer = await self.answer(method, path, body, used)
        if answer.status == "-16" and answer.server_time is not None:
            if self.clock.offset == used:  # a concurrent call may have corrected it already
                self.clock.offset = clock_offset(answer.server_time, answer.received)
            answer = await self.answer(method, path, body, self.clock.offset)
        if answer.status != "0":
            raise refusal(path, ApiError(answer.status, answer.reason))
        return answer.data

    async def pages(
        self, path: str, params: dict[str, object] | None = None
    ) -> list[dict[str, object]]:
        """Every record of a paged endpoint (fileQuery, recordGroupQuery), in page order.

        The first page gives the total; the others are fetched PAGES_IN_FLIGHT at a time.
        """
        first, total = await self._page(path, params, 1)
        count = math.ceil(total / PAGE_SIZE) if first else 1
        rest = await gather_bounded(
            (self._page(path, params, page) for page in range(2, count + 1)), PAGES_IN_FLIGHT
        )
        return [record for batch in [first, *(r for r, _ in rest)] for record in batch]

    async def _page(
        self, path: str, params: dict[str, object] | None, page: int
    ) -> tuple[list[dict[str, object]], int]:
        body: dict[str, object] = {"current": page, "size": PAGE_SIZE}
        if params is not None:
            body["params"] = params
        try:
            data = await self.call("POST", path, body)
        except ApiError as exc:
            raise StoppedByAPI(f"{path} refused: {exc}", _LATER_FIX) from exc
        batch = data.get("records") if isinstance(data, dict) else None
        records = [r for r in batch if isinstance(r, dict)] if isinstance(batch, list) else []
        total = data.get("total") if isinstance(data, dict) else None
        try:
            return records, int(total)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return records, 0


async def gather_bounded(work: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await every item, `limit` at a time, results in order; the first failure cancels the rest.

    Raises that first failure itself (a StoppedByAPI with its fix), not an ExceptionGroup.
    """
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in work]
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # noqa: B904 - it carries its own cause
    return [task.result() for task in tasks]


@asynccontextmanager
async def connect(
    account: Account, purpose: Purpose = "read", concurrency: int = 1
) -> AsyncIterator[Api]:
    """An Api over a fresh session: `async with connect(account, "read") as api:`."""
    async with open_session(account, purpose, concurrency) as session:
        yield Api(session, account)
