"""The outside world, as Dagster sees it: simulated tracking logs in the landing folder.

`landing/simulated_logs` runs the simulator (`simulator.run.simulate`) for a window of
traffic — exchange, competing bidders, users clicking and converting by a known truth —
and writes tracking-log files into the landing folder plus the truth Parquet files. It is
the upstream of the raw lake: `raw/<event_type>` ingests what lands.

Not partitioned: a simulation is a window chosen by config (seed, start hour, hours, rate),
and its files carry their own hours in their names. A simulated window also writes the
conversions of its last clicks into the (later) hours they happen in.
"""

from typing import Any

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from orchestration.landing import by_hour
from orchestration.resources import PlatformResource

SIMULATED_LOGS = ["landing", "simulated_logs"]


class SimulationSettings(Config):
    """One window of simulated traffic (the flags of `bidlake simulate`)."""

    seed: int = Field(default=0, description="world and traffic seed")
    start: str = Field(default="2026-01-05T00", description="first UTC hour, ISO")
    hours: int = Field(default=1, description="hours to simulate")
    rate: float = Field(default=50.0, description="mean bid requests per second")
    format: str = Field(default="jsonl", description="jsonl or protobuf")
    gzip: bool = Field(default=False, description="gzip the log files")
    duplicate_rate: float = Field(default=0.0, description="share of events written twice")
    corrupt_rate: float = Field(default=0.0, description="garbage records per valid event")


@asset(
    key=SIMULATED_LOGS,
    group_name="landing",
    kinds={"python"},
    description="Simulated tracking logs (and the simulator's truth) in the landing folder.",
)
def simulated_logs(
    context: AssetExecutionContext, config: SimulationSettings, platform: PlatformResource
) -> MaterializeResult:
    """Simulate a window of traffic into the landing folder.

    Grain: one window (config) per run. Inputs: the seed and the shared campaign book.
    Cost: about 110k bid requests/s simulated and written on this machine (JSONL), and
    about 530 bytes of log per event — a day at 20 requests/s is ~1.7M requests, ~2 GB.
    """
    from simulator.run import simulate
    from simulator.run_types import SimulationConfig
    from simulator.traffic import TrafficWindow

    home = platform.home
    window = TrafficWindow.parse(
        config.start, hours=config.hours, rate=config.rate, seed=config.seed
    )
    sim = SimulationConfig(
        window=window,
        landing=home.landing,
        truth=home.truth,
        fmt="protobuf" if config.format == "protobuf" else "jsonl",
        compress=config.gzip,
        duplicate_rate=config.duplicate_rate,
        corrupt_rate=config.corrupt_rate,
    )
    sim.validate()
    last_logged = [-1]

    def progress(done: int, total: int, _summary: Any) -> None:
        # One line per simulated hour: enough to follow, not a flood in the event log.
        if done // 60 != last_logged[0] and done % 60 == 0:
            last_logged[0] = done // 60
            context.log.info(f"simulated {done // 60}/{total // 60} hours")

    summary = simulate(sim, progress=progress)
    hours = by_hour(summary.files)
    first_hour, last_hour = (min(hours), max(hours)) if hours else ("", "")
    return MaterializeResult(
        metadata={
            "window_start": window.start.isoformat(),
            "hours": window.hours,
            "rate_per_s": window.rate,
            "seed": window.seed,
            "bid_requests": summary.requests,
            "bids": summary.bids,
            "impressions": summary.impressions,
            "clicks": summary.clicks,
            "conversions": summary.conversions,
            "duplicates_written": sum(summary.duplicates.values()),
            "garbage_written": sum(summary.garbage.values()),
            "files": len(summary.files),
            "truth_files": len(summary.truth_files),
            "first_file_hour": first_hour,
            "last_file_hour": last_hour,
            "landing": MetadataValue.path(str(home.landing)),
            "seconds": round(summary.elapsed_s, 2),
        }
    )
