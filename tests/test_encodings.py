"""CSVs saved by Chinese, Taiwanese, Japanese and Korean Excel are read in their own codec.

charset-normalizer alone read a 30-row GBK file (姓名,手机号码,备注) as Thai (cp874) and a
50-row one as Greek (iso8859_7): the header became mojibake and every name in Results with it.
A generated corpus, every codec at several sizes and shapes, must be read right, every file.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from batcher.load import load_sheet
from batcher.settings import LoadOptions

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
HEADERS = {
    # codec: (header, names drawn from, the phone's country code)
    "gbk": (["姓名", "手机号码", "备注"], (SURNAMES, GIVEN), "86"),
    "gb18030": (["客户编号", "姓名", "手机号码", "城市", "备注"], (SURNAMES, GIVEN), "86"),
    "big5": (
        ["姓名", "手機號碼", "備註"],
        ("陳林黃張李王吳劉蔡楊", "志明淑芬家豪雅婷冠宇怡君"),
        "886",
    ),
    "shift_jis": (
        ["氏名", "携帯電話", "備考"],
        ("佐藤鈴木高橋田中渡辺", "太郎花子一郎美咲翔太"),
        "81",
    ),
    "euc_kr": (
        ["이름", "전화번호", "비고"],
        ("김이박최정강조윤장임", "민준서연지훈하은도윤"),
        "82",
    ),
}
PHONES = {"86": "1390013{:04d}", "886": "91234{:04d}", "81": "9012{:04d}00", "82": "1012{:04d}00"}
CORPUS = [
    (codec, rows, shape)
    for codec in HEADERS
    for rows, shape in ((5, "names"), (30, "names"), (50, "codes"), (200, "ascii"), (500, "names"))
]


def _name(rng: random.Random, pools: tuple[str, str]) -> str:
    surnames, given = pools
    return rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))


def _write(path: Path, codec: str, rows: int, shape: str) -> list[list[str]]:
    """A CSV as that office's Excel saves it (CRLF, no BOM), and the rows it holds."""
    header, pools, country = HEADERS[codec]
    rng = random.Random(f"{codec}{rows}{shape}")
    table = [header]
    for i in range(rows):
        name = f"user{i:03d}" if shape == "ascii" and i % 5 else _name(rng, pools)
        phone = "+" + country + PHONES[country].format(i)
        row = {"names": [name, phone], "codes": [name, phone], "ascii": [name, phone]}[shape]
        extra = [""] * (len(header) - 3)
        if len(header) == 5:  # 客户编号,姓名,手机号码,城市,备注
            row = [f"C{i:05d}", name, phone, "北京" if i % 2 else "", ""]
        else:
            row = [*row[:1], row[1], "" if shape != "codes" else f"A-{i}", *extra]
        table.append(row)
    text = "\r\n".join(",".join(r) for r in table) + "\r\n"
    path.write_bytes(text.encode(codec))
    return table


@pytest.mark.parametrize(("codec", "rows", "shape"), CORPUS, ids=lambda v: str(v))
def test_every_cjk_csv_of_the_corpus_is_read_right(tmp_path, codec, rows, shape):
    path = tmp_path / f"{codec}-{rows}-{shape}.csv"
    table = _write(path, codec, rows, shape)
    sheet = load_sheet(path, LoadOptions())
    assert list(sheet.frame.columns) == table[0], sheet.encoding
    names = table[0][1] if len(table[0]) == 5 else table[0][0]
    expected = [r[table[0].index(names)] for r in table[1:]]
    assert [str(v) for v in sheet.frame[names].tolist()] == expected, sheet.encoding
    assert sheet.phone_found_by == "header"


def test_the_corpus_has_every_codec_at_every_size():
    assert len(CORPUS) >= 20
    assert {c for c, _, _ in CORPUS} == {"gbk", "gb18030", "big5", "shift_jis", "euc_kr"}
    assert {r for _, r, _ in CORPUS} >= {5, 500}


def test_the_plan_says_which_encoding_it_read(tmp_path, cli_streams):
    path = tmp_path / "客户.csv"
    _write(path, "gbk", 30, "names")
    done = cli_streams("plan", path, "-o", tmp_path / "plan.xlsx")
    assert done.code == 0, done.err
    assert "(read as GB18030 text)" in done.out + done.err


def test_encoding_stays_the_override(tmp_path):
    """--encoding wins over the detection, whatever the header says."""
    path = tmp_path / "big5.csv"
    _write(path, "big5", 30, "names")
    sheet = load_sheet(path, LoadOptions(encoding="big5"))
    assert sheet.encoding == "big5" and "手機號碼" in sheet.frame.columns
