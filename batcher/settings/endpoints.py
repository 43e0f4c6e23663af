"""The vendor endpoint checks: `check_base_url` accepts https, and plain http only to a loopback
simulator (`is_loopback_url`); `resolve_endpoint` picks the endpoint of the account commands
(check, upload, records, reconcile) from --base-url, campaign.toml, a journal or the default.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from batcher.errors import UsageError
from batcher.settings.defaults import DEFAULT_BASE_URL
from batcher.settings.files import load_config


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Refuse anything but https, except plain http to a loopback simulator."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback_url(url):
        return url.rstrip("/")
    raise UsageError(
        f"--base-url {url!r} is not an https:// address",
        "use https:// (plain http:// is allowed only for 127.0.0.1/localhost simulators)",
    )


def resolve_endpoint(
    base_url: str | None, config_path: Path | None = None, journal_endpoint: str | None = None
) -> str:
    """--base-url, else campaign.toml's, else the endpoint a journal's campaign used, else the
    default (for check, upload, records, reconcile)."""
    if base_url:
        return check_base_url(base_url)
    config = load_config(config_path)
    if config.get("base_url"):
        return check_base_url(str(config["base_url"]))
    if journal_endpoint == "sandbox":
        raise UsageError(
            "this campaign ran against the embedded sandbox, which is gone",
            "nothing to fetch: sandbox calls are not real",
        )
    if journal_endpoint:
        return check_base_url(journal_endpoint)
    return DEFAULT_BASE_URL
