"""A small TOML writer for the campaign.toml that `batcher serve` writes (tomllib only reads).

to_toml writes flat keys and inline tables ([price] as price = { ... }) of strings, numbers,
booleans and lists: what Settings reads back from a campaign's settings file. Strings are
written as JSON strings, which TOML reads as basic strings (DEL escaped, as TOML wants); a
value of any other type is refused with TypeError rather than written wrongly.
"""

from __future__ import annotations

import json
import re

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def to_toml(values: dict[str, object]) -> str:
    """campaign.toml's flat keys and inline tables ([price] as price = { ... })."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in values.items())


def _key(key: str) -> str:
    return key if _BARE.match(key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to campaign.toml")
