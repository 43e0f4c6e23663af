"""Settings: the campaign parameters, limits and credentials of one run, built once.

    >>> campaign = Campaign(app_id="4luaKsL2", file_id="promo.mp3", loop_count=2)
    >>> campaign.validate()
    >>> campaign.request_fields()["loopCount"]
    2
    >>> parse_duration("30m"), parse_duration("1h30m")
    (1800.0, 5400.0)
    >>> Price.from_config({"per_call": 0.01, "countries": {"IN": 0.004}}).per_number("IN")
    0.004

The CLI turns its arguments into a plain dict and calls `Settings.from_options(options,
config_path)`: every default and every check lives here, in the constructors, so a library
caller gets the same checks as the command line. Flags win over campaign.toml, which wins over
the defaults. Secrets live only in `Credentials`, whose repr hides them; nothing else holds
them.

The package is a facade over its submodules, each imported only by the ones after it:
`defaults` (the constants), `timing` (durations, pace, the Redial policy), `values` (LoadOptions,
Window, Campaign, Credentials, Price), `files` (campaign.toml and the credentials file),
`endpoints` (base URL checks), `location` (HistoryLocation: a history file or a PostgreSQL URL,
shown without its password), `account` (Account: endpoint, credentials, CA, timeouts, clock
offset) and `options` (Settings and from_options). Import from
`batcher.settings`, not from a submodule.

This package MUST NOT import anything of batcher but `batcher.errors` (and its own submodules).
"""

from __future__ import annotations

from batcher.settings.account import LOOPBACK, SANDBOX, VENDOR, Account, Timeouts, endpoint_kind
from batcher.settings.defaults import (
    CALLED_INFO_MAX,
    CANARY,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_COOLDOWN,
    DEFAULT_CREDENTIALS_FILE,
    DEFAULT_HISTORY,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_REDIAL,
    DEFAULT_SETTLE,
    DEFAULT_TEST_WAIT,
    ENV_HISTORY,
    ENV_KEY,
    ENV_SECRET,
    MAX_CHUNK,
    MAX_CONCURRENCY,
    TAG_RESERVE,
)
from batcher.settings.endpoints import check_base_url, is_loopback_url, resolve_endpoint
from batcher.settings.files import (
    CONFIG_KEYS,
    CONFIG_RUN_KEYS,
    REDIAL_KEYS,
    load_config,
    load_credentials,
)
from batcher.settings.location import HistoryLocation
from batcher.settings.options import OPTIONS, Settings, check_input_file, default_history
from batcher.settings.timing import (
    MAX_ATTEMPTS,
    PACE_SPACING,
    REDIAL_ON,
    Redial,
    parse_duration,
    parse_pace,
    records_wait,
)
from batcher.settings.values import (
    OPT_OUT_KEYS,
    Campaign,
    Credentials,
    LoadOptions,
    Price,
    Window,
    opt_out_key,
)

__all__ = [
    "CALLED_INFO_MAX",
    "CANARY",
    "CONFIG_KEYS",
    "CONFIG_RUN_KEYS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_COOLDOWN",
    "DEFAULT_CREDENTIALS_FILE",
    "DEFAULT_HISTORY",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_REDIAL",
    "DEFAULT_SETTLE",
    "DEFAULT_TEST_WAIT",
    "ENV_HISTORY",
    "ENV_KEY",
    "ENV_SECRET",
    "LOOPBACK",
    "MAX_ATTEMPTS",
    "MAX_CHUNK",
    "MAX_CONCURRENCY",
    "OPTIONS",
    "OPT_OUT_KEYS",
    "PACE_SPACING",
    "REDIAL_KEYS",
    "REDIAL_ON",
    "SANDBOX",
    "TAG_RESERVE",
    "VENDOR",
    "Account",
    "Campaign",
    "Credentials",
    "HistoryLocation",
    "LoadOptions",
    "Price",
    "Redial",
    "Settings",
    "Timeouts",
    "Window",
    "check_base_url",
    "check_input_file",
    "default_history",
    "endpoint_kind",
    "is_loopback_url",
    "load_config",
    "load_credentials",
    "opt_out_key",
    "parse_duration",
    "parse_pace",
    "records_wait",
    "resolve_endpoint",
]
