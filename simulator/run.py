"""`simulate(config) -> SimulationSummary`: a window of traffic into tracking logs + truth.

The loop, one minute at a time (all draws vectorized over the minute):

    requests (exchange) → decisions (policy) → market price and the auction (second
    price, or first price on `first_price_share` of the requests: `simulator.market`)
    → impressions → true p_click / p_conversion (truth) → clicks → conversions

Every event goes to a queue (`simulator.batches.Pending`) and is written when the
simulation reaches the minute it happens in, so logs come out in time order and an
hour's files are closed as soon as the hour is over. Conversions of the window's last
clicks happen after the window (up to 7 days); they are written at the end, into the
files of their own hours: the window's traffic is complete (every chain it started is
in the logs), and consecutive windows never write the same event.

Determinism: the world comes from the seed, each minute's traffic and outcomes from
(seed, minute) — stream 1 — and its duplicates and garbage from (seed, minute) —
stream 2 — so the faults do not change the traffic; which auctions are first price comes
from stream 4, drawn only when the share is above 0 (a share of 0 writes the bytes it
always wrote). Same seed, window and flags: the same bytes in the same file names.

Truth: one Parquet file per hour of requests, `<truth>/<writer_id>-<YYYYMMDDTHH>.parquet`,
one row per impression (bid_id, p_click, p_conversion), see `simulator.truthfile`.

The config and summary types are in `simulator.run_types`, the window of traffic in
`simulator.traffic`; `simulator.parallel` runs `simulate_window` on sub-windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bidlake.campaigns import load_campaigns
from bidlake.paths import home
from simulator import faults, ids, market
from simulator.batches import Batch, Pending
from simulator.exchange import (
    AUCTION,
    FAULTS,
    MINUTE_MS,
    TRAFFIC,
    Requests,
    generate_minute,
    minute_rng,
)
from simulator.parallel import simulate_parallel
from simulator.policy import BID, NO_BID_REASONS, ConstantBidPolicy, Decisions
from simulator.render import Renderer
from simulator.run_types import ProgressFn, SimulationConfig, SimulationSummary
from simulator.truth import (
    CONVERSION_ID_KNOWN,
    GroundTruth,
    Shown,
    click_delay_ms,
    conversion_delay_ms,
)
from simulator.truthfile import write_truth
from simulator.world import World, build_world

HOUR_MS = 3_600_000
EVENT_ORDER = ("bid_request", "bid", "impression", "click", "conversion")


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


@dataclass(frozen=True)
class _Auctions:
    """How the exchange auctions each request of the minute (`simulator.market`)."""

    auction_type: np.ndarray  # int8 per request: market.FIRST_PRICE or SECOND_PRICE
    shade: np.ndarray | None  # the top competitor's first-price shading; None: none is


@dataclass(frozen=True)
class _Bids:
    """The minute's bids: requests `at` of the minute, and what was bid on them."""

    at: np.ndarray  # index into the minute's requests
    time_ms: np.ndarray
    key: np.ndarray
    campaign: np.ndarray
    creative: np.ndarray
    bid_micros: np.ndarray


@dataclass(frozen=True)
class _Impressions:
    """The minute's won auctions (shown ads) and their true probabilities."""

    seq: np.ndarray  # the request's position in its minute
    time_ms: np.ndarray
    bid_key: np.ndarray
    campaign: np.ndarray
    user: np.ndarray
    p_click: np.ndarray
    p_conversion: np.ndarray


@dataclass(frozen=True)
class _UserDraws:
    """What each shown ad's user does, drawn for every impression (so the number of draws
    depends only on the impressions): whether and when they click and convert."""

    click_u: np.ndarray
    conversion_u: np.ndarray
    click_time_ms: np.ndarray
    conversion_time_ms: np.ndarray
    bid_known: np.ndarray  # the conversion's postback carries the bid id
    value_micros: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, truth: GroundTruth, imps: _Impressions) -> _UserDraws:
        n = len(imps.seq)
        click_u, conversion_u = rng.random(n), rng.random(n)
        click_time = imps.time_ms + click_delay_ms(rng, n)
        conversion_time = click_time + conversion_delay_ms(rng, n)
        known = rng.random(n) < CONVERSION_ID_KNOWN
        value = truth.conversion_value_micros(rng, imps.campaign)
        return cls(click_u, conversion_u, click_time, conversion_time, known, value)


class Simulation:
    """The state of one run: world, policy, truth, writer, queue and counters."""

    def __init__(self, config: SimulationConfig, world: World | None = None):
        from contract.log_writer import TrackingLogWriter

        config.validate()
        self.config = config
        self.window = window = config.window
        self.world = world or build_world(window.seed, config.world)
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
        self.summary = SimulationSummary(window=window, landing=landing, truth=truth)
        self.truth_hour = _TruthHour()

    # ---- one minute ----

    def simulate_minute(self, minute: int) -> None:
        seed = self.window.seed
        rng = minute_rng(seed, minute, TRAFFIC)
        requests = generate_minute(self.world, minute, self.window.rate, rng)
        decisions = self.policy.decide(requests, rng)
        self.outcomes(requests, decisions, rng)
        self._write_due((minute + 1) * MINUTE_MS, minute_rng(seed, minute, FAULTS))

    def outcomes(self, r: Requests, d: Decisions, rng: np.random.Generator) -> None:
        """Queues the minute's requests and everything they cause (bids, the auction,
        impressions, clicks, conversions) and counts them; draws in a fixed order."""
        auctions = self._auction_types(r)
        request_key = self._queue_requests(r, d, auctions)
        bids = self._queue_bids(r, d, request_key, rng)
        imps = self._auction(r, bids, request_key, auctions, rng)
        draws = _UserDraws.draw(rng, self.truth, imps)
        clicked = self._queue_clicks(r.minute, imps, draws)
        self._queue_conversions(r.minute, imps, draws, clicked)

    def _keys(self, kind: int, minute: int, seq: np.ndarray) -> np.ndarray:
        return ids.event_keys(self.window.seed, kind, minute, seq)

    def _auction_types(self, r: Requests) -> _Auctions:
        share = self.config.first_price_share
        rng = minute_rng(self.window.seed, r.minute, AUCTION) if share else None
        auction_type, shade = market.auction_types(rng, len(r), share)
        return _Auctions(auction_type, shade)

    def _queue_requests(self, r: Requests, d: Decisions, auctions: _Auctions) -> np.ndarray:
        """Every request of the minute, with its no-bid reason; returns their keys."""
        s = self.summary
        s.requests += len(r)
        s.first_price_requests += int((auctions.auction_type == market.FIRST_PRICE).sum())
        reasons = np.bincount(d.reason, minlength=len(NO_BID_REASONS)).tolist()
        s.no_bid_reasons.update(dict(zip(NO_BID_REASONS, reasons, strict=True)))
        request_key = self._keys(ids.REQUEST, r.minute, r.seq)
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
                "auction_type": auctions.auction_type,
            },
        )
        return request_key

    def _queue_bids(
        self, r: Requests, d: Decisions, request_key: np.ndarray, rng: np.random.Generator
    ) -> _Bids:
        """The bids, a few ms after their request (the bidder's own latency)."""
        at = np.flatnonzero(d.reason == BID)
        bids = _Bids(
            at=at,
            time_ms=r.time_ms[at] + rng.integers(2, 12, len(at)),
            key=self._keys(ids.BID, r.minute, r.seq[at]),
            campaign=d.campaign[at],
            creative=d.creative[at],
            bid_micros=d.bid_micros[at],
        )
        self.pending.add(
            "bid",
            {
                "event_time": bids.time_ms,
                "key": bids.key,
                "request_key": request_key[at],
                "campaign": bids.campaign,
                "creative": bids.creative,
                "bid_micros": bids.bid_micros,
            },
        )
        self.summary.bids += len(at)
        return bids

    def _auction(
        self,
        r: Requests,
        bids: _Bids,
        request_key: np.ndarray,
        auctions: _Auctions,
        rng: np.random.Generator,
    ) -> _Impressions:
        """The bids against the market; a win's impression (and notice) fires when the ad
        renders. Queues the impressions, their truth rows and spend."""
        at = bids.at
        price = market.market_price_micros(
            self.world, rng, r.user[at], r.placement[at], r.exchange[at], r.local_hour[at]
        )
        won, clearing = market.auction(
            bids.bid_micros,
            price,
            r.floor_micros[at],
            auctions.auction_type[at],
            None if auctions.shade is None else auctions.shade[at],
        )
        render_ms = 40 + np.exp(rng.normal(np.log(250.0), 0.8, len(at))).astype(np.int64)
        w = np.flatnonzero(won)
        won_at = at[w]
        user, campaign = r.user[won_at], bids.campaign[w]
        shown = Shown(
            user=user,
            placement=r.placement[won_at],
            exchange=r.exchange[won_at],
            local_hour=r.local_hour[won_at],
            campaign=campaign,
        )
        imps = _Impressions(
            seq=r.seq[won_at],
            time_ms=bids.time_ms[w] + render_ms[w],
            bid_key=bids.key[w],
            campaign=campaign,
            user=user,
            p_click=self.truth.p_click(shown),
            p_conversion=self.truth.p_conversion(shown),
        )
        self.truth_hour.add(imps.bid_key, imps.p_click, imps.p_conversion)
        self.pending.add(
            "impression",
            {
                "event_time": imps.time_ms,
                "key": self._keys(ids.IMPRESSION, r.minute, imps.seq),
                "bid_key": imps.bid_key,
                "request_key": request_key[won_at],
                "campaign": campaign,
                "creative": bids.creative[w],
                "clearing_micros": clearing[w],
                "user": user,
            },
        )
        self.summary.count_impressions(imps.p_click)
        self._count_spend(campaign, clearing[w])
        return imps

    def _count_spend(self, campaign: np.ndarray, clearing_micros: np.ndarray) -> None:
        spend = np.bincount(campaign, weights=clearing_micros / 1000, minlength=len(self.campaigns))
        for i, value in enumerate(spend.tolist()):
            if value:
                self.summary.spend_micros[self.campaigns[i].campaign_id] += round(value)

    def _queue_clicks(self, minute: int, imps: _Impressions, draws: _UserDraws) -> np.ndarray:
        """The clicks, by the ground truth; returns which impressions were clicked."""
        k = np.flatnonzero(draws.click_u < imps.p_click)
        self.pending.add(
            "click",
            {
                "event_time": draws.click_time_ms[k],
                "key": self._keys(ids.CLICK, minute, imps.seq[k]),
                "bid_key": imps.bid_key[k],
                "campaign": imps.campaign[k],
                "user": imps.user[k],
            },
        )
        self.summary.clicks += len(k)
        self.summary.sum_p_conversion += float(imps.p_conversion[k].sum())
        return k

    def _queue_conversions(
        self, minute: int, imps: _Impressions, draws: _UserDraws, clicked: np.ndarray
    ) -> None:
        """The conversions of the clicks, by the ground truth, up to 7 days later."""
        v = clicked[draws.conversion_u[clicked] < imps.p_conversion[clicked]]
        self.pending.add(
            "conversion",
            {
                "event_time": draws.conversion_time_ms[v],
                "key": self._keys(ids.CONVERSION, minute, imps.seq[v]),
                "campaign": imps.campaign[v],
                "user": imps.user[v],
                "value_micros": draws.value_micros[v],
                "bid_key": imps.bid_key[v],
                "bid_known": draws.bid_known[v],
            },
        )
        self.summary.conversions += len(v)
        self.summary.conversion_value_micros += int(draws.value_micros[v].sum())

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
        window = self.window
        end_minute = window.first_minute + window.minutes
        self._write_due(None, minute_rng(window.seed, end_minute, FAULTS))
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
    if workers > 1 and config.window.hours > 1:
        return simulate_parallel(config, workers, simulate_window, progress)
    return simulate_window(config, progress, world)


def simulate_window(
    config: SimulationConfig, progress: ProgressFn | None = None, world: World | None = None
) -> SimulationSummary:
    """Simulate `config`'s window in this process (see `simulate`)."""
    started = time.perf_counter()
    sim = Simulation(config, world)
    first_minute, total = config.window.first_minute, config.window.minutes
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
