"""The threads detection works on, kept for the life of the process, each task on a thread of its own.

Polars releases the GIL, so rules and column scans run side by side in Python threads. Which
thread matters: Polars compiles a regular expression on the thread that runs it and keeps the
last 32 it compiled on that thread. Compiling is not cheap (about 1 ms for a typical rule of the
pack, 7 ms for the largest; 0.2 s for all of them), and a rule set has a few hundred expressions
between the prefilter's and the rules' own. Threads made afresh for every chunk start with nothing
compiled, and a few threads sharing all the expressions keep evicting each other's.

So each level of work has a fixed set of threads, and a task goes to the thread its key (the
expression searched for, the rule evaluated) names, every chunk the same one: a thread sees few
enough expressions to keep them all compiled. There are more threads than CPUs; the extra ones
cost little, because a thread waiting for its next task holds nothing.

Levels that wait for each other (a column's scan waits for its expressions' searches) have
separate thread sets, so a task never waits for a thread its own level holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: Threads per level, per CPU: enough that each keeps its share of a rule set's expressions compiled.
THREADS_PER_CPU = 4

_levels: dict[str, list[ThreadPoolExecutor]] = {}
_lock = threading.Lock()


def _threads(level: str) -> list[ThreadPoolExecutor]:
    with _lock:
        if level not in _levels:
            size = max(2, THREADS_PER_CPU * (os.cpu_count() or 1))
            _levels[level] = [ThreadPoolExecutor(1, thread_name_prefix=f"secaware-{level}-{i}") for i in range(size)]
        return _levels[level]


def run_all(level: str, calls: Sequence[Callable[[], T]], keys: Sequence[Hashable]) -> list[T]:
    """Each call's result, in order; call i run on the thread of `level` that keys[i] names.

    A single call runs on the calling thread: nothing to run beside it.
    """
    if len(calls) == 1:
        return [calls[0]()]
    threads = _threads(level)
    futures = [threads[hash(key) % len(threads)].submit(call) for call, key in zip(calls, keys, strict=True)]
    return [f.result() for f in futures]


__all__ = ["run_all"]
