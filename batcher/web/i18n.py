"""English and Simplified Chinese: gettext catalogues read with Babel, chosen per request.

    catalogue = Catalogue.load("zh")
    catalogue.text("send_button", count=25, about="0.10")   # "拨打 25 个电话（约 0.10）"
    catalogue.text("send_button", count=1, about="0.01")    # en: "Send 1 call (about 0.01)"
    catalogue.message("row 3: too short (5 digits) ...")      # translated by pattern, else as is

catalogues/<language>.po holds every sentence of the page. Its msgids are keys ("send_button"),
the sentence is the msgstr; a key with a msgid_plural (the same key again) has one msgstr per
plural form, and t(key, count=n) chooses among them through ngettext with the catalogue's
Plural-Forms (Babel's, from the locale's CLDR data: two forms in English, one in Chinese).
The .po is read with Babel and compiled in memory into babel.support.Translations; nothing
generated is kept in the tree. A key the Chinese catalogue lacks falls back to English.

catalogues/<language>.messages.json holds the library's own sentences (load refusals, row
reasons, the output of `batcher run`) as regular expressions with their translation: the
library writes them as English text with file names and numbers inside, so they are matched,
not looked up; the page translates what it knows and shows the rest as the library wrote it.
"""

from __future__ import annotations

import functools
import io
import json
import re
from dataclasses import dataclass
from importlib.resources import files

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("en", "zh")
# how the command line prefixes a refusal and its fix (cli/output.py)
PREFIX = re.compile(r"^(?:error|internal error|  fix|fix|warning): ")
DEFAULT = "en"


@dataclass(frozen=True)
class Catalogue:
    """The texts of one language and its patterns for library messages."""

    language: str
    translations: Translations
    singular: frozenset[str]  # the keys of this catalogue (and English's) without plural forms
    plural: frozenset[str]  # the keys with plural forms, chosen by count=
    patterns: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    @functools.cache
    def load(cls, language: str) -> Catalogue:
        """The catalogue of `language` (English fills any key it lacks)."""
        translations, singular, plural = _read(language)
        if language != DEFAULT:
            english = cls.load(DEFAULT)
            translations.add_fallback(english.translations)
            singular, plural = singular | english.singular, plural | english.plural
        return cls(language, translations, singular, plural, _patterns(language))

    def text(self, key: str, **values: object) -> str:
        """The sentence `key`, with {names} filled in; `count` chooses its plural form."""
        if key in self.plural:
            if "count" not in values:
                raise TypeError(f"t({key!r}) has plural forms: give it count=")
            template = self.translations.ngettext(key, key, int(str(values["count"])))
        else:
            template = self.translations.gettext(key)
        return template.format(**values) if values else template

    def message(self, line: str) -> str:
        """A library message in this language, line by line: each known pattern translated,
        where it matches; the rest of the line left as the library wrote it."""
        if "\n" in line:
            return "\n".join(map(self.message, line.split("\n")))
        prefix = PREFIX.match(line)
        if prefix and prefix.end() < len(line):
            # "error: MESSAGE" / "  fix: HINT" of the Output panel: the message and the hint
            # are matched as the error page shows them, then the prefix
            return self.message(prefix.group()) + self.message(line[prefix.end() :])
        for pattern, template in self.patterns:
            line = pattern.sub(functools.partial(_filled, template), line)
        return line


def _read(language: str) -> tuple[Translations, frozenset[str], frozenset[str]]:
    """The .po of `language`, compiled in memory, and its singular and plural keys."""
    source = files("batcher.web").joinpath(f"catalogues/{language}.po")
    with source.open("rb") as po:
        catalog = read_po(po, locale=language, domain="messages")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    singular: set[str] = set()
    plural: set[str] = set()
    for message in catalog:
        if not message.id:
            continue  # the header
        if isinstance(message.id, str):
            singular.add(message.id)
        else:
            plural.add(message.id[0])
    return Translations(compiled, domain="messages"), frozenset(singular), frozenset(plural)


def _patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    source = files("batcher.web").joinpath(f"catalogues/{language}.messages.json")
    if not source.is_file():
        return ()
    pairs = json.loads(source.read_text(encoding="utf-8"))
    return tuple((re.compile(pattern), template) for pattern, template in pairs)


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
