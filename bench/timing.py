"""Timing shared by the benchmarks."""

from __future__ import annotations

import statistics
import time


def median_ms(run, repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
