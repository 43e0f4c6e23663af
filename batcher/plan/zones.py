"""Time-zone names as people know them today.

phonenumbers' time-zone data still uses some names the IANA database renamed long ago
(Asia/Calcutta for Asia/Kolkata, Asia/Saigon for Asia/Ho_Chi_Minh); zoneinfo accepts both, but
a reason shown to the operator should say the current one.

    >>> canonical_zone("Asia/Calcutta")
    'Asia/Kolkata'
    >>> canonical_zone("Europe/London")
    'Europe/London'

Only renames are mapped, never merges: Europe/Bratislava stays itself even though the
database now links it to Europe/Prague. This module imports nothing else of batcher.
"""

from __future__ import annotations

# old spelling -> current name, from the IANA database's "backward" file (renames only)
_RENAMED = {
    "Africa/Asmera": "Africa/Asmara",
    "Africa/Timbuktu": "Africa/Bamako",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Catamarca": "America/Argentina/Catamarca",
    "America/Cordoba": "America/Argentina/Cordoba",
    "America/Godthab": "America/Nuuk",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Jujuy": "America/Argentina/Jujuy",
    "America/Louisville": "America/Kentucky/Louisville",
    "America/Mendoza": "America/Argentina/Mendoza",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Chongqing": "Asia/Shanghai",
    "Asia/Dacca": "Asia/Dhaka",
    "Asia/Istanbul": "Europe/Istanbul",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Macao": "Asia/Macau",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Thimbu": "Asia/Thimphu",
    "Asia/Ujung_Pandang": "Asia/Makassar",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Europe/Kiev": "Europe/Kyiv",
    "Europe/Uzhgorod": "Europe/Kyiv",
    "Europe/Zaporozhye": "Europe/Kyiv",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Samoa": "Pacific/Pago_Pago",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Yap": "Pacific/Chuuk",
}


def canonical_zone(name: str) -> str:
    """The current IANA name of a time zone (an old spelling renamed; anything else as is)."""
    return _RENAMED.get(name, name)
