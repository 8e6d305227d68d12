"""Replay against a tiny real HTTP bidder (Starlette under uvicorn, in a thread)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pyarrow.parquet as pq
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bidlake import cli
from contract.events import vocabularies
from simulator.openrtb import ALPHA3, conversion_url, micros_to_decimal, read_response
from simulator.replay import ReplayConfig, ReplayError, bid_endpoint, replay
from tests.simulator.conftest import SMALL, serve

START = datetime(2026, 1, 5, 14, tzinfo=UTC)


class ConstantBidder:
    """Bids `price` USD CPM on every banner for campaign cmp-101; records every call."""

    def __init__(self, price: float = 5.0, delay_s: float = 0.0, notice_host: str = "") -> None:
        self.price = price
        self.delay_s = delay_s
        self.notice_host = notice_host  # where the URLs in bids point ("" = this server)
        self.requests: list[dict] = []
        self.bodies: list[bytes] = []
        self.bids: dict[str, float] = {}
        self.wins: list[dict[str, str]] = []
        self.clicks: list[dict[str, str]] = []
        self.conversions: list[dict[str, str]] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openrtb2/bid", self.bid, methods=["POST"]),
                Route("/win", self.win),
                Route("/click", self.click),
                Route("/conversion", self.conversion),
            ]
        )

    async def bid(self, request: Request) -> Response:
        body = await request.body()
        self.bodies.append(body)
        data = orjson.loads(body)
        self.requests.append(data)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # a slow bidder, past tmax
        imp = data["imp"][0]
        if "banner" not in imp:
            return Response(status_code=204)
        bid_id = f"b-{data['id']}"
        self.bids[bid_id] = self.price
        base = self.notice_host or str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": data["id"],
                "bidid": f"r-{data['id']}",
                "cur": "USD",
                "seatbid": [
                    {
                        "seat": "test",
                        "bid": [
                            {
                                "id": bid_id,
                                "impid": imp["id"],
                                "price": self.price,
                                "cid": "cmp-101",
                                "crid": "cr-101-300x250",
                                "nurl": f"{base}/win?b={bid_id}&price=${{AUCTION_PRICE}}"
                                "&auction=${AUCTION_ID}",
                                "adm": "<a href='x'>ad</a>",
                                "ext": {
                                    "click_url": f"{base}/click?b={bid_id}",
                                    "conversion_url": f"{base}/conversion?b={bid_id}"
                                    "&value=${CONVERSION_VALUE}",
                                },
                            }
                        ],
                    }
                ],
            }
        )

    async def win(self, request: Request) -> Response:
        self.wins.append(dict(request.query_params))
        return Response(status_code=204)

    async def click(self, request: Request) -> Response:
        self.clicks.append(dict(request.query_params))
        return RedirectResponse("https://advertiser.example/landing", status_code=302)

    async def conversion(self, request: Request) -> Response:
        self.conversions.append(dict(request.query_params))
        return Response(b"GIF89a", media_type="image/gif")


def config(url: str, tmp: Path, **overrides) -> ReplayConfig:
    fields = {
        "bidder": url,
        "start": START,
        "hours": 1,
        "rate": 0.5,
        "seed": 3,
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


def test_responses_an_exchange_rejects() -> None:
    from simulator.openrtb import InvalidResponse

    good = {
        "id": "r1",
        "seatbid": [{"bid": [{"id": "b", "impid": "1", "price": 1.5, "nurl": "http://x/w"}]}],
    }
    assert read_response(good, "r1").price_micros == 1_500_000  # type: ignore[union-attr]
    assert read_response({"id": "r1", "seatbid": []}, "r1") is None
    bad = [
        ({**good, "id": "other"}, "request's id"),
        ({**good, "cur": "EUR"}, "currency"),
        ({"id": "r1", "seatbid": [{"bid": [{"impid": "2", "price": 1}]}]}, "not offered"),
        ({"id": "r1", "seatbid": [{"bid": [{"impid": "1", "price": "1"}]}]}, "positive"),
        ({"id": "r1", "seatbid": [{"bid": [{"impid": "1", "price": 1}]}]}, "nurl"),
        ([], "JSON object"),
    ]
    for data, message in bad:
        with pytest.raises(InvalidResponse, match=message):
            read_response(data, "r1")


def test_macros() -> None:
    assert micros_to_decimal(1_010_000) == "1.01"
    assert micros_to_decimal(2_000_000) == "2"
    assert micros_to_decimal(5) == "0.000005"
    bid = read_response(
        {
            "id": "r",
            "seatbid": [
                {
                    "bid": [
                        {
                            "id": "b",
                            "impid": "1",
                            "price": 1,
                            "nurl": "http://127.0.0.1/w",
                            "ext": {
                                "conversion_url": "http://127.0.0.1/c?t=1&value=${CONVERSION_VALUE}"
                            },
                        }
                    ]
                }
            ],
        },
        "r",
    )
    assert bid is not None
    url = conversion_url(bid, 85_250_000, "purchase", "o1")
    assert parse_qs(urlsplit(url).query) == {
        "t": ["1"],
        "value": ["85.25"],
        "type": ["purchase"],
        "order": ["o1"],
    }


def test_replay_command(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bidder = ConstantBidder()
    with serve(bidder.app()) as url:
        code = cli.main(["replay", "--bidder", url, "--rate", "0.05", "--start", "2026-01-05T14"])
    assert code == 0
    out = capsys.readouterr().out
    assert "requests" in out and "latency" in out and bidder.requests
    assert cli.main(["replay", "--bidder", "http://192.0.2.1:80"]) == 2
