"""What the attacker sent: URL and escape decoding of the text that rules match against.

Attackers encode payloads to slip past signatures: `%27` for a quote, `%252e%252e%252f` (double
encoding) for `../`, `+` for a space in query strings, `%u0027` (IIS), and nginx writes bytes it
will not log as `\\xHH`. Rules are written against the decoded text, so the columns a rule can look
at are decoded here, for matching only: the store keeps every value exactly as logged.

Decoding is done once per distinct value (web logs repeat the same URLs endlessly) and only for
values that contain something to decode, so clean traffic costs one regex scan.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote_to_bytes

import polars as pl

#: Column -> whether `+` means a space there (query strings and whole URLs, not paths or headers).
DECODED_COLUMNS: dict[str, bool] = {
    "url_query": True,
    "url_path": False,
    "http_request": True,
    "referer": True,
    "user_agent": False,
    "raw": False,
    "message": False,
}

#: A value needs decoding when it holds one of these.
NEEDS_DECODING = r"%[0-9A-Fa-f]{2}|%[uU][0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|\+|&#"

_ROUNDS = 3  # %25252e is three layers deep; more is not seen in practice and bounds the work
_NGINX = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_IIS_UNICODE = re.compile(r"%[uU]([0-9A-Fa-f]{4})")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,6})|([0-9]{1,7}));?")


def _text(data: bytes) -> str:
    """Bytes to text: UTF-8, else GB18030 (Chinese government forms still post GBK), else lossy."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _entity(m: re.Match[str]) -> str:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group(0)


@lru_cache(maxsize=65536)
def decode_value(value: str, plus_is_space: bool = False) -> str:
    """One value as the application would see it after all the decoding layers an attacker used."""
    text = value
    if "\\x" in text:
        text = _text(_NGINX.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogatepass")))
    if plus_is_space:
        text = text.replace("+", " ")
    for _ in range(_ROUNDS):
        if "%" not in text:
            break
        step = _IIS_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
        if _PERCENT.search(step):
            step = _text(unquote_to_bytes(step))
        if step == text:
            break
        text = step
    if "&#" in text:
        text = _ENTITY.sub(_entity, text)
    return text


def decode_series(values: pl.Series, *, plus_is_space: bool) -> pl.Series:
    """A column with every encoded value decoded; values with nothing to decode are left as they are."""
    values = values.cast(pl.String)
    encoded = values.str.contains(NEEDS_DECODING).fill_null(False)
    if not encoded.any():
        return values
    distinct = values.filter(encoded).unique()
    decoded = pl.Series([decode_value(v, plus_is_space) for v in distinct.to_list()], dtype=pl.String)
    lookup = dict(zip(distinct.to_list(), decoded.to_list(), strict=True))
    return values.replace_strict(lookup, default=values, return_dtype=pl.String)


def decode_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its matchable text columns decoded (the columns it has; others untouched)."""
    updates = [decode_series(frame[name], plus_is_space=plus).alias(name)
               for name, plus in DECODED_COLUMNS.items() if name in frame.columns]
    return frame.with_columns(updates) if updates else frame
