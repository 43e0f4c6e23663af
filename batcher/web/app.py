"""The application of `batcher serve`: its routes, and serving it until Ctrl-C.

    app = make_app(Config(folder=Path("campaigns"), token="...", sandbox=sandbox))
    web.run_app(app, host="127.0.0.1", port=8080)

make_app builds one folder's aiohttp application: the guard and the security headers
(security.py), the Jinja2 templates and static files, the HTML pages (pages.py) and the JSON
API with its Server-Sent Events (api.py); on shutdown it stops the page's sends. serve runs it
and prints the address to open, token included.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from batcher.web.api import api_campaign, api_create, api_list, api_send, api_stop, events
from batcher.web.campaigns import Folder
from batcher.web.context import CONFIG, FOLDER, JOBS, Config, errors_in_language
from batcher.web.jobs import Jobs, child_environment
from batcher.web.pages import (
    account_page,
    change_columns,
    change_settings,
    check_page,
    index,
    problems_csv,
    progress_page,
    results,
    send_page,
    stop_page,
    test_call,
    upload,
)
from batcher.web.security import security_headers, token_guard
from batcher.web.uploads import CHUNK, UPLOAD_LIMIT


def make_app(config: Config) -> web.Application:
    """The aiohttp application for one folder."""
    base_url = getattr(config.sandbox, "url", None)
    defaults = {}
    if config.sandbox is not None:
        from batcher.voiceapi.simulator import SEED_FILE_ID

        defaults = {"app_id": "sandbox-app", "file_id": SEED_FILE_ID}
    folder = Folder(
        config.folder, config.campaign_config, base_url=base_url, sandbox_defaults=defaults
    )
    app = web.Application(
        middlewares=[security_headers, token_guard, errors_in_language],
        client_max_size=UPLOAD_LIMIT + CHUNK,
    )
    app[FOLDER], app[CONFIG] = folder, config
    app[JOBS] = Jobs(
        child_environment(config.sandbox_credentials),
        folder.root,
        journal_of=lambda name: folder.journal_of(folder.record(name)),
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("batcher.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.filters["shell_quote"] = shlex.quote
    app.router.add_static("/static/", Path(__file__).parent / "static")
    app.add_routes(
        [
            web.get("/", index),
            web.post("/campaigns", upload),
            web.get("/campaigns/{id}", check_page),
            web.post("/campaigns/{id}/columns", change_columns),
            web.post("/campaigns/{id}/settings", change_settings),
            web.get("/campaigns/{id}/problems.csv", problems_csv),
            web.post("/campaigns/{id}/test-call", test_call),
            web.post("/campaigns/{id}/send", send_page),
            web.get("/campaigns/{id}/progress", progress_page),
            web.post("/campaigns/{id}/stop", stop_page),
            web.post("/campaigns/{id}/records", account_page),
            web.post("/campaigns/{id}/reconcile", account_page),
            web.get("/campaigns/{id}/results.xlsx", results),
            web.get("/api/campaigns", api_list),
            web.post("/api/campaigns", api_create),
            web.get("/api/campaigns/{id}", api_campaign),
            web.post("/api/campaigns/{id}/send", api_send),
            web.post("/api/campaigns/{id}/stop", api_stop),
            web.get("/api/campaigns/{id}/events", events),
            web.get("/api/campaigns/{id}/results.xlsx", results),
        ]
    )
    app.on_shutdown.append(_stop_children)
    return app


async def _stop_children(app: web.Application) -> None:
    await app[JOBS].shutdown()


# -- serving ---------------------------------------------------------------------------------


def serve(config: Config, host: str, port: int, say) -> None:
    """Serve until Ctrl-C (then stop the page's sends as Stop does, and wait for them)."""
    asyncio.run(_serve(config, host, port, say))


async def _serve(config: Config, host: str, port: int, say) -> None:
    runner = web.AppRunner(make_app(config), shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    say(f"serving the campaigns of {config.folder.resolve()}")
    say(f"open: http://{shown}:{bound}/?token={config.token}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
