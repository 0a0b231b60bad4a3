"""Personal information in log text, masked before it reaches any report or export.

Government forms put resident ID numbers, mobile numbers and bank cards in query strings, and
attackers' payloads carry whatever they stole. Only values that really are such numbers are
masked (an ID number must pass the GB 11643 check digit, a card the Luhn check), so order
numbers and timestamps stay readable.
"""

from __future__ import annotations

import re

_ID = re.compile(r"(?<![0-9])([1-9][0-9]{5})((?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
                 r"([0-9]{3})([0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")
_CARD = re.compile(r"(?<![0-9])([0-9]{13,19})(?![0-9])")
#: Nothing shorter than 11 digits in a row can be one of them.
_CANDIDATE = re.compile(r"[0-9]{11}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_valid(number: str) -> bool:
    """GB 11643-1999 check digit of an 18-character resident identity number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
    return (sum(odd) + sum(even)) % 10 == 0


def mask_pii(text: str) -> str:
    """The text with ID numbers (620102********1234), mobiles (138****5678) and cards (6222********1234) masked."""
    if not text or not _CANDIDATE.search(text):
        return text

    def id_sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        return whole[:6] + "*" * 8 + whole[-4:] if id_number_valid(whole) else whole

    def card_sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        return whole[:4] + "*" * (len(whole) - 8) + whole[-4:] if luhn_valid(whole) else whole

    text = _ID.sub(id_sub, text)
    text = _CARD.sub(card_sub, text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
