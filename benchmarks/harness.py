"""Figures, timing and the one table `make bench` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    part: str  # "ingest", "bidder", ...
    name: str  # what was measured
    value: float
    unit: str  # "events/s", "ms", ...
    baseline: str = ""  # name of the figure this one is compared to, in the same part
    note: str = ""


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` -> seconds (monotonic)."""
    start = time.perf_counter()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.perf_counter()) - start
    finally:
        end.append(time.perf_counter())


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The shortest of `repeats` timings of `fn()`, seconds: the least-disturbed run."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return min(timings)


def render(figures: list[Figure]) -> str:
    by_name = {(f.part, f.name): f for f in figures}
    header = f"{'part':<10} {'figure':<52} {'value':>14} {'unit':<12} {'ratio':>8}  note"
    lines = [header, "-" * len(header)]
    for f in figures:
        ratio = ""
        base = by_name.get((f.part, f.baseline)) if f.baseline else None
        if base and base.value:
            ratio = f"{f.value / base.value:.2f}"
        lines.append(
            f"{f.part:<10} {f.name:<52} {f.value:>14,.1f} {f.unit:<12} {ratio:>8}  {f.note}"
        )
    return "\n".join(lines)
