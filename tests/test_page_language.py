"""Every kind of line the library prints that the page shows, in Chinese.

tests/data/page_lines.txt holds one line of each kind that `batcher run / plan / records /
reconcile / test-call` print (the page's Output panel) and the refusals the page shows (load,
settings, credentials, history, do-not-call, test-call), as the test suite made them print:
gathered with tests/helpers/page_lines.py (see its docstring), the tests' folders made neutral.
Each must come out of the Chinese catalogue with no English sentence left; file names, paths,
numbers, phone numbers, option and key names, `commands` and 'quoted' values may stay.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from batcher.web.i18n import Catalogue
from tests.helpers.page_lines import english

CORPUS = Path(__file__).parent / "data" / "page_lines.txt"


def _corpus() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_no_message_counts_with_an_s_in_brackets():
    """'1 number(s)': counted nouns go through ngettext (one form per count), in every
    language; a unit such as 'time (s)' is not a plural."""
    package = Path(__file__).parents[1] / "batcher"
    found = [
        f"{path.relative_to(package)}:{node.lineno}: {node.value}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.search(r"\b(?!https?\()[a-z]+\(s\)", node.value)
    ]
    assert found == []


def test_the_detector_finds_english_and_lets_names_pass():
    assert english("it unpacks to 20 GiB") == "it unpacks"
    assert english("结果：已接受 3") is None
    assert english("工作簿：/tmp/a b/spring-results.xlsx") is None
    assert english("请传入 --allow-repeat，或 `batcher dnc list`，列 'Mobile phone'") is None
    assert english("请检查 fileId / appId（以及 displayNum）") is None


def test_the_corpus_is_there():
    assert len(_corpus()) > 200


def test_every_kind_of_line_the_page_shows_translates():
    zh = Catalogue.load("zh")
    left = [(line, zh.message(line)) for line in _corpus() if english(zh.message(line))]
    assert left == [], "\n".join(f"{line}\n  -> {shown}" for line, shown in left)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "opt-out: 1 callee pressed the opt-out key: on the do-not-call register, "
            "never called by any campaign (batcher dnc list)",
            "退订：1 位被叫人按了退订键：已列入免打扰名单，"
            "任何活动都不会再拨打（batcher dnc list）",
        ),
        ("  held back: opted_out 2, recently_called 1", "  暂不拨打：已退订 2, 近期已拨打 1"),
        ("error: loopCount 12 is out of range", "错误：loopCount 12 超出范围"),
        ("  fix: give --loop-count between 1 and 9", "  解决办法：--loop-count 应在 1 到 9 之间"),
        (
            "error: '12345' cannot be called: too short (5 digits) for a full phone number: "
            "check the cell for missing digits",
            "错误：'12345' 无法拨打：位数太少（5 位），不是完整的电话号码：请检查是否缺少数字",
        ),
        (
            "next: 25 redials from 20:00:37 UTC, in 3 min; 4 call records awaited",
            "下一步：20:00:37 UTC 起重拨 25 个（3 分钟后）；等待 4 条通话记录",
        ),
    ],
)
def test_prefixed_and_counted_lines_translate_whole(line, shown):
    assert Catalogue.load("zh").message(line) == shown
