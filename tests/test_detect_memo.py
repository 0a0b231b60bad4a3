"""Answers remembered between chunks (memo.py) and distinct values found by hashing: faster, never different."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from secaware.detect.decode import decode_series
from secaware.detect.memo import ValueMemo
from secaware.detect.prefilter import distinct_rows
from tests.test_detect_equivalence import web_event_lines


@pytest.fixture(scope="module")
def requests(datasets: Path) -> pl.Series:
    """Request URLs of the Elastic Apache logs: real traffic, repeating as real traffic does."""
    lines = (datasets / "elastic_apache_logs" / "apache_logs_17-18may").read_text("utf-8").splitlines()
    return pl.Series("v", [line.split('"')[1] if line.count('"') >= 2 else line for line in lines])


def _decoded(values: pl.Series, asked: list[int]) -> pl.DataFrame:
    asked.append(values.len())
    return pl.DataFrame({"decoded": decode_series(values, plus_is_space=True),
                         "select": values.str.contains("(?i)select").fill_null(False)})


def test_values_seen_before_are_answered_from_the_memo(requests: pl.Series) -> None:
    memo, asked = ValueMemo(), []
    first, second = requests.head(2500).unique(), requests.slice(1500, 3000).unique()
    memo.lookup("q", first, lambda v: _decoded(v, asked))
    got = memo.lookup("q", second, lambda v: _decoded(v, asked))
    assert got.equals(_decoded(second, []))
    assert asked[0] == first.len()
    assert 0 < asked[1] < second.len() - 200  # only the values the first chunk did not hold
    assert asked[1] == second.len() - second.is_in(first.implode()).sum()
    # another question about the same values is never answered from the first one's table
    other = memo.lookup("other", second, lambda v: pl.DataFrame({"decoded": v}))
    assert other.get_column("decoded").equals(second)


def test_nulls_and_empty_text_are_values_like_any_other() -> None:
    memo, asked = ValueMemo(), []
    values = pl.Series("v", ["%27or%201=1", None, "", "a+b"])
    memo.lookup("q", values, lambda v: _decoded(v, asked))
    again = memo.lookup("q", pl.Series("v", [None, "x", "", "%27or%201=1"]), lambda v: _decoded(v, asked))
    assert asked == [4, 1]
    assert again.get_column("decoded").to_list() == [None, "x", "", "'or 1=1"]


def test_the_memo_stays_within_its_bounds_and_stays_right(requests: pl.Series) -> None:
    memo = ValueMemo(max_values=1000, max_bytes=100_000, max_tables=2)
    chunks = [requests.slice(start, 900).unique() for start in range(0, requests.len(), 450)]
    for i, chunk in enumerate(chunks):
        got = memo.lookup(("q", i % 3), chunk, lambda v: _decoded(v, []))
        assert got.equals(_decoded(chunk, []))
        tables = memo._tables
        assert len(tables) <= 2
        assert sum(used for _, used in tables.values()) <= 100_000
        assert all(table.height <= 1000 for table, _ in tables.values())


def test_distinct_rows_by_hash_match_distinct_rows_by_text(datasets: Path) -> None:
    from secaware.detect.engine import matchable
    from secaware.schema import EVENTS, conform
    from tests.conftest import parse_frame

    lines = web_event_lines(datasets, [])
    events = matchable(conform(parse_frame("combined", lines).filter(pl.col("_reject").is_null()), EVENTS).collect())
    keys = events.select("http_request", "user_agent", "http_status")
    uniq, codes = distinct_rows(keys)
    assert uniq.height == keys.unique().height < keys.height
    assert uniq[codes].equals(keys)


def test_values_made_to_collide_are_still_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Log content is hostile: should an attacker make a payload hash like a harmless request, the
    two still get their own answers (here every value hashes alike)."""
    monkeypatch.setattr(pl.DataFrame, "hash_rows", lambda self, seed=0: pl.Series(np.zeros(self.height, np.uint64)))
    keys = pl.DataFrame({"v": ["/index.html", "/?id=1' union select 1--", "/index.html", None]})
    uniq, codes = distinct_rows(keys)
    assert uniq.height == 3
    assert uniq[codes].equals(keys)


def test_values_whose_hashes_collide_get_their_own_answers(requests: pl.Series,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo joins on a 64-bit hash and then compares the text: log content is hostile, and a
    request made to hash like a harmless one must not get the harmless one's answer. Forced here:
    every value hashes alike."""
    from secaware.detect import memo as memo_module

    monkeypatch.setattr(memo_module, "value_hash", lambda value: pl.lit(7, dtype=pl.UInt64))
    memo = ValueMemo()
    chunks = [requests.slice(start, 300).unique(maintain_order=True) for start in (0, 150, 300, 0)]
    for chunk in chunks:
        got = memo.lookup("k", chunk, lambda v: _decoded(v, []))
        assert got.equals(_decoded(chunk, []))
    assert memo._tables["k"][0].height == 1  # one row per hash: the join never fans out
