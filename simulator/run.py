"""`simulate(config) -> SimulationSummary`: a window of traffic into tracking logs + truth.

The loop, one minute at a time (all draws vectorized over the minute):

    requests (exchange) → decisions (policy) → market price and second-price auction
    → impressions → true p_click / p_conversion (truth) → clicks → conversions

Every event goes to a queue (`simulator.batches.Pending`) and is written when the
simulation reaches the minute it happens in, so logs come out in time order and an
hour's files are closed as soon as the hour is over. Conversions of the window's last
clicks happen after the window (up to 7 days); they are written at the end, into the
files of their own hours: the window's traffic is complete (every chain it started is
in the logs), and consecutive windows never write the same event.

Determinism: the world comes from the seed, each minute's traffic and outcomes from
(seed, minute) — stream 1 — and its duplicates and garbage from (seed, minute) —
stream 2 — so the faults do not change the traffic. Same seed, window and flags: the
same bytes in the same file names.

Truth: one Parquet file per hour of requests, `<truth>/<writer_id>-<YYYYMMDDTHH>.parquet`,
one row per impression (bid_id, p_click, p_conversion), see `simulator.truthfile`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from bidlake.campaigns import Campaign, load_campaigns
from bidlake.paths import home
from simulator import faults, ids, market
from simulator.batches import Batch, Pending
from simulator.exchange import (
    FAULTS,
    MINUTE_MS,
    TRAFFIC,
    Requests,
    generate_minute,
    minute_rng,
)
from simulator.policy import BID, NO_BID_REASONS, ConstantBidPolicy, Decisions
from simulator.render import Renderer
from simulator.tally import TruthTally
from simulator.truth import (
    CONVERSION_ID_KNOWN,
    GroundTruth,
    Shown,
    click_delay_ms,
    conversion_delay_ms,
)
from simulator.truthfile import write_truth
from simulator.world import World, WorldConfig, build_world

HOUR_MS = 3_600_000
EVENT_ORDER = ("bid_request", "bid", "impression", "click", "conversion")


@dataclass(frozen=True)
class SimulationConfig:
    """One simulated window. `start` must be a whole UTC hour."""

    start: datetime
    hours: int = 1
    rate: float = 50.0  # mean bid requests per second (the diurnal curve averages to it)
    seed: int = 0
    landing: Path | None = None  # default home().landing
    truth: Path | None = None  # default home().truth
    fmt: Literal["jsonl", "protobuf"] = "jsonl"
    compress: bool = False
    duplicate_rate: float = 0.0
    corrupt_rate: float = 0.0
    campaigns: tuple[Campaign, ...] | None = None  # default: the shared campaign book
    world: WorldConfig = field(default_factory=WorldConfig)
    max_events_per_file: int = 1_000_000

    def validate(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            raise ValueError(f"start must be a UTC datetime, got {self.start!r}")
        if self.start.minute or self.start.second or self.start.microsecond:
            raise ValueError(f"start must be a whole hour, got {self.start.isoformat()}")
        if self.hours < 1:
            raise ValueError(f"hours must be >= 1, got {self.hours}")
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 requests/s, got {self.rate}")
        for name in ("duplicate_rate", "corrupt_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.fmt not in ("jsonl", "protobuf"):
            raise ValueError(f"fmt must be jsonl or protobuf, got {self.fmt!r}")

    @property
    def writer_id(self) -> str:
        # Seed and window start: two windows (or seeds) never share a file name.
        return f"sim-s{self.seed}-{self.start:%Y%m%dT%H}"


@dataclass
class SimulationSummary(TruthTally):
    seed: int
    start: datetime
    hours: int
    rate: float
    landing: Path
    truth: Path
    requests: int = 0
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
        for name in ("requests", "bids", "impressions", "clicks", "conversions"):
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


ProgressFn = Callable[[int, int, int], None]  # (minutes done, minutes in total, records)


class _TruthHour:
    """Accumulates one hour's truth rows."""

    def __init__(self) -> None:
        self.keys: list[np.ndarray] = []
        self.p_click: list[np.ndarray] = []
        self.p_conversion: list[np.ndarray] = []

    def add(self, keys: np.ndarray, p_click: np.ndarray, p_conversion: np.ndarray) -> None:
        self.keys.append(keys)
        self.p_click.append(p_click)
        self.p_conversion.append(p_conversion)

    def write(self, folder: Path, name: str) -> Path:
        return write_truth(
            folder,
            name,
            ids.hex_ids(np.concatenate(self.keys)),
            np.concatenate(self.p_click),
            np.concatenate(self.p_conversion),
        )


class Simulation:
    """The state of one run: world, policy, truth, writer, queue and counters."""

    def __init__(self, config: SimulationConfig, world: World | None = None):
        from contract.log_writer import TrackingLogWriter

        config.validate()
        self.config = config
        self.world = world or build_world(config.seed, config.world)
        campaigns = config.campaigns if config.campaigns is not None else load_campaigns()
        self.campaigns = tuple(campaigns)
        self.policy = ConstantBidPolicy(self.world, self.campaigns)
        self.truth = GroundTruth(self.world, [c.advertiser_id for c in self.campaigns])
        self.renderer = Renderer(self.world, self.campaigns, [c for c, _ in self.policy.creatives])
        landing = config.landing or home().landing
        truth = config.truth or home().truth
        self.writer = TrackingLogWriter(
            landing,
            config.writer_id,
            fmt=config.fmt,
            compress=config.compress,
            max_events_per_file=config.max_events_per_file,
        )
        self.pending = Pending()
        self.summary = SimulationSummary(
            seed=config.seed,
            start=config.start,
            hours=config.hours,
            rate=config.rate,
            landing=landing,
            truth=truth,
        )
        self.truth_hour = _TruthHour()

    # ---- one minute ----

    def simulate_minute(self, minute: int) -> None:
        c = self.config
        rng = minute_rng(c.seed, minute, TRAFFIC)
        requests = generate_minute(self.world, minute, c.rate, rng)
        decisions = self.policy.decide(requests, rng)
        self.outcomes(requests, decisions, rng)
        self._write_due((minute + 1) * MINUTE_MS, minute_rng(c.seed, minute, FAULTS))

    def outcomes(self, r: Requests, d: Decisions, rng: np.random.Generator) -> None:
        """Queues the minute's requests and everything they cause (bids, the auction,
        impressions, clicks, conversions) and counts them; draws in a fixed order."""
        seed, minute, s = self.config.seed, r.minute, self.summary
        s.requests += len(r)
        s.no_bid_reasons.update(
            dict(zip(NO_BID_REASONS, np.bincount(d.reason, minlength=6).tolist(), strict=True))
        )
        request_key = ids.event_keys(seed, ids.REQUEST, minute, r.seq)
        self.pending.add(
            "bid_request",
            {
                "event_time": r.time_ms,
                "key": request_key,
                "user": r.user,
                "publisher": r.publisher,
                "placement": r.placement,
                "exchange": r.exchange,
                "reported_device": r.reported_device,
                "floor_micros": r.floor_micros,
                "local_hour": r.local_hour,
                "page_section": r.page_section,
                "page_article": r.page_article,
                "reason": d.reason,
            },
        )

        # Bids: a few ms after the request (the bidder's own latency).
        b = np.flatnonzero(d.reason == BID)
        seq = r.seq[b]
        bid_time = r.time_ms[b] + rng.integers(2, 12, len(b))
        bid_key = ids.event_keys(seed, ids.BID, minute, seq)
        campaign, creative, bid_micros = d.campaign[b], d.creative[b], d.bid_micros[b]
        self.pending.add(
            "bid",
            {
                "event_time": bid_time,
                "key": bid_key,
                "request_key": request_key[b],
                "campaign": campaign,
                "creative": creative,
                "bid_micros": bid_micros,
            },
        )
        s.bids += len(b)

        # The auction against the market; the win notice fires when the ad renders.
        price = market.market_price_micros(
            self.world, rng, r.user[b], r.placement[b], r.exchange[b], r.local_hour[b]
        )
        won, clearing = market.second_price(bid_micros, price, r.floor_micros[b])
        render_ms = 40 + np.exp(rng.normal(np.log(250.0), 0.8, len(b))).astype(np.int64)
        w = np.flatnonzero(won)
        imp_time = bid_time[w] + render_ms[w]
        user, campaign_w = r.user[b][w], campaign[w]
        shown = Shown(
            user=user,
            placement=r.placement[b][w],
            exchange=r.exchange[b][w],
            local_hour=r.local_hour[b][w],
            campaign=campaign_w,
        )
        p_click = self.truth.p_click(shown)
        p_conversion = self.truth.p_conversion(shown)
        bid_key_w = bid_key[w]
        self.truth_hour.add(bid_key_w, p_click, p_conversion)
        self.pending.add(
            "impression",
            {
                "event_time": imp_time,
                "key": ids.event_keys(seed, ids.IMPRESSION, minute, seq[w]),
                "bid_key": bid_key_w,
                "request_key": request_key[b][w],
                "campaign": campaign_w,
                "creative": creative[w],
                "clearing_micros": clearing[w],
                "user": user,
            },
        )
        s.count_impressions(p_click)
        spend = np.bincount(campaign_w, weights=clearing[w] / 1000, minlength=len(self.campaigns))
        for i, value in enumerate(spend.tolist()):
            if value:
                s.spend_micros[self.campaigns[i].campaign_id] += round(value)

        # Clicks and conversions, by the ground truth; draws sized by impressions.
        click_u, conv_u = rng.random(len(w)), rng.random(len(w))
        click_time = imp_time + click_delay_ms(rng, len(w))
        conv_time = click_time + conversion_delay_ms(rng, len(w))
        known = rng.random(len(w)) < CONVERSION_ID_KNOWN
        value = self.truth.conversion_value_micros(rng, campaign_w)
        k = np.flatnonzero(click_u < p_click)
        self.pending.add(
            "click",
            {
                "event_time": click_time[k],
                "key": ids.event_keys(seed, ids.CLICK, minute, seq[w][k]),
                "bid_key": bid_key_w[k],
                "campaign": campaign_w[k],
                "user": user[k],
            },
        )
        s.clicks += len(k)
        s.sum_p_conversion += float(p_conversion[k].sum())
        v = k[conv_u[k] < p_conversion[k]]
        self.pending.add(
            "conversion",
            {
                "event_time": conv_time[v],
                "key": ids.event_keys(seed, ids.CONVERSION, minute, seq[w][v]),
                "campaign": campaign_w[v],
                "user": user[v],
                "value_micros": value[v],
                "bid_key": bid_key_w[v],
                "bid_known": known[v],
            },
        )
        s.conversions += len(v)
        s.conversion_value_micros += int(value[v].sum())

    # ---- writing ----

    def render(self, event_type: str, batch: Batch) -> list[dict[str, object]]:
        """A batch of `event_type` as the contract's JSON-form dicts."""
        r = self.renderer
        if event_type == "bid_request":
            return r.bid_requests(batch)
        if event_type == "bid":
            return r.bids(batch)
        if event_type == "impression":
            return r.impressions(batch)
        if event_type == "click":
            return r.clicks(batch)
        return r.conversions(batch, self.truth.conversion_type)

    def _write_due(self, before_ms: int | None, rng: np.random.Generator) -> None:
        c, s = self.config, self.summary
        due = self.pending.pop_before(before_ms)
        for event_type in EVENT_ORDER:
            batch = due.get(event_type)
            if batch is None:
                continue
            events = self.render(event_type, batch)
            if not (c.duplicate_rate or c.corrupt_rate):
                self.writer.write_many(event_type, events)
                s.events_written[event_type] += len(events)
                continue
            plan = faults.plan(rng, event_type, events, c.fmt, c.duplicate_rate, c.corrupt_rate)
            last_time = int(batch["event_time"][0])
            for item in plan.order:
                if isinstance(item, int):
                    event = events[item]
                    last_time = int(event["event_time"])  # type: ignore[call-overload]
                    self.writer.write(event_type, event)
                else:
                    # Garbage goes to the file of the record before it.
                    self.writer.write_garbage(event_type, item, last_time)
            s.events_written[event_type] += len(events) + plan.duplicates
            s.duplicates[event_type] += plan.duplicates
            s.garbage[event_type] += plan.garbage

    def end_hour(self, hour: int) -> None:
        """Close the logs of hours before `hour`'s end and write its truth."""
        end_ms = (hour + 1) * HOUR_MS
        self.summary.files += self.writer.close_hours_before(end_ms)
        if self.truth_hour.keys:
            stamp = datetime.fromtimestamp(hour * 3600, tz=UTC).strftime("%Y%m%dT%H")
            path = self.truth_hour.write(self.summary.truth, f"{self.config.writer_id}-{stamp}")
            self.summary.truth_files.append(path)
        self.truth_hour = _TruthHour()

    def finish(self) -> SimulationSummary:
        """Write what happens after the window (late clicks, conversions), close all."""
        c = self.config
        end_minute = int(c.start.timestamp()) // 60 + c.hours * 60
        self._write_due(None, minute_rng(c.seed, end_minute, FAULTS))
        before = len(self.writer.closed_files)
        self.writer.close()
        self.summary.files += self.writer.closed_files[before:]
        return self.summary


def simulate(
    config: SimulationConfig,
    progress: ProgressFn | None = None,
    world: World | None = None,
    workers: int = 1,
) -> SimulationSummary:
    """Simulate `config`'s window; returns its summary.

    `progress(minutes_done, minutes_total, records_written)` is called after every
    simulated minute. With `workers > 1` the window is split into consecutive
    sub-windows simulated in parallel processes (`simulator.parallel`): the same
    records as one process, in files named after each sub-window's first hour.
    """
    config.validate()
    if workers > 1 and config.hours > 1:
        from simulator.parallel import simulate_parallel

        return simulate_parallel(config, workers, progress)
    started = time.perf_counter()
    sim = Simulation(config, world)
    first_minute = int(config.start.timestamp()) // 60
    total = config.hours * 60
    try:
        for i in range(total):
            minute = first_minute + i
            sim.simulate_minute(minute)
            if (minute + 1) % 60 == 0:
                sim.end_hour(minute // 60)
            if progress is not None:
                progress(i + 1, total, sim.summary.records_written)
        summary = sim.finish()
    except BaseException:
        # Publish nothing half-written: open files are dropped, closed ones are complete.
        sim.writer.abandon()
        raise
    summary.elapsed_s = time.perf_counter() - started
    return summary


def parse_start(text: str) -> datetime:
    """`2026-01-05T00` (or any ISO form of a whole UTC hour) → an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text if len(text) > 13 else text + ":00")
    except ValueError:
        raise ValueError(f"--start: not an ISO date-hour like 2026-01-05T00: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
