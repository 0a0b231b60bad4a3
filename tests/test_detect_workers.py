"""The threads detection works on: results in order, a key always on the same thread, levels that
wait for each other never stuck."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from secaware.detect.workers import run_all


def _thread() -> str:
    return threading.current_thread().name


def test_results_come_back_in_order_and_a_key_keeps_its_thread() -> None:
    keys = [f"(?i)rule-{n}" for n in range(40)]
    first = run_all("test", [_thread] * len(keys), keys)
    again = run_all("test", [_thread] * len(keys), keys)
    assert first == again  # the same expression is searched on the same thread every chunk
    assert len(set(first)) > 2  # and the work is spread over several
    assert run_all("test", [partial(pow, n, 2) for n in range(40)], keys) == [n * n for n in range(40)]


def test_a_level_waiting_for_another_is_never_stuck() -> None:
    """A column's scan waits for its expressions' searches, run on the expressions' own threads."""
    def column(n: int) -> int:
        return sum(run_all("test-inner", [partial(pow, n, k) for k in range(8)], [f"p{k}" for k in range(8)]))

    got = run_all("test-outer", [partial(column, n) for n in range(16)], [f"c{n}" for n in range(16)])
    assert got == [sum(n ** k for k in range(8)) for n in range(16)]


def test_an_error_in_a_task_reaches_the_caller() -> None:
    def broken() -> None:
        raise ValueError("regex parse error")

    with pytest.raises(ValueError, match="regex parse error"):
        run_all("test", [_thread, broken], ["a", "b"])
