"""The guard of `batcher serve`: the token, its cookie, the CSRF token, the security headers.

Every request carries the token: `Authorization: Bearer ...`, `?token=...` (a page opened
with it sets a cookie and drops it from the address), or that cookie. A POST authenticated by
the cookie alone must also carry the CSRF token (a form's `csrf` field, `?csrf=` on a
multipart form's action, or an X-CSRF-Token header): another site can make the browser send
the cookie, but cannot read the page that holds the CSRF token. Credentials stay in the
server and its children; no page, answer or log line carries them. Every answer is sent with
headers that keep it out of caches and frames and allow only the page's own scripts and styles.
The one route outside the token is the vendor's pushes (push.py): the secret in its path is its
authentication.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from aiohttp import web

from batcher.web.context import (
    CONFIG,
    COOKIE,
    LANG_COOKIE,
    Config,
    catalogue_of,
    is_api,
    render_page,
)
from batcher.web.i18n import LANGUAGES
from batcher.web.push import ROUTE as PUSH_ROUTE


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


@web.middleware
async def token_guard(request: web.Request, handler):
    config: Config = request.app[CONFIG]
    if request.match_info.route.name == PUSH_ROUTE:
        return await handler(request)  # the vendor's pushes: their secret is in the path
    given, via = _token_of(request)
    if given is None or not hmac.compare_digest(given.encode(), config.token.encode()):
        return await _forbidden(request, "no_token")
    if request.method == "POST" and via == "cookie":
        sent: object = request.headers.get("X-CSRF-Token") or request.query.get("csrf")
        if sent is None and request.content_type == "application/x-www-form-urlencoded":
            sent = (await request.post()).get("csrf")
        if not (isinstance(sent, str) and hmac.compare_digest(sent.encode(), config.csrf.encode())):
            return await _forbidden(request, "no_csrf")
    if (
        request.method == "GET"
        and not is_api(request)
        and ("token" in request.query or "lang" in request.query)
    ):
        # the token leaves the address bar (and the history) for a cookie, as Jupyter does
        kept = {k: v for k, v in request.query.items() if k not in ("token", "lang")}
        response = web.HTTPSeeOther(request.path + (f"?{urlencode(kept)}" if kept else ""))
        if via == "query":
            response.set_cookie(COOKIE, config.token, httponly=True, samesite="Strict")
        if request.query.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, request.query["lang"], samesite="Strict", max_age=365 * 86400
            )
        raise response
    return await handler(request)


def _token_of(request: web.Request) -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "header"
    if "token" in request.query:
        return request.query["token"], "query"
    return request.cookies.get(COOKIE), "cookie"


async def _forbidden(request: web.Request, why: str) -> web.Response:
    catalogue = catalogue_of(request)
    if is_api(request):
        return web.json_response({"error": catalogue.text(why)}, status=403)
    return render_page(request, "forbidden.html", 403, why=why)
