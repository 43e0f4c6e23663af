"""The page's server on a real loopback port, in a thread, and a tiny HTTP client for it."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from batcher.web.app import Config, make_app


class ServerThread:
    """`with ServerThread(config) as server:` serves make_app(config) on 127.0.0.1."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        """The server's address, without the token."""
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.app = make_app(self.config)
        self.runner = web.AppRunner(self.app, shutdown_timeout=5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self.ready.wait(30), "the page's server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(90)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Answer:
    """One HTTP answer: status, headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    content_type: str | None = None,
) -> Answer:
    """One request, redirects not followed, errors returned as answers."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if content_type:
        request.add_header("Content-Type", content_type)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, path in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + path.read_bytes()
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Api:
    """The JSON API of one server, with its token as a Bearer header."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.auth = {"Authorization": f"Bearer {server.config.token}"}

    def create(self, contacts: Path, **fields: str) -> Answer:
        """POST /api/campaigns with the file and fields."""
        body, kind = multipart(fields, {"file": contacts})
        return call(
            "POST",
            f"{self.server.url}/api/campaigns",
            headers=self.auth,
            data=body,
            content_type=kind,
        )

    def send(self, name: str, **fields: str) -> Answer:
        """POST /api/campaigns/{id}/send."""
        return call(
            "POST",
            f"{self.server.url}/api/campaigns/{name}/send",
            headers=self.auth,
            data=json.dumps(fields).encode(),
            content_type="application/json",
        )

    def stop(self, name: str) -> Answer:
        """POST /api/campaigns/{id}/stop."""
        return call(
            "POST", f"{self.server.url}/api/campaigns/{name}/stop", headers=self.auth, data=b""
        )

    def get(self, path: str) -> Answer:
        """GET a path of the server with the token."""
        return call("GET", f"{self.server.url}{path}", headers=self.auth)

    def campaign(self, name: str) -> dict:
        """GET /api/campaigns/{id} as JSON."""
        return self.get(f"/api/campaigns/{name}").json()

    def wait(self, name: str, timeout: float = 90, until=lambda live: False) -> dict:
        """Poll the campaign until its page's job has finished (or `until(live)`)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = self.campaign(name)["live"]
            if until(live) or live.get("state") in ("done", "stopped", "failed"):
                return live
            time.sleep(0.1)
        raise AssertionError(f"{name}: still {live.get('state')} after {timeout} s")
