"""An opt-in pytest plugin that records the library's English lines as tests produce them.

    BATCHER_PAGE_LINES=/tmp/lines.jsonl python -m pytest -p tests.helpers.page_lines tests/test_x.py

Each JSON line is {"source": ..., "line": ...}: "cli <command>" for what the `cli`/`cli_streams`
fixtures' in-process `batcher <command>` printed, "child" for a line of a child the page
started (its Output panel), "page" for what the page passed through Catalogue.message (error
pages, JSON errors, row reasons, test-call refusals). tests/test_page_language.py's corpus
(tests/data/page_lines.txt) was gathered this way; run `python -m tests.helpers.page_lines
/tmp/lines.jsonl` to list the distinct lines the Chinese catalogue leaves with English in them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

# two English words in a row (tests/test_i18n.py's check), once what may stay as written is
# taken out: paths, URLs and file names, options (--allow-repeat), `commands`, 'quoted' values
# (cells, campaign names, the vendor's reasons), key names, a SIP status's phrase, an SSL error
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")
KEPT = re.compile(
    r"(?<=API 状态 )-?\d+：.*|`[^`]*`|'[^']*'|\"[^\"]*\""
    r"|\S*[/\\]\S*|\S+\.[A-Za-z]\w{1,5}\b|--?[\w-]+"
    r"|\$?\b[A-Z][A-Z0-9_]{2,}\b|\b[a-z]+_[a-z_]+\b|batcher \w[\w-]*"
    r"|\b[1-6]\d\d(?: [A-Z][a-z]+)+|\[SSL: [^\]]*\][^()]*\(_ssl\.c:\d+\)"
    r"|\b[a-z]+[A-Z]\w*|\bApp id\b|\b(?:ffmpeg|pip install) [^）)，]*"
)


def english(text: str) -> str | None:
    """The first English word run left in `text` (what may stay as written taken out)."""
    found = ENGLISH_RUN.search(KEPT.sub(" ", text))
    return found.group() if found else None


def page_shows(line: str, source: str) -> bool:
    """Whether the page can show this recorded line: not the help or usage of a command,
    not the output of a command only the command line runs."""
    words = source.split()
    if words[0] == "cli" and (len(words) < 2 or words[1] not in PAGE_COMMANDS):
        return False
    return not (
        line.startswith(("usage:", "batcher: error:")) or re.match(r"^batcher [\w-]+: error:", line)
    )


PAGE_COMMANDS = ("run", "plan", "records", "reconcile", "test-call")


def _record(source: str, text: str) -> None:
    target = os.environ.get("BATCHER_PAGE_LINES")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for line in text.splitlines():
            if line.strip():
                out.write(json.dumps({"source": source, "line": line}, ensure_ascii=False) + "\n")


class _Tee(io.TextIOBase):
    def __init__(self, stream, sink: list[str]) -> None:
        self.stream, self.sink = stream, sink

    def write(self, text: str) -> int:
        self.sink.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def pytest_configure(config) -> None:
    if not os.environ.get("BATCHER_PAGE_LINES"):
        return
    from batcher.web import jobs
    from batcher.web.i18n import Catalogue

    conftests = [
        plugin
        for plugin in config.pluginmanager.get_plugins()
        if str(getattr(plugin, "__file__", "")).endswith(os.path.join("tests", "conftest.py"))
    ]
    if not conftests:
        raise RuntimeError("tests/conftest.py is not loaded: give the test files as arguments")
    conftest = conftests[0]
    main = conftest.main

    def recorded_main(argv, **kwargs):
        sink: list[str] = []
        command = next((a for a in argv if not a.startswith("-")), "")
        if "-h" in argv or "--help" in argv:
            command = "help"
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, sink), _Tee(err, sink)
        try:
            return main(argv, **kwargs)
        finally:
            sys.stdout, sys.stderr = out, err
            _record(f"cli {command}", "".join(sink))

    conftest.main = recorded_main

    async def recorded_lines(stream, job):  # jobs._lines, each line recorded
        if stream is None:
            return
        async for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            job.lines.append(line)
            _record("child", line)

    jobs._lines = recorded_lines

    message = Catalogue.message

    def recorded_message(self, line: str) -> str:
        if self.language != "en":
            _record("page", line)
        return message(self, line)

    Catalogue.message = recorded_message  # type: ignore[method-assign]


def distinct(path: Path, skip: frozenset[str] = frozenset()) -> list[str]:
    """The distinct recorded lines the page can show (`skip`: lines to leave out, e.g. the
    commands' --help)."""
    seen: dict[str, None] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(raw)
        line = entry["line"]
        if line.strip() not in skip and page_shows(line, entry["source"]):
            seen.setdefault(line)
    return list(seen)


def untranslated(lines: list[str]) -> list[tuple[str, str]]:
    """The lines the Chinese catalogue leaves with an English word run, with their translation."""
    from batcher.web.i18n import Catalogue

    zh = Catalogue.load("zh")
    return [(line, zh.message(line)) for line in lines if english(zh.message(line))]


def kinds(lines: list[str]) -> list[str]:
    """One line per kind of message (its words, numbers, paths and quoted values aside), with
    the tests' temporary folders and ports made neutral: tests/data/page_lines.txt's lines."""
    seen: dict[str, str] = {}
    for line in lines:
        line = re.sub(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/[^/\s:]+", "/home/owner/campaigns", line)
        line = re.sub(r"(127\.0\.0\.1):\d+", r"\1:8040", line)
        shape = re.sub(r"\S*/\S*", "P", line)
        shape = re.sub(r"'[^']*'", "Q", shape)
        shape = re.sub(r"\+?\d[\d,.:TZ-]*", "9", shape)
        seen.setdefault(shape, line)
    return list(seen.values())


if __name__ == "__main__":
    # python -m tests.helpers.page_lines LINES.jsonl [HELP.txt] [--kinds]
    skip = frozenset()
    if len(sys.argv) > 2 and sys.argv[2] != "--kinds":
        skip = frozenset(x.strip() for x in Path(sys.argv[2]).read_text().splitlines())
    lines = distinct(Path(sys.argv[1]), skip)
    if "--kinds" in sys.argv:
        print("\n".join(kinds(lines)))
        sys.exit()
    left = untranslated(lines)
    print(f"{len(lines)} distinct lines, {len(left)} with English left", file=sys.stderr)
    with contextlib.suppress(BrokenPipeError):
        for line, shown in left:
            print(f"{line}\n    -> {shown}")
