"""What every handler of `batcher serve` shares: what serve was told, the app's keys, the page.

Config (the folder, the token and its CSRF token, the sandbox) and the application keys under
which make_app keeps the Folder, the Jobs and the Config; then the request's campaign, its
catalogue (Accept-Language, or the language the owner chose), the context every template gets,
a page rendered from a template, the error answers (a page or JSON), the campaign's address,
and Conflict, the refusal of something the campaign cannot do now.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from batcher.errors import BatcherError, UsageError
from batcher.outcomes import Outcome
from batcher.web.campaigns import Folder
from batcher.web.i18n import Catalogue, choose_language
from batcher.web.jobs import Jobs
from batcher.web.record import Record

COOKIE, LANG_COOKIE = "batcher_token", "batcher_lang"


@dataclass
class Config:
    """What `batcher serve` was told."""

    folder: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    campaign_config: Path | None = None  # serve --config
    credentials: Path | None = None  # serve --credentials (else the environment / default)
    sandbox: object | None = None  # a running simulator (SandboxThread) to send to
    sandbox_credentials: tuple[str, str] | None = field(default=None, repr=False)
    sandbox_pushes: bool = False  # the sandbox pushes its call records to this server

    @property
    def csrf(self) -> str:
        """The CSRF token: derived from the token, so no state is kept."""
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()[:32]


FOLDER, JOBS, CONFIG = (
    web.AppKey("folder", Folder),
    web.AppKey("jobs", Jobs),
    web.AppKey("config", Config),
)


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def catalogue_of(request: web.Request) -> Catalogue:
    language = choose_language(
        request.headers.get("Accept-Language"),
        request.query.get("lang") or request.cookies.get(LANG_COOKIE),
    )
    return Catalogue.load(language)


def _context(request: web.Request) -> dict[str, object]:
    catalogue = catalogue_of(request)
    names = {str(o): catalogue.text(f"outcome_{o}") for o in (*Outcome, "in_flight")}
    return {
        "outcome_names": names,
        "t": catalogue.text,
        "msg": catalogue.message,
        "lang": catalogue.language,
        "csrf": request.app[CONFIG].csrf,
        "lang_path": request.path if request.method == "GET" else "/",
        "sandbox": request.app[CONFIG].sandbox is not None,
        "quote": _quote,
    }


def context_of(request: web.Request) -> dict[str, object]:
    """What every template gets (a fragment rendered outside a page too)."""
    return _context(request)


def _quote(name: str) -> str:
    return quote(name, safe="")


# -- helpers ---------------------------------------------------------------------------------


def record_of(request: web.Request) -> Record:
    try:
        return request.app[FOLDER].record(request.match_info["id"])
    except KeyError:
        raise Missing("no_campaign") from None


def render_page(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    return aiohttp_jinja2.render_template(
        name, request, {**_context(request), **context}, status=status
    )


def error_page(
    request: web.Request, exc: BatcherError, status: int = 422, back: str = "/"
) -> web.Response:
    return render_page(request, "error.html", status, message=exc.message, hint=exc.hint, back=back)


def error_json(exc: BatcherError, status: int = 422) -> web.Response:
    return web.json_response({"error": exc.message, "hint": exc.hint}, status=status)


def live_in_language(request: web.Request, live: dict[str, object]) -> dict[str, object]:
    """The live counts with the child's output and error in the page's language."""
    catalogue = catalogue_of(request)
    output = live.get("output")
    if isinstance(output, list):
        live["output"] = [catalogue.message(str(line)) for line in output]
    if live.get("error"):
        live["error"] = catalogue.message(str(live["error"]))
    return live


class Missing(web.HTTPNotFound):
    """A 404 naming what is missing by its catalogue key (errors_in_language words it)."""

    def __init__(self, key: str) -> None:
        super().__init__(text=key)
        self.key = key


STATUS_KEYS = {404: "not_found", 405: "not_allowed", 413: "too_large"}


@web.middleware
async def errors_in_language(request: web.Request, handler):
    """Every refusal in the request's language: a 404, 405 or 413 (ours, or aiohttp's) as a
    page or JSON from the catalogue, and a JSON error's message and hint (the library's
    English) through the catalogue's patterns, as the error page shows them."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        key = exc.key if isinstance(exc, Missing) else STATUS_KEYS.get(exc.status)
        if key is None:
            raise
        text = catalogue_of(request).text(key)
        if is_api(request):
            return web.json_response({"error": text}, status=exc.status)
        return render_page(request, "error.html", exc.status, message=text, hint=None, back="/")
    catalogue = catalogue_of(request)
    if (
        catalogue.patterns
        and is_api(request)
        and response.status >= 400
        and isinstance(response, web.Response)
        and response.content_type == "application/json"
        and isinstance(response.body, bytes)
    ):
        answer = json.loads(response.body)
        if isinstance(answer, dict):
            for field_name in ("error", "hint"):
                if isinstance(answer.get(field_name), str):
                    answer[field_name] = catalogue.message(answer[field_name])
            response = web.json_response(answer, status=response.status)
    return response


def see_other(path: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(path)


def campaign_url(name: str, tail: str = "") -> str:
    return f"/campaigns/{_quote(name)}{tail}"


class Conflict(UsageError):
    """The campaign cannot do that now (a send running, nothing to send, not confirmed)."""
