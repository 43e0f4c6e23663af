"""The checks every endpoint runs first: Api-Key and Sign (-1), client IP (-2), Timestamp (-16).

Sign must be md5(key + secret + Timestamp) in exact lowercase hex, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from aiohttp import web

from batcher.voiceapi.simulator.protocol import Refusal

if TYPE_CHECKING:
    from batcher.voiceapi.simulator.app import SandboxConfig

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def expected_sign(key: str, secret: str, timestamp: str) -> str:
    """md5(key + secret + timestamp) as 32 lowercase hex digits."""
    return hashlib.md5((key + secret + timestamp).encode()).hexdigest()


def authenticate(request: web.Request, config: SandboxConfig, server_now: float) -> None:
    """Api-Key and Sign (-1), client IP (-2), Timestamp window around server_now (-16)."""
    key = request.headers.get("Api-Key", "")
    timestamp = request.headers.get("Timestamp", "")
    sign = request.headers.get("Sign", "")
    if not (key and timestamp and sign):
        raise Refusal("-1", "Api-Key, Timestamp and Sign headers are required")
    if not hmac.compare_digest(key.encode(), config.api_key.encode()):
        raise Refusal("-1", "unknown Api-Key")
    expected = expected_sign(config.api_key, config.api_secret, timestamp)
    if not hmac.compare_digest(sign.encode(), expected.encode()):
        raise Refusal("-1", "Sign is not md5(key + secret + Timestamp) in lowercase hex")
    if config.allowed_ips is not None and request.remote not in config.allowed_ips:
        raise Refusal("-2", f"IP {request.remote} is not on the account's whitelist")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise Refusal("-16", f"Timestamp {timestamp!r} is not unix seconds")
    skew = int(timestamp) - server_now
    if abs(skew) > config.timestamp_window:
        raise Refusal(
            "-16",
            f"Timestamp is {skew:+.0f} s from server time; "
            f"allowed ±{config.timestamp_window:.0f} s",
        )
