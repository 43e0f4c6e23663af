"""The defaults and limits of batcher.settings: the vendor's endpoint, where the credentials and
the history live, the environment variables read, the batch and concurrency limits, the
calledInfo room, and the defaults of cooldown, settle, test-call wait and [redial]. Plain
constants, so that every other module of the package (and the CLI's --help) reads them from
one place.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

DEFAULT_BASE_URL = "https://api.itniotech.com"
DEFAULT_CREDENTIALS_FILE = Path("~/.config/batcher/credentials.toml")
DEFAULT_HISTORY = Path("~/.local/share/batcher/history.sqlite")
ENV_HISTORY = "BATCHER_HISTORY"
ENV_KEY = "BATCHER_API_KEY"
ENV_SECRET = "BATCHER_API_SECRET"
MAX_CHUNK = 1000  # the seed document's limit per sendGroup call
MAX_CONCURRENCY = 64
CANARY = 200  # the first request of a run carries at most this many numbers, and goes alone
DEFAULT_CONCURRENCY = 8
DEFAULT_READ_TIMEOUT = 60.0
CALLED_INFO_MAX = 1000
TAG_RESERVE = 40  # room kept in calledInfo for the per-batch tag the run appends

# the defaults of the keys the next issues bring (campaign.toml accepts them already)
DEFAULT_COOLDOWN = "24h"
DEFAULT_SETTLE = "10m"
DEFAULT_TEST_WAIT = "3m"  # how long `batcher test-call` waits for its call's record
DEFAULT_REDIAL_ON = ("busy", "no-answer")  # typed on its own: Redial's field default
DEFAULT_REDIAL = MappingProxyType({"attempts": 1, "after": "30m", "on": DEFAULT_REDIAL_ON})
