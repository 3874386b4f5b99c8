"""Timing shared by the benchmarks: the best wall-clock time of each side, in turns."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def best_times(fns: Sequence[Callable[[], object]], repeats: int,
               warmup: int = 1) -> list[tuple[float, object]]:
    """The best wall-clock seconds of each function over ``repeats`` rounds, and its result.

    Each round calls every function once, in turn (a, b, a, b, ...), after ``warmup``
    untimed rounds.  So all of them meet the same moments of a busy or throttled
    machine, and the ratio of their best times is steadier than when all the runs of
    one come first.  A function's previous result is dropped before it runs again, as
    a loop over batches would.

    Returns:
        One ``(seconds, result)`` per function, in the order of ``fns``: its best time
        and the result of its last call.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    best = [float("inf")] * len(fns)
    results: list[object] = [None] * len(fns)
    for round_ in range(warmup + repeats):
        for i, fn in enumerate(fns):
            results[i] = None  # free the previous output first
            start = time.perf_counter()
            results[i] = fn()
            if round_ >= warmup:
                best[i] = min(best[i], time.perf_counter() - start)
    return list(zip(best, results))
