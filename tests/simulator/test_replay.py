"""Replay against a tiny real HTTP bidder (Starlette under uvicorn, in a thread)."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from contract.events import vocabularies
from simulator.bid_requests import ALPHA3
from simulator.replay import ReplayConfig, ReplayError, bid_endpoint, replay
from simulator.traffic import TrafficWindow
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
