"""Columnar batches of events and the queue of events not yet due.

The simulator generates a minute at a time, but what a minute causes happens later: win
notices a few hundred ms after the request, clicks seconds to minutes after, conversions
up to 7 days after. Events wait here, as numpy columns (cheap: no Python objects), until
the minute they happen in is written; so the tracking logs come out in time order and an
hour's files can be closed as soon as the simulation has passed that hour.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

Batch = dict[str, np.ndarray]  # column -> array; every batch has "event_time" (int64 ms)


def size(batch: Batch) -> int:
    return len(batch["event_time"])


def take(batch: Batch, index: np.ndarray) -> Batch:
    return {name: column[index] for name, column in batch.items()}


def concat(batches: list[Batch]) -> Batch:
    if len(batches) == 1:
        return batches[0]
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


class Pending:
    """Events per type waiting for their time, split off in event-time order."""

    def __init__(self) -> None:
        self._batches: dict[str, list[Batch]] = defaultdict(list)

    def add(self, event_type: str, batch: Batch) -> None:
        if size(batch):
            self._batches[event_type].append(batch)

    def pop_before(self, time_ms: int | None) -> dict[str, Batch]:
        """The events with event_time < `time_ms` (all when None), sorted by time."""
        due: dict[str, Batch] = {}
        for event_type, batches in self._batches.items():
            if not batches:
                continue
            merged = concat(batches)
            times = merged["event_time"]
            ready = np.ones(len(times), dtype=bool) if time_ms is None else times < time_ms
            later = np.flatnonzero(~ready)
            self._batches[event_type] = [take(merged, later)] if len(later) else []
            now = np.flatnonzero(ready)
            if len(now):
                now = now[np.argsort(times[now], kind="stable")]
                due[event_type] = take(merged, now)
        return due
