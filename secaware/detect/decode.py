"""What the attacker sent: URL and escape decoding of the text that rules match against.

Attackers encode payloads to slip past signatures: `%27` for a quote, `%252e%252e%252f` (double
encoding) for `../`, `+` for a space in query strings, `%u0027` (IIS), and nginx writes bytes it
will not log as `\\xHH`, Apache a double quote as `\\"`. Rules are written against the decoded
text, so the columns a rule can look at are decoded here, for matching only: the store keeps every
value exactly as logged.

Clean values cost one literal scan (`%`, `\\x`, `&#`, `\\"`, and `+` where it means a space) and are left
as they are. Values with only percent-escapes, by far the most common encoding (Chinese search
terms, encoded query strings), are decoded for a whole column at once on the column's bytes
(numpy); what that cannot vouch for (`\\xHH`, `\\"`, `%uXXXX`, entities, bytes that are not UTF-8) goes
through `decode_value`, which defines the result: both give the same text for every value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache, partial
from urllib.parse import unquote_to_bytes

import numpy as np
import polars as pl
import pyarrow as pa

from secaware.detect.memo import MEMO
from secaware.detect.prefilter import repeated_rows
from secaware.detect.workers import run_all

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

#: Columns holding whole log lines (decoded a quoted field at a time).
LINE_COLUMNS = frozenset({"raw", "message"})
#: Literal marks of every value decode_value may change (`+` only where it means a space).
_MARKS = ("%", "\\x", "&#", '\\"')
#: Values the column-at-once path leaves to decode_value.
_HARD = r"\\x|%[uU][0-9A-Fa-f]{4}|&#|\\\""
_ESCAPE = r"%[0-9A-Fa-f]{2}"

#: Columns longer than this are decoded in pieces side by side.
PIECE_ROWS = 100_000
_ROUNDS = 3  # %25252e is three layers deep; more is not seen in practice and bounds the work
_NGINX = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_IIS_UNICODE = re.compile(r"%[uU]([0-9A-Fa-f]{4})")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,6})|([0-9]{1,7}));?")


def _text(data: bytes) -> str:
    """Bytes to text: UTF-8, else GB18030 (Chinese government forms still post GBK), else lossy.

    GB18030 is taken only where it keeps every ASCII byte a character of its own. Its two-byte
    characters may end in an ASCII letter (0x40-0x7E) and its four-byte ones hold digits, so one
    stray high byte would swallow the letter after it: `%a0union%a0select%a0password` read as
    GB18030 hides every keyword (`?nion?elect?assword`). The GBK of real forms (GB2312's common
    characters, both bytes high) is unaffected; anything else is read as UTF-8 with each invalid
    byte replaced, which never touches an ASCII byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and len(text.encode("ascii", "ignore")) == len(data.translate(None, _HIGH_BYTES)):
        return text
    return data.decode("utf-8", errors="replace")


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _entity(m: re.Match[str]) -> str:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group(0)


@lru_cache(maxsize=65536)
def decode_value(value: str, plus_is_space: bool = False) -> str:
    """One value as the application would see it after all the decoding layers an attacker used."""
    text = value
    if '\\"' in text:  # Apache's escape of a double quote in the request, referer and user agent
        text = text.replace('\\"', '"')
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
    return decode_changes(values, plus_is_space=plus_is_space)[0]


def decode_changes(values: pl.Series, *, plus_is_space: bool, lines: bool = False
                   ) -> tuple[pl.Series, pl.Series | None]:
    """The decoded column and where it differs from the input (None when nowhere).

    With lines=True the values are whole log lines, decoded a quoted field at a time (`_decode_lines`).
    """
    values = values.cast(pl.String)
    maybe = _has_marks(values, plus_is_space)
    if not maybe.any():
        return values, None
    where = maybe.arg_true()
    logged = values.gather(where)
    repeated = repeated_rows(logged.to_frame(), 0.5)
    if repeated is not None:  # query strings, referers: the same few values over and over
        decoded = _decode_repeated(repeated, plus_is_space, logged.name)[0].alias(logged.name)
    elif lines:  # log lines: each its own, but the fields between their quotes repeat
        decoded = _decode_lines(logged, plus_is_space)
    else:
        decoded = _decode_many(logged, plus_is_space)[0]
    differs = decoded != logged
    if not differs.any():
        return values, None
    where, decoded = where.filter(differs), decoded.filter(differs)
    out = values.clone().scatter(where, decoded)
    changed = pl.zeros(values.len(), pl.Boolean, eager=True).scatter(where, True)
    return out, changed


def _marks(plus_is_space: bool) -> list[str]:
    """The literal marks of a value decode_value may change (`+` only where it means a space)."""
    return [*_MARKS, "+"] if plus_is_space else list(_MARKS)


def _has_marks(values: pl.Series, plus_is_space: bool) -> pl.Series:
    """Which values hold one of the marks (null: no).

    As one regular expression of the escaped marks, which Rust's regex searches for together with
    its SIMD literal search: `str.contains_any` ran Aho-Corasick's automaton over every byte of
    the columns where `+` is a mark, three times slower (measured on a chunk's request lines:
    0.050 s against 0.015 s; 0.015 against 0.016 where it is not).
    """
    return values.str.contains("|".join(map(pl.escape_regex, _marks(plus_is_space)))).fill_null(False)


def _decode_repeated(repeated: tuple[pl.DataFrame, np.ndarray], plus_is_space: bool, column: str,
                     ) -> tuple[pl.Series, np.ndarray]:
    """_decode_many of values that repeat (`repeated_rows`: their distinct values, each row's): each
    distinct value decoded once, and one decoded in an earlier chunk looked up (memo.py).

    The memo is asked per column: lookups of one key wait for each other, and the columns are
    decoded side by side (the same query string in two columns is rare anyway)."""
    distinct, codes = repeated

    def decode(new: pl.Series) -> pl.DataFrame:
        decoded, slow = _decode_many(new, plus_is_space)
        return pl.DataFrame({"decoded": decoded, "slow": slow})

    answers = MEMO.lookup(("decode", column, plus_is_space), distinct.to_series(), decode)
    return answers.get_column("decoded").gather(codes), answers.get_column("slow").gather(codes).to_numpy()


def _decode_lines(lines: pl.Series, plus_is_space: bool) -> pl.Series:
    """decode_value of each log line, decoded a piece between quotes at a time where that is exact.

    A log line is mostly quoted fields that repeat (the request, the referer, the user agent), so its
    pieces go through the memo like any repetitive column, and only a line's own text is new.
    Every step of decode_value but one replaces escapes (`%XX`, `%uXXXX`, `\\xHH`, `&#..;`, `+`) that
    never hold a quote, so it gives each piece between two quotes what it gives the piece inside the
    whole line, with two exceptions: Apache's `\\"` holds the quote it stands for, and the bytes of a
    round are read as UTF-8, else as GB18030, for the whole value at once. A line is therefore put
    together from its pieces only where it holds no `\\"` and every piece decoded as UTF-8 with no
    escape but percent-escapes (`_decode_many`'s fast path); the others are decoded whole. (Measured
    on a chunk's 55k encoded log lines: 0.25 s decoded whole.)
    """
    pieces = lines.str.split('"')
    counts = pieces.list.len().to_numpy()
    flat = pieces.explode()
    where = _has_marks(flat, plus_is_space).arg_true()
    slow_lines = lines.str.contains('\\"', literal=True).fill_null(False).to_numpy().copy()
    if len(where):
        todo = flat.gather(where)
        repeated = repeated_rows(todo.to_frame(), 0.5)
        decoded, slow = (_decode_many(todo, plus_is_space) if repeated is None
                         else _decode_repeated(repeated, plus_is_space, lines.name))
        flat = flat.scatter(where, decoded)
        line_of_piece = np.repeat(np.arange(lines.len()), counts)
        slow_lines[line_of_piece[where.to_numpy()[slow]]] = True
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    joined = pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), flat.to_arrow())).list.join('"')
    if slow_lines.any():
        whole = np.flatnonzero(slow_lines)
        joined = joined.scatter(whole, _decode_many(lines.gather(whole), plus_is_space)[0])
    return joined.alias(lines.name)


def _decode_many(values: pl.Series, plus_is_space: bool) -> tuple[pl.Series, np.ndarray]:
    """decode_value of each of these (non-null) values, the percent-only ones a column at a time;
    and which of them decode_value itself decoded (escapes other than %XX, bytes that are not UTF-8)."""
    hard = values.str.contains(_HARD)
    easy = (~hard).arg_true()
    out = values.clone()
    fallback = hard.arg_true().to_numpy()
    if len(easy):
        text = values.gather(easy)
        if plus_is_space:
            text = text.str.replace_all("+", " ", literal=True)
        text, failed = _percent_rounds(text)
        out = out.scatter(easy, text)
        fallback = np.union1d(fallback, easy.to_numpy()[failed])
    slow = np.zeros(values.len(), dtype=bool)
    if len(fallback):
        slow_values = [decode_value(v, plus_is_space) for v in values.gather(fallback).to_list()]
        out = out.scatter(fallback, pl.Series(slow_values, dtype=pl.String))
        slow[fallback] = True
    return out, slow


def _percent_rounds(text: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """decode_value's percent rounds for values free of \\x, %u and entities.

    Returns the text and where decode_value must decide instead: bytes that are not UTF-8 (it reads
    them as GB18030), a %u escape or an entity that decoding uncovered. Each round looks again
    only at the values the previous one changed.
    """
    failed = np.zeros(text.len(), dtype=bool)
    todo = text.str.contains(_ESCAPE).arg_true()
    decoded = []
    for _ in range(_ROUNDS):
        if not len(todo):
            break
        out, ok = _unquote(text.gather(todo))
        again = out.str.contains(_ESCAPE).to_numpy()
        text = text.scatter(todo, out)
        positions = todo.to_numpy()
        failed[positions[~ok]] = True
        decoded.append(positions[ok])
        todo = pl.Series(positions[again & ok], dtype=pl.UInt32)
    if decoded:
        changed = np.unique(np.concatenate(decoded))
        failed[changed] |= text.gather(changed).str.contains(_HARD).to_numpy()
    return text, failed


#: Value of each byte as a hex digit, -1 if it is none.
_HEX = np.full(256, -1, dtype=np.int16)
for _digit in b"0123456789abcdefABCDEF":
    _HEX[_digit] = int(chr(_digit), 16)


def _unquote(text: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """One round of urllib's unquote_to_bytes on every value (non-null, each with an escape), then UTF-8.

    Returns the decoded values and which of them are UTF-8; those that are not keep their input.
    """
    arr = text.to_arrow(compat_level=pl.CompatLevel.oldest())
    n = len(arr)
    bounds = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[bounds[0]: bounds[-1]]
    bounds = bounds - bounds[0]
    at = np.flatnonzero(data[:-2] == ord("%"))
    high, low = _HEX[data[at + 1]], _HEX[data[at + 2]]
    ends = bounds[np.searchsorted(bounds, at, side="right")]  # end of the value each % is in
    valid = (high >= 0) & (low >= 0) & (at + 2 < ends)
    at, byte = at[valid], (high[valid] * 16 + low[valid]).astype(np.uint8)
    out = data.copy()
    out[at] = byte
    keep = np.ones(len(data), dtype=bool)
    keep[at + 1] = keep[at + 2] = False
    out = out[keep]
    new_bounds = bounds - 2 * np.searchsorted(at, bounds, side="left")
    binary = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(new_bounds),
                                                                    pa.py_buffer(out)])
    ok = _utf8(binary)
    if ok.all():
        return pl.Series(binary.cast(pa.large_string())), ok
    good = pl.Series(binary.filter(pa.array(ok)).cast(pa.large_string()))
    return text.scatter(np.flatnonzero(ok), good), ok


def _utf8(binary: pa.LargeBinaryArray) -> np.ndarray:
    """Which values are UTF-8: Arrow validates blocks, halved around the few that are not."""
    ok = np.ones(len(binary), dtype=bool)
    blocks = [(0, len(binary))]
    while blocks:
        start, stop = blocks.pop()
        try:
            binary.slice(start, stop - start).cast(pa.large_string())
            continue
        except pa.ArrowInvalid:
            pass
        if stop - start <= 16:
            for i in range(start, stop):
                try:
                    binary[i].as_py().decode("utf-8")
                except UnicodeDecodeError:
                    ok[i] = False
        else:
            middle = (start + stop) // 2
            blocks += [(start, middle), (middle, stop)]
    return ok


def decode_frame(frame: pl.DataFrame, columns: Iterable[str] | None = None) -> pl.DataFrame:
    """The frame with its matchable text columns decoded (the columns it has, or those named; others untouched)."""
    return decode_frame_changes(frame, columns)[0]


def decode_frame_changes(frame: pl.DataFrame, columns: Iterable[str] | None = None
                         ) -> tuple[pl.DataFrame, pl.Series | None]:
    """decode_frame, and the rows where it changed some value (None when none).

    Columns, and long columns in pieces, are decoded in parallel threads (Polars, Arrow and numpy
    release the GIL): the whole log line is most of the work and would otherwise keep one CPU busy
    while the other waits.
    """
    names = set(frame.columns if columns is None else columns) & set(frame.columns)
    todo = [(name, plus) for name, plus in DECODED_COLUMNS.items() if name in names]
    workers = os.cpu_count() or 1
    size = max(PIECE_ROWS, -(-frame.height // workers))
    pieces = [(name, plus, start) for name, plus in todo for start in range(0, max(frame.height, 1), size)]

    def one(piece: tuple[str, bool, int]) -> tuple[pl.Series, pl.Series | None]:
        name, plus, start = piece
        return decode_changes(frame[name].slice(start, size), plus_is_space=plus, lines=name in LINE_COLUMNS)

    done = run_all("decode", [partial(one, p) for p in pieces], pieces)
    updates, changed = [], None
    for name, _ in todo:
        parts = [(piece, result) for piece, result in zip(pieces, done, strict=True) if piece[0] == name]
        if all(differs is None for _, (_, differs) in parts):
            continue
        updates.append(pl.concat([decoded for _, (decoded, _) in parts]).alias(name))
        differs = pl.concat([d if d is not None else pl.zeros(v.len(), pl.Boolean, eager=True)
                             for _, (v, d) in parts])
        changed = differs if changed is None else changed | differs
    return (frame.with_columns(updates) if updates else frame), changed
