"""The names a column goes by: the header words batcher recognises, in the languages its
users write (a phone column's, the ones too generic to trust alone, a mobile's, someone else's
phone such as an assistant's or a fax, a region column's); `norm`, the folding that makes
"Teléfono", "TELEFONO" and "telefono" one header; and the letters (B, AA) and positions (2)
an option names a column by. `batcher.load.columns` matches headers against these. Pure data
and string functions: nothing here reads a sheet or imports anything else of batcher.
"""

from __future__ import annotations

import re
import unicodedata

MAX_COLUMNS = 16_384

_PHONE_HEADERS = """
phone, phone number, phone no, phones, mobile, mobile number, mobile no, mobile phone, cell,
cellphone, cell phone, cell number, tel, tel no, telephone, telephone number, callee, msisdn,
number, contact number, contact no, whatsapp, 手机, 手机号, 手机号码, 电话, 电话号码, 联系电话,
联系方式, 号码, 移动电话, 手機, 手機號碼, 電話, 電話號碼, 聯絡電話, 携帯, 携帯電話, 携帯番号,
電話番号, teléfono, móvil, celular, número, número de teléfono, téléphone, portable, numéro,
numéro de téléphone, telefone, telemóvel, número de telefone, handphone, nomor, nomor hp, no hp,
nomor telepon, telepon, no telp, telp, hp, số điện thoại, điện thoại, sđt, di động, फ़ोन,
मोबाइल, फ़ोन नंबर, मोबाइल नंबर, телефон, мобильный, номер телефона, номер, هاتف, جوال,
رقم الهاتف, رقم الجوال, 전화번호, 휴대폰, 전화, 핸드폰, telefon, handy, telefonnummer, telefoon,
cellulare, เบอร์โทร, โทรศัพท์
"""
# Too generic to trust inside a longer header ("Order number", "身份证号码"), and alone they
# name part, booking and invoice numbers as often as phones: found_by stays "content".
_GENERIC_PHONE_HEADERS = "number, número, numéro, nomor, номер, 号码"
# Words of a mobile's header: with several phone columns and no --phone-column, these first.
_MOBILE_HEADERS = """
mobile, mobile phone, cell, cellphone, cell phone, cellular, handy, mobil, mobiltelefon,
celular, móvil, movil, portable, telemóvel, cellulare, gsm, handphone, hp, whatsapp, 手机,
手機, 移动电话, 行動電話, 携帯, ケータイ, di động, मोबाइल, мобильный, мобильный телефон, сотовый,
جوال, 휴대폰, 핸드폰, มือถือ
"""
# A phone column of someone else than the contact: left out when the contact's own are there.
_OTHER_PERSON_HEADERS = """
assistant, assistant s, company, company main, emergency, fax, pager, manager, spouse,
parent, guardian, referrer, secretary, 传真, 傳真, ファックス, факс
"""
# Headers of columns whose digits look like phones but are not ("Customer ID", "Order no"):
# a do-not-call list's columns are otherwise taken by their cells alone.
_NOT_A_PHONE_HEADERS = """
id, identifier, code, zip, zip code, postcode, postal code, account, order, invoice, reference,
ref, customer no, customer number, member no, member number, amount, total, date, year
"""
# Other words of the headers Chinese, Japanese and Korean offices write (name, customer, city,
# note...): with the phone and region words they tell which CJK codec a CSV's bytes are in.
_CJK_HEADERS = """
姓名, 名字, 名称, 客户, 客户名称, 客户编号, 编号, 序号, 备注, 城市, 地址, 公司, 部门, 性别, 年龄,
邮箱, 日期, 客戶, 客戶名稱, 客戶編號, 編號, 序號, 備註, 地址, 公司名稱, 部門, 性別, 氏名, 名前,
顧客, 会社, 会社名, 住所, 備考, 番号, 部署, 都道府県, 이름, 성명, 고객, 고객명, 주소, 비고, 회사,
부서, 번호, 도시
"""
_REGION_HEADERS = """
region, country, country code, country_code, country region, nation, iso, iso code, 国家, 地区,
国家/地区, 国家代码, 國家, 地區, país, pays, code pays, negara, kode negara, quốc gia, страна,
الدولة, بلد, 국가, देश, land, 国, 国名
"""


def norm(value: object) -> str:
    """Header text folded for matching: case, accents, punctuation and spacing ignored."""
    if not isinstance(value, str):
        return ""
    if value.isascii():  # the common case, without the per-character loop
        return " ".join(_NOT_ALNUM.sub(" ", value.lower()).split())
    chars = []
    for ch in unicodedata.normalize("NFKD", value).casefold():
        category = unicodedata.category(ch)
        if category != "Mn":  # accents; Indic vowel signs (Mc) are kept
            chars.append(ch if category[0] in "LNM" else " ")
    return " ".join("".join(chars).replace("đ", "d").split())


def _is_cjk(ch: str) -> bool:
    """A Han, kana or Hangul character."""
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL"))


def _mention_pattern(keywords: frozenset[str]) -> re.Pattern[str]:
    """One regex finding any keyword in a folded header: whole words for Latin, else anywhere."""
    latin = sorted((k for k in keywords if k.isascii()), key=len, reverse=True)
    other = sorted((k for k in keywords if not k.isascii()), key=len, reverse=True)
    words = "|".join(map(re.escape, latin))
    pattern = f"(?:^| )(?:{words})(?= |$)"
    return re.compile("|".join([pattern, *map(re.escape, other)]))


def _keywords(text: str) -> frozenset[str]:
    return frozenset(norm(k) for k in text.split(",") if k.strip())


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
PHONE_EXACT = _keywords(_PHONE_HEADERS)
GENERIC_EXACT = _keywords(_GENERIC_PHONE_HEADERS)
PHONE_MENTION = _mention_pattern(PHONE_EXACT - GENERIC_EXACT)
MOBILE_MENTION = _mention_pattern(_keywords(_MOBILE_HEADERS))
NOT_THE_CONTACT = _mention_pattern(_keywords(_OTHER_PERSON_HEADERS))
NOT_A_PHONE = _mention_pattern(_keywords(_NOT_A_PHONE_HEADERS))
REGION_EXACT = _keywords(_REGION_HEADERS)
REGION_MENTION = _mention_pattern(REGION_EXACT - _keywords("iso, land, 国"))
_CJK_WORDS = sorted(
    {
        k
        for k in PHONE_EXACT
        | REGION_EXACT
        | _keywords(_CJK_HEADERS)
        | _keywords(_MOBILE_HEADERS)
        | _keywords(_OTHER_PERSON_HEADERS)
        if any(_is_cjk(ch) for ch in k)
    },
    key=len,
    reverse=True,
)


def cjk_header_words(header: str) -> int:
    """How many CJK header words batcher knows a header line holds (its cells split on any
    punctuation): the evidence that a CJK codec read a CSV's bytes right."""
    folded = norm(header)
    return sum(1 for cell in folded.split(" ") if cell and cell in _CJK_SET)


_CJK_SET = frozenset(_CJK_WORDS)


def column_position(spec: str) -> int | None:
    """0-based column from a letter ("B") or a 1-based position ("2"); None otherwise."""
    spec = spec.strip()
    if spec.isascii() and spec.isdigit():
        return int(spec) - 1 if 1 <= int(spec) <= MAX_COLUMNS else None
    if re.fullmatch(r"[A-Za-z]{1,3}", spec) and column_index(spec) < MAX_COLUMNS:
        return column_index(spec)
    return None


def column_index(letters: str) -> int:
    """0-based column of a letter name: "A" -> 0, "AA" -> 26."""
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - ord("A") + 1
    return index - 1


def letter(index: int) -> str:
    """The letter name of a 0-based column: 0 -> "A", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
