"""Reading the two files a run may be given: `load_config` reads campaign.toml into a flat dict
of known keys (CONFIG_KEYS, REDIAL_KEYS), refusing unknown keys, credentials and malformed
durations, paces or [redial] tables; `load_credentials` takes the API key and secret from the
environment, else from a credentials file that only its owner can read.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from gettext import ngettext
from pathlib import Path

from batcher.errors import UsageError
from batcher.settings.defaults import (
    DEFAULT_CREDENTIALS_FILE,
    DEFAULT_REDIAL,
    ENV_KEY,
    ENV_SECRET,
)
from batcher.settings.timing import Redial, parse_duration, parse_pace
from batcher.settings.values import Campaign, Credentials, opt_out_key

# campaign.toml's keys, besides Campaign's fields; the template and README document each one
CONFIG_RUN_KEYS = {
    "audio",
    "price",
    "suppress",
    "suppress_unreadable",  # default: "stop"
    "window",
    "base_url",
    "region",
    "chunk_size",
    "concurrency",
    "phone_column",
    "region_column",
    "sheet",
    # read by the next issues; accepted (and their durations checked) already
    "campaign",  # default: the input file's stem
    "history",  # default: DEFAULT_HISTORY
    "cooldown",  # default: DEFAULT_COOLDOWN
    "pace",  # default: unset
    "redial",  # [redial] attempts, after, on: default DEFAULT_REDIAL
    "phone_columns",  # several phone columns, tried in order
    "settle",  # default: DEFAULT_SETTLE
    "opt_out_key",  # default: none (the do-not-call register, issue 23)
}
CONFIG_KEYS = frozenset({f.name for f in fields(Campaign)} | CONFIG_RUN_KEYS)
REDIAL_KEYS = frozenset(DEFAULT_REDIAL)


def load_config(path: Path | None) -> dict[str, object]:
    """Read campaign.toml into a flat dict of known keys; unknown keys are an error."""
    if path is None:
        return {}
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file", "check the --config path") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder", "give the campaign.toml inside it") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}", "fix the line named above") from None
    if any(k in data for k in ("api_key", "api_secret")):
        raise UsageError(f"{path}: credentials do not belong in campaign.toml", "see README")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise UsageError(
            f"{path}: "
            + ngettext("unknown setting {names}", "unknown settings {names}", len(unknown)).format(
                names=", ".join(unknown)
            ),
            f"known settings are: {', '.join(sorted(CONFIG_KEYS))}",
        )
    for key in ("cooldown", "settle"):
        if key in data:
            parse_duration(str(data[key]), f"{path}: {key} =")
    redial = data.get("redial")
    if redial is not None:
        if not isinstance(redial, dict) or set(redial) - REDIAL_KEYS:
            raise UsageError(
                f"{path}: [redial] takes {', '.join(sorted(REDIAL_KEYS))}",
                '[redial] attempts = 2, after = "30m", on = ["busy", "no-answer"]',
            )
        if "after" in redial:
            parse_duration(str(redial["after"]), f"{path}: [redial] after =")
        Redial.from_options({}, redial)
    if "pace" in data:
        parse_pace(data["pace"])
    if "opt_out_key" in data:
        opt_out_key(data["opt_out_key"], f"{path}: opt_out_key =")
    return data


def load_credentials(
    path: Path | None, environ: Mapping[str, str] | None = None, *, other_ways: str = ""
) -> Credentials:
    """Credentials from BATCHER_API_KEY/BATCHER_API_SECRET, else a private credentials file.

    `other_ways` ends the hint when none are found (run adds "or try --sandbox or --dry-run";
    check and the other account commands have no such way out).
    """
    environ = os.environ if environ is None else environ
    key, secret = environ.get(ENV_KEY, ""), environ.get(ENV_SECRET, "")
    if key and secret:
        return Credentials(key, secret)
    if key or secret:
        # half a pair must not fall back to a file that may hold another account's
        have, missing = (ENV_KEY, ENV_SECRET) if key else (ENV_SECRET, ENV_KEY)
        raise UsageError(
            f"{missing} is not set ({have} is)",
            f"export {missing} as well, or unset {have} to use the credentials file",
        )
    explicit = path is not None
    path = (path or DEFAULT_CREDENTIALS_FILE).expanduser()
    if not path.exists():
        if explicit:
            raise UsageError(f"{path}: no such credentials file", "check the --credentials path")
        raise UsageError(
            "no API credentials found",
            f"export {ENV_KEY} and {ENV_SECRET}, or write them to {DEFAULT_CREDENTIALS_FILE} "
            f"(api_key = ..., api_secret = ...) with chmod 600{other_ways}",
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{path}: the credentials file can be read by other users",
            f"run: chmod 600 {path}",
        )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError:
        # the parser's message may quote the secret: say only where to look
        raise UsageError(
            f"{path}: not valid TOML", 'write two lines: api_key = "..." and api_secret = "..."'
        ) from None
    key, secret = str(data.get("api_key", "")), str(data.get("api_secret", ""))
    if not key or not secret:
        raise UsageError(
            f"{path}: api_key or api_secret missing",
            'write two lines: api_key = "..." and api_secret = "..."',
        )
    return Credentials(key, secret)
