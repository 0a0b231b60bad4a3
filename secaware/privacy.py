"""Personal information in text: resident ID numbers, mobile numbers and bank card numbers, found and masked.

Used on everything the compliance table and the reports show: government forms put these numbers
in query strings, and attackers' payloads carry whatever they stole.

Only numbers that are valid are reported, so article ids, timestamps and upload file names do not
pass for personal information: a resident ID number (GB 11643-1999) must have a province code, a
real birth date and the right check character; a bank card number must have a known issuer prefix
and pass the Luhn check; a mobile number must be 11 digits starting 13-19. Whatever is found is only
ever shown masked (`620102********1234`, `138****5678`, `622202*********1234`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

#: A run of digits standing alone: not inside a longer run of letters and digits (a hex token such as a search
#: engine's `link?url=a13812345678b` is not a phone number), but after a separator, also a percent-encoded one.
_TOKEN = re.compile(r"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{2}))(\+?86)?([0-9]{10,18}[0-9Xx])(?![0-9A-Za-z])")
#: What a cheap pre-filter over many rows looks for before the exact check (Rust regex, no look-around).
CANDIDATE_REGEX = r"[0-9]{11}"
_CANDIDATE = re.compile(CANDIDATE_REGEX)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: First two digits of the address code: the provinces, regions and municipalities of GB/T 2260 (and 71, 81, 82).
_PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
              61, 62, 63, 64, 65, 71, 81, 82}
#: Issuer prefixes of cards in use in China: UnionPay 62, Visa 4, Mastercard 51-55 and 2221-2720, JCB 35,
#: and the 19-digit ICBC debit cards 9558.
_CARD_PREFIX = re.compile(r"^(?:62|4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|35|9558)")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")

ID_NUMBER = "身份证号"
MOBILE = "手机号"
BANK_CARD = "银行卡号"


@dataclass(frozen=True)
class Found:
    kind: str  # 身份证号, 手机号, 银行卡号
    masked: str
    start: int
    end: int


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def valid_id_number(text: str) -> bool:
    """An 18-character resident ID number with a province code, a real birth date and the right check char."""
    if len(text) != 18 or not text[:17].isdigit() or int(text[:2]) not in _PROVINCES:
        return False
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    return id_check_char(text[:17]) == text[17].upper()


def luhn_ok(digits: str) -> bool:
    """The Luhn (ISO/IEC 7812) check that bank card numbers carry in their last digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def valid_bank_card(text: str) -> bool:
    return text.isdigit() and 16 <= len(text) <= 19 and bool(_CARD_PREFIX.match(text)) and luhn_ok(text)


def valid_mobile(text: str) -> bool:
    return bool(_MOBILE.match(text))


def mask(kind: str, value: str) -> str:
    """620102********1234, 138****5678, 622202*********1234: enough to recognise, not enough to use."""
    if kind == MOBILE:
        return value[:3] + "****" + value[-4:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def find(text: str | None) -> list[Found]:
    """Every valid resident ID, mobile and bank card number in text, masked."""
    if not text:
        return []
    out = []
    for m in _TOKEN.finditer(text):
        prefix, value = m.group(1) or "", m.group(2)
        if not prefix and valid_id_number(value):
            kind = ID_NUMBER
        elif valid_mobile(value):
            kind = MOBILE
        elif not prefix and valid_bank_card(value):
            kind = BANK_CARD
        else:
            continue
        out.append(Found(kind, prefix + mask(kind, value), m.start(), m.end()))
    return out


def mask_text(text: str | None) -> str | None:
    """text with every valid personal number masked; used on everything the table and the reports show."""
    if not text or not _CANDIDATE.search(text):
        return text
    found = find(text)
    for f in reversed(found):
        text = text[:f.start] + f.masked + text[f.end:]
    return text


def mask_pii(text: str) -> str:
    """mask_text for text that is never None (the report's filters)."""
    return mask_text(text) or text
