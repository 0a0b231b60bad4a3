"""Per-value results remembered from one chunk of events to the next.

A night of web logs asks the same questions of the same text over and over: the same pages,
scripts and search forms are requested in every chunk, the same user agents and referers come
back. Measured on the detection benchmark's 5M events: a 500k-event chunk has 112k distinct
request lines, and 89% of its rows hold one an earlier chunk already had; all 5M hold 238k. The
prefilter's scans (literals and regular expressions over a column) and URL decoding are pure
functions of the value, so their answer for a value seen before is looked up, not computed again.

The memo is keyed by everything the answer depends on besides the value (the column's literals and
expressions, the decoding mode), so it can never return an answer to another question. It is
bounded: a table that outgrows its limits is started again from the values of the current chunk,
which costs speed on pathological input, never correctness or memory; and `secaware detect`
empties it when the night's chunks are matched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import polars as pl

#: Values one table keeps before it is started again.
MAX_VALUES = 1_000_000
#: Bytes of text all tables together may hold; past that, the least recently grown table goes.
MAX_BYTES = 256 * 2**20
#: Tables kept at once (one per column and rule set, or decoding mode); the least recently grown goes.
MAX_TABLES = 64

_VALUE = "__value"
_HASH = "__hash"
_HASH_SEED = 0x5EC
_SEEN = "__seen"


class ValueMemo:
    """Answers of pure per-value computations, by key (what was asked) and value."""

    def __init__(self, max_values: int = MAX_VALUES, max_bytes: int = MAX_BYTES, max_tables: int = MAX_TABLES):
        self.max_values, self.max_bytes, self.max_tables = max_values, max_bytes, max_tables
        self._tables: dict[Hashable, tuple[pl.DataFrame, int]] = {}
        self._lock = threading.Lock()
        self._asking: dict[Hashable, threading.Lock] = {}

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()
            self._asking.clear()

    def lookup(self, key: Hashable, values: pl.Series, compute: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
        """compute(values), one row per value, with the rows of values seen before under `key` taken
        from the memo; compute is called once, on the others only (if any).

        values must be distinct (a column's distinct values, nulls included); compute must return
        a frame of one row per value it is given, the same columns for the same key. Lookups of one
        key wait for each other: two threads adding the same new value would store it twice.
        """
        with self._lock:
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:
            return self._lookup(key, values, compute)

    def _lookup(self, key: Hashable, values: pl.Series, compute: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
        # joined on a 64-bit hash of the value, then the value compared: the table's text is not
        # hashed again for every lookup; a value whose hash another value holds is computed anew
        frame = values.alias(_VALUE).to_frame().with_columns(value_hash(pl.col(_VALUE)).alias(_HASH))
        with self._lock:
            table = self._tables.get(key, (None, 0))[0]
        if table is None:
            computed = compute(values)
            self._remember(key, frame, computed)
            return computed
        joined = frame.join(table, on=_HASH, how="left", maintain_order="left")
        stored = joined.get_column(_SEEN).is_not_null()
        seen = stored & joined.get_column(_VALUE).eq_missing(joined.get_column(_VALUE + "_right"))
        known = joined.drop(_VALUE, _HASH, _VALUE + "_right", _SEEN)
        if seen.all():
            return known
        new = (~seen).arg_true()
        computed = compute(values.gather(new))
        self._remember(key, frame[(~stored).arg_true()], computed.filter(~stored.gather(new)))
        return known.with_columns(known.get_column(c).scatter(new, computed.get_column(c)) for c in known.columns)

    def _remember(self, key: Hashable, values: pl.DataFrame, computed: pl.DataFrame) -> None:
        rows = pl.concat([values, computed], how="horizontal").with_columns(pl.lit(True).alias(_SEEN))
        rows = rows.unique(_HASH, keep="first", maintain_order=True)  # one row per hash: the join must not fan out
        size = rows.height * 16 + sum(int(rows.get_column(c).str.len_bytes().sum() or 0)
                                      for c, dtype in rows.schema.items() if dtype == pl.String)
        if rows.height > self.max_values or size > self.max_bytes:
            return  # one chunk's values alone exceed the bounds: not remembered
        with self._lock:
            table, used = self._tables.pop(key, (None, 0))
            if table is None or table.height + rows.height > self.max_values:
                table, used = rows, size  # started again: bounded, whatever the input
            else:
                table, used = table.vstack(rows), used + size
                if table.n_chunks() > 16:
                    table = table.rechunk()
            self._tables[key] = (table, used)
            while len(self._tables) > self.max_tables or sum(u for _, u in self._tables.values()) > self.max_bytes:
                oldest = next(iter(self._tables))
                del self._tables[oldest]
                self._asking.pop(oldest, None)


def value_hash(value: pl.Expr) -> pl.Expr:
    """The 64-bit hash a value is looked up by (its text decides: values that collide are told apart)."""
    return value.hash(_HASH_SEED)


#: The memo detection shares between chunks (and calls) in one process.
MEMO = ValueMemo()

__all__ = ["MEMO", "ValueMemo"]
