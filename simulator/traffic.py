"""`TrafficWindow`: which simulated exchange traffic to generate — the one place it is checked.

`bidlake simulate`, `bidlake replay` and their Python and Dagster callers all draw the same
traffic from the same four numbers: the seed (the world and every minute's draws), the
first UTC hour, the number of hours and the mean request rate. A `TrafficWindow` checks
them when it is built, with errors that name the field, so a window that exists is valid.
Light imports only: the CLI builds one before loading numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from numbers import Integral, Real

DEFAULT_START = "2026-01-05T00"


def parse_start(text: str) -> datetime:
    """`2026-01-05T00` (or any ISO form of a UTC hour) → an aware UTC datetime; the hour
    is checked to be whole by `TrafficWindow`."""
    try:
        value = datetime.fromisoformat(text if len(text) > 13 else text + ":00")
    except ValueError:
        raise ValueError(f"start: not an ISO date-hour like {DEFAULT_START}: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class TrafficWindow:
    """`hours` whole UTC hours of traffic from `start`, `rate` bid requests per simulated
    second on average (the diurnal curve averages to it), drawn from `seed`."""

    start: datetime  # aware, UTC, a whole hour
    hours: int = 1
    rate: float = 50.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def parse(
        cls, start: str | datetime, *, hours: int = 1, rate: float = 50.0, seed: int = 0
    ) -> TrafficWindow:
        """A window from config values: `start` as an ISO date-hour (`2026-01-05T00`)."""
        return cls(
            start=parse_start(start) if isinstance(start, str) else start,
            hours=hours,
            rate=rate,
            seed=seed,
        )

    def validate(self) -> None:
        """Raises ValueError naming the first field that is wrong."""
        start = self.start
        if not isinstance(start, datetime) or start.utcoffset() != timedelta(0):
            raise ValueError(f"start must be a UTC datetime, got {start!r}")
        if start.minute or start.second or start.microsecond:
            raise ValueError(f"start must be a whole hour, got {start.isoformat()}")
        if not _is_int(self.hours) or self.hours < 1:
            raise ValueError(f"hours must be a whole number >= 1, got {self.hours!r}")
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, Real) or not 0 < rate < math.inf:
            raise ValueError(f"rate must be a number > 0 (requests/s), got {rate!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")

    @property
    def first_minute(self) -> int:
        """The first minute of the window, in minutes since the Unix epoch."""
        return int(self.start.timestamp()) // 60

    @property
    def minutes(self) -> int:
        return self.hours * 60

    @property
    def end(self) -> datetime:
        """The first hour after the window."""
        return self.start + timedelta(hours=self.hours)

    def split(self, parts: int) -> list[TrafficWindow]:
        """Consecutive sub-windows of whole hours, as even as possible, at most `parts`."""
        n = max(1, min(parts, self.hours))
        base, extra = divmod(self.hours, n)
        windows, offset = [], 0
        for i in range(n):
            hours = base + (1 if i < extra else 0)
            windows.append(replace(self, start=self.start + timedelta(hours=offset), hours=hours))
            offset += hours
        return windows


def check_share(value: object, name: str = "first_price_share") -> float:
    """A share of the traffic, a number in [0, 1]; ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= float(value) <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)
