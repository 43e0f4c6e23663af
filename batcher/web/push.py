"""The vendor's pushes: `POST /vendor/records/{secret}`, the call records of calls as they end.

The account is configured (at the vendor) to POST call records to the address `batcher serve`
prints at start, `http://HOST:PORT/vendor/records/<secret>`. The vendor sends no token and no
CSRF token, so this one route is outside the page's guard (security.py): the secret in the path
is its authentication. It is random per folder, made once and kept in
`.batcher-web/push-secret` (mode 0600), compared in constant time; a wrong one is a 404, as if
the route did not exist. The address is printed once, at start, and never logged (serve keeps
no access log).

A body is JSON (Content-Type application/json): one record, an array of records, or
{"data": [...]}; each record an object with a voiceId. Anything else is a 4xx with a short
JSON error and nothing stored: a body over PUSH_LIMIT (measured while it is read, before any
parsing) 413, another content type 415, malformed JSON 400, a record that is no object or has
no voiceId 422. The records go to batcher.followup.pushed (`Inbox.store`, off the event loop,
one delivery at a time): each into its campaign's journal, or aside; the answer says how many.
A pending record (its journal busy) is tried again every RETRY_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
import sys
from dataclasses import dataclass, field
from gettext import ngettext
from pathlib import Path

import orjson
from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from batcher.errors import UsageError
from batcher.followup.pushed import Inbox, PushReport
from batcher.web.campaigns import Folder
from batcher.web.context import FOLDER

ROUTE = "vendor-records"  # the route's name: security.py lets it past the token
PATH = "/vendor/records/{secret}"
PUSH_LIMIT = 1024 * 1024  # bytes of one body
SECRET_FILE = "push-secret"
INBOX_FILE = "pushed-records.sqlite"
RETRY_EVERY = 2.0  # seconds between two tries of the records whose journal was busy


@dataclass
class Pushes:
    """The push route's state: the folder's secret, the inbox, and the deliveries: one at a
    time, off the event loop, each taking every POST that came meanwhile (a group commit: a
    vendor pushing many calls' records at once is not held to one journal write each)."""

    secret: str = field(repr=False)
    inbox: Inbox
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: list[tuple[list[dict], asyncio.Future[PushReport]]] = field(default_factory=list)

    async def store(self, folder: Folder, records: list[dict]) -> PushReport:
        """Deliver records with those of the POSTs waiting beside them; what became of them."""
        mine: asyncio.Future[PushReport] = asyncio.get_running_loop().create_future()
        self.waiting.append((records, mine))
        async with self.lock:
            if not mine.done():
                batch, self.waiting = self.waiting, []
                every = [record for records, _ in batch for record in records]
                try:
                    report = await asyncio.to_thread(
                        lambda: self.inbox.store(every, folder.journals())
                    )
                except Exception as exc:
                    for _, future in batch:
                        future.set_exception(exc)
                else:
                    for given, future in batch:
                        future.set_result(report.of(given))
        return await mine

    async def retry(self, folder: Folder, *, pending_only: bool = True) -> PushReport:
        """Deliver again the records kept aside (pending ones, or all)."""
        async with self.lock:
            return await asyncio.to_thread(
                self.inbox.retry, folder.journals(), pending_only=pending_only
            )


PUSHES = web.AppKey("pushes", Pushes)


def push_secret(state: Path) -> str:
    """The folder's push secret: read from state/push-secret, or made there once (0600)."""
    path = state / SECRET_FILE
    state.mkdir(exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        kept = path.read_text(encoding="ascii").strip()
        if len(kept) >= 32 and kept.replace("-", "").replace("_", "").isalnum():
            return kept
        path.unlink()  # empty or damaged (a crash while writing it): a new one
        return push_secret(state)
    made = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(made + "\n")
    return made


def push_address(base: str, secret: str) -> str:
    """The address to configure at the vendor."""
    return f"{base}{PATH.format(secret=secret)}"


def setup(app: web.Application, folder: Folder) -> None:
    """Add the route, its state, and the retries of pending records to the app."""
    try:
        secret = push_secret(folder.state)
    except (OSError, UnicodeError) as exc:
        raise UsageError(
            f"{folder.state / SECRET_FILE}: cannot keep the push address's secret ({exc})",
            "give batcher serve a --folder it can write to",
        ) from None
    app[PUSHES] = Pushes(secret, Inbox(folder.state / INBOX_FILE, folder.history()))
    app.router.add_post(PATH, vendor_records, name=ROUTE)
    app.cleanup_ctx.append(_retries)


async def vendor_records(request: web.Request) -> web.Response:
    """POST /vendor/records/{secret}: store the pushed records; how many went where."""
    pushes = request.app[PUSHES]
    given = request.match_info["secret"].encode("utf-8", "replace")
    if not hmac.compare_digest(given, pushes.secret.encode()):
        return _refused(404, "not found")
    if request.content_type != "application/json":
        return _refused(415, "send the records as JSON (Content-Type: application/json)")
    if (request.content_length or 0) > PUSH_LIMIT:
        return _refused(413, f"the body is over {PUSH_LIMIT} bytes: send fewer records a POST")
    body = bytearray()
    try:
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > PUSH_LIMIT:
                return _refused(
                    413, f"the body is over {PUSH_LIMIT} bytes: send fewer records a POST"
                )
    except (ConnectionError, ClientPayloadError, HttpProcessingError):
        return _refused(400, "the body could not be read")
    try:
        records = records_of(orjson.loads(body))
    except orjson.JSONDecodeError:
        return _refused(400, "the body is not JSON")
    except ValueError as exc:
        return _refused(422, str(exc))
    try:
        report = await pushes.store(request.app[FOLDER], records)
    except Exception as exc:  # never a 500 with a traceback: the vendor may send it again
        print(
            "vendor push: "
            + ngettext("{n} record not stored", "{n} records not stored", len(records)).format(
                n=len(records)
            )
            + f" ({type(exc).__name__})",
            file=sys.stderr,
        )
        return _refused(503, "the records could not be stored now: send them again later")
    return web.json_response(
        {
            "stored": report.stored,
            "settled": report.settled,
            "kept_aside": report.kept_aside,
            "pending": report.pending,
        }
    )


def records_of(data: object) -> list[dict]:
    """The records of a pushed body: one record, an array of them, or {"data": [...]};
    ValueError saying what is wrong."""
    if isinstance(data, dict) and "data" in data and "voiceId" not in data:
        data = data["data"]
    found: list[dict] = []
    for n, record in enumerate(data if isinstance(data, list) else [data], start=1):
        if not isinstance(record, dict):
            raise ValueError(f"record {n} is not a JSON object")
        found.append(record)
        voice_id = record.get("voiceId")
        if isinstance(voice_id, bool) or not isinstance(voice_id, str | int) or voice_id == "":
            raise ValueError(f"record {n} has no voiceId")
        if len(str(voice_id)) > 64:
            raise ValueError(f"record {n}: voiceId is over 64 characters")
        record["voiceId"] = str(voice_id)  # the journal's key is text, as the vendor sends it
    return found


def _refused(status: int, why: str) -> web.Response:
    return web.json_response({"error": why}, status=status)


async def _retries(app: web.Application):
    """While serving: the records kept aside, all of them once at start (a campaign may have
    come since), then the pending ones every RETRY_EVERY seconds."""
    task = asyncio.create_task(_retry_forever(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    async with app[PUSHES].lock:  # no delivery under way: the history it kept open is closed
        app[PUSHES].inbox.close()


async def _retry_forever(app: web.Application) -> None:
    pushes, folder = app[PUSHES], app[FOLDER]
    pending_only = False
    while True:
        with contextlib.suppress(Exception):  # tried again next time; never a traceback
            await pushes.retry(folder, pending_only=pending_only)
            pending_only = True
        await asyncio.sleep(RETRY_EVERY)
