"""Small real inputs for the orchestration tests: a simulated landing folder."""

from __future__ import annotations

from pathlib import Path

START = "2026-01-05T00"


def simulate_landing(
    hours: int = 2, rate: float = 2.0, seed: int = 0, start: str = START
) -> list[Path]:
    """Simulate `hours` of traffic into $BIDLAKE_HOME/landing (and truth); the log files.

    2 requests/s for 2 hours is ~15k bid requests, ~2k impressions, a dozen clicks: enough
    for every event type to appear, small enough to ingest in about a second.
    """
    from simulator.run import simulate
    from simulator.run_types import SimulationConfig
    from simulator.traffic import TrafficWindow

    window = TrafficWindow.parse(start, hours=hours, rate=rate, seed=seed)
    summary = simulate(SimulationConfig(window=window))
    return list(summary.files)
