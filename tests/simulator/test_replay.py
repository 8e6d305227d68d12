"""Replay against a tiny real HTTP bidder (Starlette under uvicorn, in a thread), and the
open-loop schedule against a fake bidder on a virtual clock."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
import pyarrow.parquet as pq
import pytest

from contract.events import vocabularies
from simulator import ids, market
from simulator.bid_requests import ALPHA3
from simulator.exchange import AUCTION, TRAFFIC, generate_minute, minute_rng
from simulator.http import Response
from simulator.replay import (
    DEFAULT_OFFERED_RATE,
    ReplayConfig,
    ReplayError,
    ReplaySummary,
    bid_endpoint,
    replay,
    replay_async,
)
from simulator.traffic import TrafficWindow
from simulator.world import World
from tests.simulator.conftest import SMALL, START, ConstantBidder, serve


def config(url: str, tmp: Path, rate: float = 0.5, **overrides) -> ReplayConfig:
    fields = {
        "bidder": url,
        "window": TrafficWindow(START, hours=1, rate=rate, seed=3),
        "truth": tmp / "truth",
        "concurrency": 8,
        "world": SMALL,
    } | overrides
    return ReplayConfig(**fields)


def test_replay_runs_auctions_and_calls_the_bidders_urls(tmp_path: Path) -> None:
    bidder = ConstantBidder(price=5.0)
    with serve(bidder.app()) as url:
        summary = replay(config(url, tmp_path))
    assert summary.requests == len(bidder.requests) > 1000
    assert summary.answered == summary.requests and not summary.errors
    # a bid answered after tmax (a loaded machine) is dropped by the exchange
    assert summary.bids + summary.late == len(bidder.bids)
    assert 0 < summary.impressions == len(bidder.wins) < summary.bids
    assert summary.clicks == len(bidder.clicks)
    assert summary.conversions == len(bidder.conversions)
    assert not summary.failed_notices and not summary.invalid

    vocab = vocabularies()
    for data in bidder.requests:
        imp = data["imp"][0]
        assert imp["id"] == "1" and imp["bidfloorcur"] == "USD" and imp["bidfloor"] >= 0.01
        size = imp.get("banner") or imp["video"]
        assert size["w"] > 0 and size["h"] > 0
        assert data["at"] == 2 and data["tmax"] in (100, 120, 150, 200) and data["cur"] == ["USD"]
        assert ("site" in data) != ("app" in data)
        geo = data["device"]["geo"]
        assert geo["country"] in ALPHA3.values() and geo["region"][2] == "-"
        assert data["device"]["devicetype"] in (1, 2, 4, 5)
        assert data["ext"]["exchange"]
        for datum in data["user"].get("data", []):
            assert all(s["id"] for s in datum["segment"])
    request_ids = {d["id"] for d in bidder.requests}
    assert len(request_ids) == len(bidder.requests)

    for win in bidder.wins:
        price = Decimal(win["price"])  # the macro was replaced by a decimal amount
        assert Decimal("0.01") < price <= Decimal("5")
        assert win["auction"] in request_ids
    for conversion in bidder.conversions:
        assert Decimal(conversion["value"]) > 0
        assert conversion["type"] in vocab["conversion_type"] and conversion["order"]
    won = {w["b"] for w in bidder.wins}
    assert {c["b"] for c in bidder.clicks} <= won
    assert {c["b"] for c in bidder.conversions} <= {c["b"] for c in bidder.clicks}

    truth = pq.read_table(tmp_path / "truth").to_pydict()
    assert set(truth["bid_id"]) == won and len(truth["bid_id"]) == len(won)
    assert all(0 < p < 1 for p in truth["p_click"])
    assert summary.latency_ms(0.5) > 0
    assert summary.spend_micros["cmp-101"] > 0


def test_the_same_seed_sends_the_same_requests(tmp_path: Path) -> None:
    first, second = ConstantBidder(), ConstantBidder()
    for bidder in (first, second):
        with serve(bidder.app()) as url:
            replay(config(url, tmp_path, rate=0.05))
    # concurrency may reorder arrivals; the requests themselves are the same
    assert sorted(first.bodies) == sorted(second.bodies)


def test_bids_after_tmax_are_dropped(tmp_path: Path) -> None:
    bidder = ConstantBidder(delay_s=0.25)  # every exchange's tmax is at most 200 ms
    with serve(bidder.app()) as url:
        summary = replay(config(url, tmp_path, rate=0.02, concurrency=32))
    assert summary.late == len(bidder.bids) > 0
    assert summary.bids == summary.impressions == 0 and not bidder.wins


def test_urls_off_loopback_are_never_called(tmp_path: Path) -> None:
    bidder = ConstantBidder(notice_host="http://198.51.100.7")  # TEST-NET-2: unroutable
    with serve(bidder.app()) as url:
        summary = replay(config(url, tmp_path, rate=0.05))
    assert summary.impressions > 0 and not bidder.wins
    assert summary.refused_urls == summary.failed_notices["win"] + summary.failed_notices.get(
        "click", 0
    ) + summary.failed_notices.get("conversion", 0)


def test_only_loopback_bidders() -> None:
    with pytest.raises(ValueError, match="loopback"):
        bid_endpoint("http://10.1.2.3:8080")
    with pytest.raises(ValueError, match="loopback"):
        bid_endpoint("http://bidder.example.com")
    assert bid_endpoint("http://localhost:8080") == "http://localhost:8080/openrtb2/bid"
    assert bid_endpoint("http://[::1]:9/custom/bid") == "http://[::1]:9/custom/bid"


def test_an_unreachable_bidder_stops_the_replay(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(ReplayError, match="answered none"):
        replay(config(f"http://127.0.0.1:{port}", tmp_path, rate=0.05))


# ---- open loop, on a virtual clock ----


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: when nothing is ready it jumps to its next timer
    instead of waiting, so a replay of an hour runs in a moment and every time is exact."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual = 1_000.0
        real_select = self._selector.select  # type: ignore[attr-defined]

        def select(timeout: float | None = None):
            if timeout is not None and timeout > 0:
                self.virtual += timeout
                return real_select(0)
            return real_select(timeout)

        self._selector.select = select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self.virtual


class FakeClock:
    """The replay's clock on the loop's virtual time."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_until(self, t: float) -> None:
        await asyncio.sleep(max(t - self.now(), 0))


class FakeBidder:
    """An HTTP client answering in virtual time: after `service_s`, a no-bid, or a bid of
    `price` USD CPM on every banner. `hold_up(i)` seconds pass before the i-th request
    goes out (this process busy elsewhere), making it and those due meanwhile late."""

    def __init__(
        self,
        service_s: float = 0.002,
        price: float | None = None,
        hold_up: Callable[[int], float] | None = None,
    ) -> None:
        self.service_s = service_s
        self.price = price
        self.hold_up = hold_up
        self.sent: dict[str, tuple[float, dict]] = {}  # request id -> (send time, request)
        self.gets: list[tuple[float, str]] = []

    async def get(self, url: str) -> Response:
        self.gets.append((asyncio.get_running_loop().time(), url))
        return Response(204, b"")

    async def post(self, url, body, headers, on_send=None) -> Response:
        loop = asyncio.get_running_loop()
        request = orjson.loads(body)
        held = self.hold_up(len(self.sent)) if self.hold_up else 0.0
        loop.virtual += held  # type: ignore[attr-defined]
        assert on_send is not None
        on_send()
        self.sent[request["id"]] = (loop.time(), request)
        await asyncio.sleep(self.service_s)
        if self.price is None or "banner" not in request["imp"][0]:
            return Response(204, b"")
        rid = request["id"]
        bid = {
            "id": f"b-{rid}",
            "impid": "1",
            "price": self.price,
            "cid": "cmp-101",
            "nurl": f"http://127.0.0.1:9/win?b=b-{rid}&price=${{AUCTION_PRICE}}",
        }
        return Response(200, orjson.dumps({"id": rid, "seatbid": [{"bid": [bid]}]}))


def run_virtual(
    world: World, client: FakeBidder, rate: float, speed: float, share: float = 0.0
) -> ReplaySummary:
    cfg = ReplayConfig(
        bidder="http://127.0.0.1:9",
        window=TrafficWindow(START, hours=1, rate=rate, seed=11),
        truth=None,
        world=SMALL,
        speed=speed,
        first_price_share=share,
    )
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(replay_async(cfg, world=world, client=client, clock=FakeClock()))


def schedule_of(world: World, rate: float, share: float = 0.0) -> dict[str, tuple[int, int]]:
    """Request id -> (simulated arrival ms, auction type), as the exchange draws them."""
    out = {}
    window = TrafficWindow(START, hours=1, rate=rate, seed=11)
    for minute in range(window.first_minute, window.first_minute + window.minutes):
        r = generate_minute(world, minute, rate, minute_rng(11, minute, TRAFFIC))
        rids = ids.hex_ids(ids.event_keys(11, ids.REPLAY_REQUEST, minute, r.seq))
        rng = minute_rng(11, minute, AUCTION) if share else None
        kinds, _ = market.auction_types(rng, len(r), share)
        out |= dict(zip(rids, zip(r.time_ms.tolist(), kinds.tolist(), strict=True), strict=True))
    return out


@pytest.fixture
def in_home(home: Path) -> Path:
    return home  # truth files go to the test's own BIDLAKE_HOME


def test_open_loop_sends_each_request_at_its_scheduled_time(
    small_world: World, in_home: Path
) -> None:
    rate, speed = 0.3, 50.0
    bidder = FakeBidder(service_s=0.002)
    summary = run_virtual(small_world, bidder, rate, speed)
    expected = schedule_of(small_world, rate)
    assert set(bidder.sent) == set(expected) and summary.requests == len(expected) > 500
    first = min(expected, key=lambda rid: expected[rid][0])
    t0, ms0 = bidder.sent[first][0], expected[first][0]
    for rid, (sent, _) in bidder.sent.items():
        assert sent - t0 == pytest.approx((expected[rid][0] - ms0) / 1000 / speed, abs=1e-9)
    assert summary.sent_late == 0 and summary.max_send_lateness_ms < 1e-6
    # latency from the schedule is the bidder's answer time when nothing is late
    assert summary.latency_ms(0.5) == pytest.approx(2.0, abs=0.15)
    assert summary.latency_ms(0.999) == pytest.approx(2.0, abs=0.15)
    assert summary.service_latency_ms(0.5) == summary.latency_ms(0.5)
    assert summary.speed == speed and summary.offered_rate == pytest.approx(
        len(expected) / 3600 * speed
    )


def test_requests_held_up_count_as_late_and_their_wait_as_latency(
    small_world: World, in_home: Path
) -> None:
    rate, speed, hold = 0.3, 1000.0, 0.006  # ~300 requests/s: one every ~3 ms
    bidder = FakeBidder(service_s=0.002, hold_up=lambda i: hold if i % 50 == 7 else 0.0)
    summary = run_virtual(small_world, bidder, rate, speed)
    expected = schedule_of(small_world, rate)
    order = sorted(expected, key=lambda rid: expected[rid][0])
    # The requests went out in order; each held one pushed the clock on by `hold`. The
    # first was on time (not held), so it gives the schedule's origin.
    sends = [bidder.sent[rid][0] for rid in order]
    assert sends == sorted(sends)
    due = [sends[0] + (expected[rid][0] - expected[order[0]][0]) / 1000 / speed for rid in order]
    lateness = [s - d for s, d in zip(sends, due, strict=True)]
    late = sum(1 for x in lateness if x > 0.001 + 1e-9)
    held = len(range(7, len(order), 50))
    # a hold makes the requests due meanwhile late too (they queue behind it)
    assert summary.sent_late == late > held > 5
    assert summary.max_send_lateness_ms == pytest.approx(max(lateness) * 1000, abs=1e-6)
    assert max(lateness) >= hold - 1e-9
    # the exchange sees the wait: latency from the schedule, not from the send
    assert summary.latency_ms(0.999) >= hold * 1000
    assert summary.service_latency_ms(0.5) == pytest.approx(2.0, abs=0.15)
    # (an answer due while this process was held up is read after the hold)
    assert summary.service_latency_ms(1.0) <= 2.0 + hold * 1000 + 0.15


def test_open_loop_sends_at_as_drawn_and_first_price_winners_pay_their_bid(
    small_world: World, in_home: Path
) -> None:
    rate, speed, share = 0.3, 50.0, 0.5
    bidder = FakeBidder(price=4.0)
    summary = run_virtual(small_world, bidder, rate, speed, share)
    expected = schedule_of(small_world, rate, share)
    sent_at = {rid: request["at"] for rid, (_, request) in bidder.sent.items()}
    assert sent_at == {rid: kind for rid, (_, kind) in expected.items()}
    assert summary.first_price_requests == sum(1 for a in sent_at.values() if a == 1)
    n = len(sent_at)
    assert abs(summary.first_price_requests / n - share) < 4 * (share * (1 - share) / n) ** 0.5

    prices: dict[int, list[Decimal]] = {1: [], 2: []}
    for when, url in bidder.gets:
        query = dict(parse_qsl(urlsplit(url).query))
        rid = query["b"].removeprefix("b-")
        prices[sent_at[rid]].append(Decimal(query["price"]))
        # notices follow their request by one simulated minute, at the traffic's pace
        assert when - bidder.sent[rid][0] == pytest.approx(60 / speed, abs=1e-6)
    assert prices[1] and set(prices[1]) == {Decimal(4)}  # first price: the own bid
    assert prices[2] and max(prices[2]) <= 4 and min(prices[2]) < 4  # second price
    assert summary.impressions == len(bidder.gets)
    assert sum(summary.spend_micros.values()) == round(
        sum(float(p) for p in prices[1] + prices[2]) * 1_000_000 / 1000
    )


def test_closed_loop_sends_as_fast_as_answered(tmp_path: Path) -> None:
    bidder = ConstantBidder(price=5.0)
    with serve(bidder.app()) as url:
        summary = replay(config(url, tmp_path, rate=0.2, closed_loop=True))
    assert summary.requests == len(bidder.requests) > 300 and summary.answered == summary.requests
    assert summary.speed is None and summary.sent_late == 0 and summary.offered_rate == 0
    assert summary.mode.startswith("closed loop") and summary.impressions > 0
    # an hour of traffic in far less than an hour, and than the default open loop's pace
    assert summary.elapsed_s < summary.requests / DEFAULT_OFFERED_RATE + 5


def test_the_default_speed_offers_a_fixed_rate() -> None:
    window = TrafficWindow(START, hours=1, rate=5.0, seed=1)
    cfg = ReplayConfig(bidder="http://127.0.0.1:9", window=window)
    assert cfg.effective_speed == DEFAULT_OFFERED_RATE / 5.0
    assert "open loop" in cfg.mode
    assert ReplayConfig(bidder="http://127.0.0.1:9", window=window, speed=2).effective_speed == 2
    for bad in (0, -1.0, float("inf"), True):
        with pytest.raises(ValueError, match="speed"):
            ReplayConfig(bidder="http://127.0.0.1:9", window=window, speed=bad).validate()
    with pytest.raises(ValueError, match="first_price_share"):
        ReplayConfig(bidder="http://127.0.0.1:9", window=window, first_price_share=2).validate()
