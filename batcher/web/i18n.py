"""English and Simplified Chinese: one JSON catalogue per language, chosen per request.

    catalogue = Catalogue.load("zh")
    catalogue.text("send_button", count=25, about="0.10")   # "拨打 25 个电话（约 0.10）"
    catalogue.message("row 3: too short (5 digits) ...")      # translated by pattern, else as is

A catalogue holds "texts" (every sentence of the page, by key) and "messages": the library's
own sentences (load refusals, row reasons) as regular expressions with their translation, so
the page translates what it knows and shows the rest as the library wrote it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib.resources import files

LANGUAGES = ("en", "zh")
DEFAULT = "en"


@dataclass(frozen=True)
class Catalogue:
    """The texts of one language and its patterns for library messages."""

    language: str
    texts: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    fallback: Catalogue | None = None

    @classmethod
    @functools.cache
    def load(cls, language: str) -> Catalogue:
        """The catalogue of `language` (English fills any key it lacks)."""
        data = json.loads(
            files("batcher.web").joinpath(f"catalogues/{language}.json").read_text(encoding="utf-8")
        )
        patterns = tuple((re.compile(p), t) for p, t in data.get("messages", []))
        fallback = None if language == DEFAULT else cls.load(DEFAULT)
        return cls(language, data["texts"], patterns, fallback)

    def text(self, key: str, **values: object) -> str:
        """The sentence `key`, with {names} filled in."""
        template = self.texts.get(key)
        if template is None:
            template = self.fallback.text(key) if self.fallback else key
        return template.format(**values) if values else template

    def message(self, line: str) -> str:
        """A library message in this language: each known pattern translated, where it
        matches; the rest of the line left as the library wrote it."""
        for pattern, template in self.patterns:
            line = pattern.sub(functools.partial(_filled, template), line)
        return line


def _filled(template: str, match: re.Match[str]) -> str:
    """A message pattern's translation with the groups it matched filled in."""
    return template.format(**match.groupdict())


def choose_language(accept_language: str | None, chosen: str | None = None) -> str:
    """The page's language: the switch's choice, else the best of Accept-Language, else en."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, index, base))
    return min(ranked)[2] if ranked else DEFAULT
