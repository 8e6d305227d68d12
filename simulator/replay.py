"""`replay(config) -> ReplaySummary`: the simulated exchange against a running bidder.

The same world and traffic as `simulate` (same seed, window and rate give the same
opportunities, under other request ids: `simulator.ids.REPLAY_REQUEST`), sent over HTTP
as OpenRTB 2.6 JSON (`simulator.bid_requests`) to `POST <bidder>/openrtb2/bid`. For each
simulated minute:

1. every request of the minute is sent (at its scheduled time, see Pacing below), at
   most `concurrency` in flight; an answer after the request's `tmax` is dropped, as an
   exchange drops it ("late");
2. the auction: each valid bid against the market price of that request (second price,
   or first price on a share of the requests; the floor as reserve, `simulator.market`);
   the ground truth (`simulator.truth`) decides who clicks and converts, with the hour
   the bidder sees (wall clock + the user's UTC offset), and the campaign of the bid
   (`cid`, mapped to its advertiser by the campaign book; an unknown campaign gets the
   neutral profile);
3. for each win: GET the bid's `nurl` with `${AUCTION_PRICE}` etc. replaced; if the user
   clicks, GET `bid.ext.click_url` (redirects are not followed: they lead to the
   advertiser); if the click converts, GET `bid.ext.conversion_url` with
   `${CONVERSION_VALUE}` replaced by the value as a decimal amount, plus `type` and
   `order` query parameters.

URL shapes assumed of the bidder (agreed with bidder/, which builds them in
bidder/urls.py): `nurl` from the bid; the click and conversion URLs in the bid's `ext` as
`click_url` and `conversion_url`, the latter containing the macro `${CONVERSION_VALUE}`.

Pacing. By default the replay is open loop, as an exchange is: every request is sent at
its scheduled time — its simulated arrival time (`simulator.exchange`: Poisson counts,
uniform within the minute, the diurnal curve) mapped to the wall clock, `speed` times
faster than real time — whether or not the bidder has answered the ones before. Latency
is measured from the scheduled send time, so a bidder (or a replay) that falls behind
shows up as latency, not as a lower request rate; a request sent more than 1 ms after its
scheduled time (its connection slot was busy, or this process was) is counted as sent
late. The default speed offers `DEFAULT_OFFERED_RATE` requests/s on average whatever
the window's rate (the main job's hour at 5 requests/s plays in about
3600 * 5 / DEFAULT_OFFERED_RATE seconds); `speed=1` is real time. A win's notice, click
and conversion are sent one simulated minute after its request (the auction of a minute
runs once all its answers are in), so notices flow at the traffic's pace too.

`closed_loop=True` is the throughput mode: requests go as fast as the bidder answers,
`concurrency` in flight, and a minute's notices right after its auction; its latency
then includes waiting for a connection, i.e. the queue this mode itself builds.

Conversion delays are a property of `simulate`'s logs, not of a replay: a click's
conversion follows it immediately (the bidder stamps every event with its own clock).

First price: a share `first_price_share` of the requests (drawn per request,
`simulator.market.auction_types`) carry `at = 1`; in those the winner pays its own bid,
which is the `${AUCTION_PRICE}` of its win notice, and the competitors shade
(`simulator.market`).

Safety: the bidder URL, and every URL a bid asks us to call, must be on the loopback
interface (localhost, 127.0.0.0/8, ::1); anything else is refused and counted. The
replay never imports bidder/ or ml/ — it only speaks HTTP.

Truth: one Parquet file per simulated hour, `<truth>/replay-s<seed>-<start>-<hour>.parquet`,
rows keyed by the bid id the bidder sent (its impression events carry the same bid_id).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from bidlake.campaigns import Campaign, load_campaigns
from bidlake.paths import home
from simulator import ids, market
from simulator.bid_requests import RequestBuilder
from simulator.bid_responses import Bid, InvalidResponse, conversion_url, read_response, win_url
from simulator.exchange import (
    AUCTION,
    MINUTE_MS,
    REPLAY,
    TRAFFIC,
    generate_minute,
    local_hour,
    minute_rng,
)
from simulator.http import HttpError, LoopbackClient, Response
from simulator.tally import TruthTally
from simulator.traffic import TrafficWindow, check_share
from simulator.truth import GroundTruth, Shown
from simulator.truthfile import write_truth
from simulator.world import World, WorldConfig, build_world
from simulator.world_tables import EXCHANGE_TMAX_MS

BID_PATH = "/openrtb2/bid"
HEADERS = {"content-type": "application/json", "x-openrtb-version": "2.6"}
LATENCY_BUCKET_MS = 0.1
LATENCY_BUCKETS = 100_000  # 0.1 ms resolution up to 10 s; the last bucket holds the rest
# The default pace of an open-loop replay: this many requests/s on average (plus their
# notices), whatever the window's rate. About a third of what the production bidder
# answers closed loop with one worker on two shared cores (~1,800 requests/s), so what is
# measured is its latency, not a queue; and the main job's hour at 5 requests/s plays in
# 3600 * 5 / 600 = 30 s (closed loop, as before: ~11 s).
DEFAULT_OFFERED_RATE = 600.0
INF = float("inf")
LATE_SEND_S = 0.001  # a request sent more than this after its scheduled time is late
START_LEAD_S = 0.05  # the schedule starts this long after the replay, once it is set up


class ReplayError(RuntimeError):
    """The replay cannot go on (e.g. the bidder refuses every connection)."""


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def bid_endpoint(bidder: str) -> str:
    """`http://127.0.0.1:8080` -> `http://127.0.0.1:8080/openrtb2/bid`; a URL with a path
    is taken as the bid endpoint itself."""
    if not is_loopback(bidder):
        raise ValueError(
            f"--bidder {bidder!r}: only http:// URLs on the loopback interface "
            "(localhost, 127.0.0.0/8, [::1]) are allowed"
        )
    parts = urlsplit(bidder)
    if parts.path in ("", "/"):
        parts = parts._replace(path=BID_PATH)
    return urlunsplit(parts)


@dataclass(frozen=True)
class ReplayConfig:
    bidder: str
    window: TrafficWindow
    truth: Path | None = None  # default home().truth
    concurrency: int = 16  # HTTP calls in flight at most (connections to the bidder)
    timeout_s: float = 2.0  # an HTTP call slower than this is an error (a bid is late anyway)
    campaigns: tuple[Campaign, ...] | None = None  # maps cid -> advertiser; default the book
    world: WorldConfig = field(default_factory=WorldConfig)
    # Simulated seconds per wall second of the open-loop schedule; None: the speed that
    # offers DEFAULT_OFFERED_RATE requests/s on average. Ignored when closed_loop.
    speed: float | None = None
    closed_loop: bool = False  # as fast as the bidder answers (throughput), no schedule
    first_price_share: float = 0.0  # share of the requests sent with at=1 (first price)

    def validate(self) -> None:
        """Checks the bidder and the HTTP options (the window checked itself when built)."""
        bid_endpoint(self.bidder)
        if not 1 <= self.concurrency <= 1024:
            raise ValueError(f"concurrency must be in 1..1024, got {self.concurrency}")
        speed = self.speed
        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed < INF
        ):
            raise ValueError(f"speed must be a number > 0, got {speed!r}")
        check_share(self.first_price_share)

    @property
    def effective_speed(self) -> float:
        """The schedule's speed-up over real time (the default's, when `speed` is None)."""
        return self.speed if self.speed is not None else DEFAULT_OFFERED_RATE / self.window.rate

    @property
    def mode(self) -> str:
        if self.closed_loop:
            return f"closed loop, {self.concurrency} in flight"
        offered = self.window.rate * self.effective_speed
        return f"open loop at {self.effective_speed:,.4g}x real time (~{offered:,.0f} req/s)"


class Clock(Protocol):
    """Where the open-loop schedule reads and waits for time (tests pass a fake one)."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    async def sleep_until(self, t: float) -> None:
        """Returns at `now() >= t` (at once when already past)."""
        ...


class WallClock:
    def now(self) -> float:
        return time.perf_counter()

    async def sleep_until(self, t: float) -> None:
        delay = t - time.perf_counter()
        await asyncio.sleep(delay if delay > 0 else 0)


class BidClient(Protocol):
    """What the replay needs of an HTTP client (simulator.http.LoopbackClient)."""

    async def get(self, url: str) -> Response: ...

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        on_send: Callable[[], None] | None = None,
    ) -> Response: ...


@dataclass(frozen=True)
class Schedule:
    """Simulated time -> the clock's time: `start_ms` (simulated epoch ms) is at `t0`,
    and the clock runs `speed` times slower than the simulation."""

    start_ms: int
    t0: float
    speed: float

    def at(self, time_ms: np.ndarray) -> list[float]:
        return (self.t0 + (time_ms - self.start_ms) / (1000.0 * self.speed)).tolist()

    @property
    def minute_s(self) -> float:
        """One simulated minute on the clock."""
        return MINUTE_MS / (1000.0 * self.speed)


@dataclass
class ReplaySummary(TruthTally):
    window: TrafficWindow
    bidder: str
    truth: Path
    mode: str = ""
    speed: float | None = None  # the open-loop schedule's speed-up; None: closed loop
    requests: int = 0
    first_price_requests: int = 0  # sent with at=1
    answered: int = 0  # HTTP answers to bid requests (any status)
    sent_late: int = 0  # open loop: requests sent > LATE_SEND_S after their scheduled time
    max_send_lateness_ms: float = 0.0
    bids: int = 0  # valid, in-time bids that entered the auction
    no_bids: int = 0
    late: int = 0  # valid bids answered after tmax
    invalid: Counter[str] = field(default_factory=Counter)  # reason -> responses
    errors: Counter[str] = field(default_factory=Counter)  # HTTP status / exception -> calls
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    failed_notices: Counter[str] = field(default_factory=Counter)  # win/click/conversion
    refused_urls: int = 0  # URLs in bids that are not on loopback (never called)
    sum_p_click: float = 0.0
    var_clicks: float = 0.0
    sum_p_conversion: float = 0.0
    clearing_cpm_micros: Counter[str] = field(default_factory=Counter)  # campaign -> sum CPM
    conversion_value_micros: int = 0
    # Bid-request latency as the exchange sees it: from the scheduled send time (open
    # loop) or from when a worker took the request (closed loop) to the answer.
    latency_histogram: np.ndarray = field(
        default_factory=lambda: np.zeros(LATENCY_BUCKETS, dtype=np.int64)
    )
    # From the moment the request actually went out to the answer: the bidder's (and the
    # network's) share of the latency, without this replay's lateness.
    service_histogram: np.ndarray = field(
        default_factory=lambda: np.zeros(LATENCY_BUCKETS, dtype=np.int64)
    )
    truth_files: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def spend_micros(self) -> dict[str, int]:
        """Spend per campaign: the clearing CPMs / 1000, rounded once at the end."""
        return {c: round(v / 1000) for c, v in self.clearing_cpm_micros.items()}

    def latency_ms(self, quantile: float) -> float:
        """Latency of bid requests at `quantile` from the scheduled send time (upper edge
        of its 0.1 ms bucket)."""
        return _quantile_ms(self.latency_histogram, quantile)

    def service_latency_ms(self, quantile: float) -> float:
        """Latency of bid requests at `quantile` from their actual send."""
        return _quantile_ms(self.service_histogram, quantile)

    @property
    def offered_rate(self) -> float:
        """Mean requests/s the open-loop schedule offered; 0 in closed loop."""
        if not self.speed:
            return 0.0
        return self.requests / (self.window.minutes * 60.0 / self.speed)


def _quantile_ms(histogram: np.ndarray, quantile: float) -> float:
    total = int(histogram.sum())
    if not total:
        return 0.0
    rank = int(np.searchsorted(np.cumsum(histogram), quantile * total))
    return (min(rank, LATENCY_BUCKETS - 1) + 1) * LATENCY_BUCKET_MS


def _bucket(seconds: float) -> int:
    return min(max(int(seconds * 1000 / LATENCY_BUCKET_MS), 0), LATENCY_BUCKETS - 1)


ReplayProgress = Callable[[int, int, int], None]  # (minutes done, minutes total, requests)
TruthRows = tuple[list[str], np.ndarray, np.ndarray]  # bid ids, p_click, p_conversion
# Minutes played at once. A minute ends with a barrier (its auction needs all its answers),
# so overlapping a few keeps the connections busy; the client caps calls in flight at
# `concurrency` whatever the number of minutes.
MINUTES_IN_FLIGHT = 4


async def _pool(n: int, concurrency: int, task: Callable[[int], Awaitable[None]]) -> None:
    """Runs task(0..n-1) with at most `concurrency` running: a fixed set of workers
    pulling from one iterator, so memory does not grow with n."""
    indices = iter(range(n))

    async def worker() -> None:
        for i in indices:
            await task(i)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))


def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels what is still running (the minute was cancelled or failed)."""
    for task in tasks:
        if not task.done():
            task.cancel()


class _Replay:
    def __init__(
        self,
        config: ReplayConfig,
        client: BidClient,
        world: World | None = None,
        schedule: Schedule | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.schedule = schedule  # None: closed loop
        self.clock: Clock = clock or WallClock()
        self.endpoint = bid_endpoint(config.bidder)
        self.window = window = config.window
        self.world = world or build_world(window.seed, config.world)
        campaigns = config.campaigns if config.campaigns is not None else load_campaigns()
        self.campaign_index = {c.campaign_id: i for i, c in enumerate(campaigns)}
        # One more row than the book: the neutral advertiser of campaigns it does not know.
        self.truth = GroundTruth(self.world, [c.advertiser_id for c in campaigns] + [""])
        self.conversion_types = self.truth.conversion_type
        self.builder = RequestBuilder(self.world)
        self.summary = ReplaySummary(
            window=window,
            bidder=self.endpoint,
            truth=config.truth or home().truth,
            mode=config.mode,
            speed=None if schedule is None else schedule.speed,
        )
        self.truth_rows: tuple[list[str], list[np.ndarray], list[np.ndarray]] = ([], [], [])

    # ---- HTTP ----

    async def _get(self, url: str, kind: str) -> bool:
        if not url or not is_loopback(url):
            if url:
                self.summary.refused_urls += 1
            self.summary.failed_notices[kind] += 1
            return False
        try:
            response = await self.client.get(url)
        except HttpError as exc:
            self.summary.errors[f"{kind}: {type(exc).__name__}"] += 1
            self.summary.failed_notices[kind] += 1
            return False
        if response.status >= 400:
            self.summary.errors[f"{kind}: HTTP {response.status}"] += 1
            self.summary.failed_notices[kind] += 1
            return False
        return True

    async def _ask(
        self,
        i: int,
        body: bytes,
        request_id: str,
        tmax_ms: int,
        sent_ms: np.ndarray,
        scheduled: float | None = None,
    ) -> Bid | None:
        """Sends request i and reads its answer. Latency counts from `scheduled` (the
        open-loop send time; closed loop: now), lateness from it to the actual send."""
        import orjson

        s, clock = self.summary, self.clock
        due = clock.now() if scheduled is None else scheduled
        sent = due

        def on_send() -> None:
            nonlocal sent
            sent = clock.now()
            sent_ms[i] = time.time_ns() // 1_000_000
            if scheduled is not None:
                lateness = sent - scheduled
                if lateness > LATE_SEND_S:
                    s.sent_late += 1
                s.max_send_lateness_ms = max(s.max_send_lateness_ms, lateness * 1000)

        try:
            response = await self.client.post(self.endpoint, body, HEADERS, on_send)
        except HttpError as exc:  # connection refused, reset, timeout: the bid is lost
            s.errors[f"bid: {type(exc).__name__}"] += 1
            return None
        answered = clock.now()
        elapsed_ms = (answered - due) * 1000
        s.answered += 1
        s.latency_histogram[_bucket(answered - due)] += 1
        s.service_histogram[_bucket(answered - sent)] += 1
        if response.status == 204 or (response.status == 200 and not response.body):
            s.no_bids += 1
            return None
        if response.status != 200:
            s.errors[f"bid: HTTP {response.status}"] += 1
            return None
        try:
            bid = read_response(orjson.loads(response.body), request_id)
        except orjson.JSONDecodeError:
            s.invalid["not JSON"] += 1
            return None
        except InvalidResponse as exc:
            s.invalid[str(exc)] += 1
            return None
        if bid is None:
            s.no_bids += 1
            return None
        if elapsed_ms > tmax_ms:
            s.late += 1
            return None
        return bid

    # ---- one minute ----

    async def minute(self, minute: int) -> TruthRows:
        """Plays one minute; returns its truth rows (the impressions' bid ids and truth)."""
        import orjson

        c, s, w, seed = self.config, self.summary, self.world, self.window.seed
        r = generate_minute(w, minute, self.window.rate, minute_rng(seed, minute, TRAFFIC))
        n = len(r)
        s.requests += n
        request_ids = ids.hex_ids(ids.event_keys(seed, ids.REPLAY_REQUEST, minute, r.seq))
        share = c.first_price_share
        auction_rng = minute_rng(seed, minute, AUCTION) if share else None
        auction_type, shade = market.auction_types(auction_rng, n, share)
        s.first_price_requests += int((auction_type == market.FIRST_PRICE).sum())
        requests = self.builder.iter_build(r, request_ids, auction_type)
        tmax = EXCHANGE_TMAX_MS[r.exchange].tolist()
        sent_ms = np.zeros(n, dtype=np.int64)
        bids: list[Bid | None] = [None] * n
        answered_before = s.answered
        schedule, clock = self.schedule, self.clock

        if schedule is None:  # closed loop: as fast as the bidder answers
            bodies = [orjson.dumps(x) for x in requests]

            async def ask(i: int) -> None:
                bids[i] = await self._ask(i, bodies[i], request_ids[i], tmax[i], sent_ms)

            await _pool(n, c.concurrency, ask)
        else:  # open loop: each request at its scheduled time, answered or not
            due = schedule.at(r.time_ms)

            async def ask_at(i: int, body: bytes) -> None:
                bids[i] = await self._ask(i, body, request_ids[i], tmax[i], sent_ms, due[i])

            tasks: list[asyncio.Task[None]] = []
            try:
                for i, request in enumerate(requests):
                    body = orjson.dumps(request)  # built before its time, sent at it
                    await clock.sleep_until(due[i])
                    tasks.append(asyncio.create_task(ask_at(i, body)))
                await asyncio.gather(*tasks)
            finally:
                _cancel(tasks)
        if n and s.answered == answered_before:
            errors = ", ".join(f"{k} x{v}" for k, v in s.errors.most_common(3))
            raise ReplayError(
                f"the bidder at {self.endpoint} answered none of the {n} requests of a "
                f"minute ({errors})"
            )

        # The auction and the users, vectorized over the minute. Draws are sized by n, so
        # the same answers give the same outcomes.
        rng = minute_rng(seed, minute, REPLAY)
        hours = local_hour(w, w.user_region[r.user], sent_ms)
        price = market.market_price_micros(w, rng, r.user, r.placement, r.exchange, hours)
        click_u, conversion_u, value_z = rng.random(n), rng.random(n), rng.standard_normal(n)
        unknown = len(self.campaign_index)
        bid_micros = np.array([b.price_micros if b else 0 for b in bids], dtype=np.int64)
        campaign = np.array(
            [self.campaign_index.get(b.campaign_id, unknown) if b else unknown for b in bids],
            dtype=np.int64,
        )
        has_bid = bid_micros > 0
        s.bids += int(has_bid.sum())
        won, clearing = market.auction(bid_micros, price, r.floor_micros, auction_type, shade)
        won_at = np.flatnonzero(won & has_bid)
        shown = Shown(
            user=r.user[won_at],
            placement=r.placement[won_at],
            exchange=r.exchange[won_at],
            local_hour=hours[won_at],
            campaign=campaign[won_at],
        )
        p_click = self.truth.p_click(shown)
        p_conversion = self.truth.p_conversion(shown)
        clicked = click_u[won_at] < p_click
        converted = clicked & (conversion_u[won_at] < p_conversion)
        values = self.truth.conversion_value_from_normal(campaign[won_at], value_z[won_at])
        order_ids = ids.hex_ids(ids.event_keys(seed, ids.REPLAY_CONVERSION, minute, won_at))

        s.count_impressions(p_click)
        s.clicks += int(clicked.sum())
        s.conversions += int(converted.sum())
        s.sum_p_conversion += float(p_conversion[clicked].sum())
        s.conversion_value_micros += int(values[converted].sum())
        won_bids = [bids[i] for i in won_at.tolist()]
        for bid, paid in zip(won_bids, clearing[won_at].tolist(), strict=True):
            s.clearing_cpm_micros[bid.campaign_id] += paid  # type: ignore[union-attr]
        rows = ([b.bid_id for b in won_bids], p_click, p_conversion)  # type: ignore[union-attr]

        async def notify(j: int) -> None:
            i = int(won_at[j])
            bid = bids[i]
            assert bid is not None
            await self._get(win_url(bid, request_ids[i], int(clearing[i])), "win")
            if clicked[j]:
                await self._get(bid.click_url, "click")
                if converted[j]:
                    kind = self.conversion_types[int(campaign[i])]
                    url = conversion_url(bid, int(values[j]), kind, order_ids[j])
                    await self._get(url if bid.conversion_url else "", "conversion")

        if schedule is None:
            await _pool(len(won_at), c.concurrency, notify)
        else:  # a simulated minute after each request, at the traffic's pace
            notices: list[asyncio.Task[None]] = []
            try:
                for j, t in enumerate(schedule.at(r.time_ms[won_at])):
                    await clock.sleep_until(t + schedule.minute_s)
                    notices.append(asyncio.create_task(notify(j)))
                await asyncio.gather(*notices)
            finally:
                _cancel(notices)
        return rows

    def add_truth(self, rows: TruthRows) -> None:
        self.truth_rows[0].extend(rows[0])
        self.truth_rows[1].append(rows[1])
        self.truth_rows[2].append(rows[2])

    def write_truth(self, hour: int) -> None:
        bid_ids, p_click, p_conversion = self.truth_rows
        self.truth_rows = ([], [], [])
        if bid_ids:
            stamp = datetime.fromtimestamp(hour * 3600, tz=UTC).strftime("%Y%m%dT%H")
            name = f"replay-s{self.window.seed}-{self.window.start:%Y%m%dT%H}-{stamp}"
            path = write_truth(
                self.summary.truth,
                name,
                bid_ids,
                np.concatenate(p_click),
                np.concatenate(p_conversion),
            )
            self.summary.truth_files.append(path)


async def replay_async(
    config: ReplayConfig,
    progress: ReplayProgress | None = None,
    world: World | None = None,
    *,
    client: BidClient | None = None,
    clock: Clock | None = None,
) -> ReplaySummary:
    """See `replay`. `client` and `clock` replace the HTTP client and the wall clock
    (tests); the client is then not closed here."""
    config.validate()
    clock = clock or WallClock()
    started = time.perf_counter()
    async with LoopbackClient(config.concurrency, config.timeout_s) as own_client:
        run = _Replay(config, client or own_client, world, clock=clock)
        if not config.closed_loop:
            # Built after the world and the book: the schedule starts once all is set up.
            run.schedule = Schedule(
                start_ms=config.window.first_minute * MINUTE_MS,
                t0=clock.now() + START_LEAD_S,
                speed=config.effective_speed,
            )
            run.summary.speed = run.schedule.speed
        first, total = config.window.first_minute, config.window.minutes
        in_flight: deque[tuple[int, asyncio.Task[TruthRows]]] = deque()
        try:
            for i in range(total):
                minute = first + i
                in_flight.append((minute, asyncio.create_task(run.minute(minute))))
                while in_flight and (len(in_flight) >= MINUTES_IN_FLIGHT or i == total - 1):
                    done_minute, task = in_flight.popleft()
                    run.add_truth(await task)
                    if (done_minute + 1) % 60 == 0:
                        # In a thread: a Parquet write must not hold up the schedule.
                        await asyncio.to_thread(run.write_truth, done_minute // 60)
                    if progress is not None:
                        progress(done_minute - first + 1, total, run.summary.requests)
        finally:
            for _, task in in_flight:
                task.cancel()
            await asyncio.gather(*(task for _, task in in_flight), return_exceptions=True)
    run.summary.elapsed_s = time.perf_counter() - started
    return run.summary


def precise_loop(spare_fds: int = 64) -> asyncio.AbstractEventLoop:
    """An event loop whose timers wake within microseconds, not a millisecond.

    asyncio's default selector, epoll, waits in whole milliseconds (rounded up), so a
    sleep until a request's scheduled time overshoots by up to 1 ms: at a few hundred
    requests/s most sends would be "late" by the replay's own timer. select() takes
    microseconds and costs nothing with the few sockets a replay holds; it only handles
    descriptors below FD_SETSIZE (1024), so the default loop is kept when this process
    already holds many.
    """
    import os
    import selectors

    probe = os.open(os.devnull, os.O_RDONLY)  # the lowest free descriptor
    os.close(probe)
    if probe + spare_fds < 1000:
        return asyncio.SelectorEventLoop(selectors.SelectSelector())
    return asyncio.new_event_loop()


def replay(
    config: ReplayConfig, progress: ReplayProgress | None = None, world: World | None = None
) -> ReplaySummary:
    """Replay `config`'s window against the bidder; returns the summary (see module doc).
    `world` may be passed when already built (it must be `config.window.seed`'s)."""
    spare = 2 * config.concurrency + 64  # the replay's connections, and some
    with asyncio.Runner(loop_factory=lambda: precise_loop(spare)) as runner:
        return runner.run(replay_async(config, progress, world))
