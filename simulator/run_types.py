"""What `simulate` is asked (`SimulationConfig`) and what it reports (`SimulationSummary`).

Shared by the single-process run (`simulator.run`) and the parallel one
(`simulator.parallel`), so neither imports the other's module for its types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bidlake.campaigns import Campaign
from simulator.tally import TruthTally
from simulator.traffic import TrafficWindow, check_share
from simulator.world import WorldConfig

ProgressFn = Callable[[int, int, int], None]  # (minutes done, minutes in total, records)


@dataclass(frozen=True)
class SimulationConfig:
    """One simulated window of traffic and where (and how) its logs and truth go."""

    window: TrafficWindow
    landing: Path | None = None  # default home().landing
    truth: Path | None = None  # default home().truth
    fmt: Literal["jsonl", "protobuf"] = "jsonl"
    compress: bool = False
    duplicate_rate: float = 0.0
    corrupt_rate: float = 0.0
    campaigns: tuple[Campaign, ...] | None = None  # default: the shared campaign book
    world: WorldConfig = field(default_factory=WorldConfig)
    max_events_per_file: int = 1_000_000
    # Share of the requests the exchange auctions at first price (OpenRTB at=1), 0..1.
    first_price_share: float = 0.0

    def validate(self) -> None:
        """Checks the output options (the window checked itself when it was built)."""
        for name in ("duplicate_rate", "corrupt_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        check_share(self.first_price_share)
        if self.fmt not in ("jsonl", "protobuf"):
            raise ValueError(f"fmt must be jsonl or protobuf, got {self.fmt!r}")

    @property
    def writer_id(self) -> str:
        # Seed and window start: two windows (or seeds) never share a file name.
        return f"sim-s{self.window.seed}-{self.window.start:%Y%m%dT%H}"


@dataclass
class SimulationSummary(TruthTally):
    window: TrafficWindow
    landing: Path
    truth: Path
    requests: int = 0
    first_price_requests: int = 0  # requests auctioned at first price (at=1)
    bids: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    no_bid_reasons: Counter[str] = field(default_factory=Counter)
    sum_p_click: float = 0.0  # over impressions
    var_clicks: float = 0.0  # sum of p_click * (1 - p_click) over impressions
    sum_p_conversion: float = 0.0  # over clicks
    spend_micros: Counter[str] = field(default_factory=Counter)  # campaign -> sum clearing/1000
    conversion_value_micros: int = 0
    events_written: Counter[str] = field(default_factory=Counter)  # incl. duplicates
    duplicates: Counter[str] = field(default_factory=Counter)
    garbage: Counter[str] = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)
    truth_files: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, other: SimulationSummary) -> None:
        """Adds the counts of a consecutive sub-window (a parallel worker's)."""
        names = ("requests", "first_price_requests", "bids", "impressions", "clicks")
        for name in (*names, "conversions"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sum_p_click += other.sum_p_click
        self.var_clicks += other.var_clicks
        self.sum_p_conversion += other.sum_p_conversion
        self.conversion_value_micros += other.conversion_value_micros
        for name in ("no_bid_reasons", "spend_micros", "events_written", "duplicates", "garbage"):
            getattr(self, name).update(getattr(other, name))
        self.files += other.files
        self.truth_files += other.truth_files

    @property
    def records_written(self) -> int:
        return sum(self.events_written.values()) + sum(self.garbage.values())
