"""bidder.service's handlers, through the app: win notices, clicks and conversions via the
URLs the bidder puts into its bids (bidder.urls) — the events they log, the spend they count,
the notices they refuse — and /readyz, /healthz, /metrics and the tracking-log formats."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from google.protobuf import json_format
from starlette.testclient import TestClient

from bidder.app import BidderApp, create_app
from bidder.settings import Settings
from contract import events as contract
from contract.encoding import read_varint_frames
from tests.bidder.conftest import iso_ms
from tests.bidder.test_cases import BOOK, assert_contract, read_events

NOON = iso_ms("2026-01-05T12:00:00Z")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def request(rid: str, user: str = "u-1") -> dict[str, Any]:
    return {
        "id": rid,
        "imp": [{"id": "1", "bidfloor": 0.5, "banner": {"w": 300, "h": 250}}],
        "site": {"domain": "news.example", "publisher": {"id": "p1"}},
        "device": {"ua": UA, "devicetype": 2, "geo": {"country": "USA"}},
        "user": {"id": user},
    }


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def app(settings: Settings) -> BidderApp:
    return create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)


@pytest.fixture
def client(app: BidderApp) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def logged(app: BidderApp, event_type: str) -> list[dict[str, Any]]:
    """The events of one type published so far (closes the open log files first)."""
    assert app.bidder.logs is not None
    app.bidder.logs.writer.close()
    return read_events(app.bidder.settings.landing_path, event_type)


def bid(client: TestClient, rid: str = "r1", user: str = "u-1") -> dict[str, Any]:
    response = client.post("/openrtb2/bid", content=orjson.dumps(request(rid, user)))
    assert response.status_code == 200, response.text
    return response.json()["seatbid"][0]["bid"][0]


def test_win_notice_logs_the_impression_and_counts_spend(
    app: BidderApp, client: TestClient
) -> None:
    b = bid(client)
    win = client.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "2.5"))
    assert win.status_code == 200
    store = app.bidder.store
    assert store is not None
    assert store.spent(b["cid"], NOON) == 2_500_000  # CPM micros: $0.0025 for one impression
    (impression,) = logged(app, "impression")
    assert_contract("impression", impression)
    assert impression == {
        "event_id": b["id"],
        "event_time": NOON,
        "bid_id": b["id"],
        "request_id": "r1",
        "campaign_id": b["cid"],
        "creative_id": b["crid"],
        "clearing_price_micros": 2_500_000,
        "user_id": "u-1",
    }


def test_repeated_win_notice_is_counted_and_logged_once(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    url = local(b["nurl"]).replace("${AUCTION_PRICE}", "1.00")
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # exchanges retry; not an error
    assert app.bidder.store is not None
    assert app.bidder.store.spent(b["cid"], NOON) == 1_000_000
    assert 'bidder_tracking_total{result="win_duplicate"} 1' in client.get("/metrics").text
    assert len(logged(app, "impression")) == 1


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda u: u.replace("${AUCTION_PRICE}", ""), "without a clearing price"),
        (lambda u: u, "without a clearing price"),  # macro left unsubstituted
        (lambda u: u.replace("${AUCTION_PRICE}", "abc"), "price must be a decimal amount"),
        (lambda u: u.replace("${AUCTION_PRICE}", "-1"), "finite amount >= 0"),
        (lambda u: u.replace("${AUCTION_PRICE}", "Infinity"), "finite amount >= 0"),
        (lambda u: u.replace("${AUCTION_PRICE}", "1e9"), "beyond any plausible price"),
        (lambda u: u.replace("&p=", "&p=9").replace("${AUCTION_PRICE}", "1"), "signature"),
        (lambda u: u.replace("&s=", "&s=0").replace("${AUCTION_PRICE}", "1"), "signature"),
        (lambda u: u.split("&s=")[0] + "&price=1", "lacks parameter 's'"),
    ],
)
def test_bad_win_notices_are_refused_with_a_reason(
    app: BidderApp, client: TestClient, edit: Any, error: str
) -> None:
    b = bid(client)
    response = client.get(edit(local(b["nurl"])))
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert app.bidder.store is not None
    assert app.bidder.store.spent(b["cid"], NOON) == 0


def test_click_redirects_to_the_advertiser_and_logs_the_click(
    app: BidderApp, client: TestClient
) -> None:
    b = bid(client)
    response = client.get(local(b["ext"]["click_url"]), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == f"https://{b['adomain'][0]}/?bidlake_bid={b['id']}"
    (click,) = logged(app, "click")
    assert_contract("click", click)
    assert (click["bid_id"], click["campaign_id"], click["user_id"]) == (b["id"], b["cid"], "u-1")


def test_conversion_pixel_logs_value_type_and_order(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    url = local(b["ext"]["conversion_url"]).replace("${CONVERSION_VALUE}", "49.90")
    response = client.get(url + "&type=purchase&order=order-77")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    signup = client.get(local(b["ext"]["conversion_url"]) + "&type=signup")  # macro unset
    assert signup.status_code == 200
    purchase, lead = logged(app, "conversion")
    for event in (purchase, lead):
        assert_contract("conversion", event)
    assert purchase["event_id"] == "order-77"
    assert purchase["conversion_value_micros"] == 49_900_000
    assert purchase["conversion_type"] == "purchase"
    assert purchase["bid_id"] == b["id"]
    assert lead["conversion_value_micros"] == 0 and lead["conversion_type"] == "signup"


def test_conversion_with_an_unknown_type_is_refused(client: TestClient) -> None:
    b = bid(client)
    url = local(b["ext"]["conversion_url"]).replace("${CONVERSION_VALUE}", "1") + "&type=refund"
    response = client.get(url)
    assert response.status_code == 400
    assert "type must be one of" in response.json()["error"]


def test_notices_may_be_posted_as_forms(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    path, query = local(b["nurl"]).split("?", 1)
    response = client.post(
        path,
        content=query.replace("${AUCTION_PRICE}", "1.5").encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert len(logged(app, "impression")) == 1


def test_frequency_cap_counts_won_impressions(app: BidderApp, client: TestClient) -> None:
    """cmp-104 allows 5 impressions per user and day; after 5 wins it stops bidding for
    that user (the next campaign takes over), but still bids for other users."""
    for i in range(5):
        b = bid(client, f"r{i}", user="heavy")
        assert b["cid"] == "cmp-104"
        assert client.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "1")).status_code == 200
    assert bid(client, "r5", user="heavy")["cid"] != "cmp-104"
    assert bid(client, "r6", user="light")["cid"] == "cmp-104"


def test_readyz_healthz_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok\n"
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["models"]["ctr"]["version"] == "ctr-v1"
    bid(client)
    client.post("/openrtb2/bid", content=b"{")
    text = client.get("/metrics").text
    for line in [
        'bidder_requests_total{outcome="bid"} 1',
        'bidder_requests_total{outcome="bad_request"} 1',
        'bidder_bids_total{campaign_id="cmp-104"} 1',
        'bidder_model_info{model="ctr",version="ctr-v1"',
        "bidder_request_duration_seconds_count 2",
        'bidder_events_logged_total{event_type="bid_request"} 1',
        'bidder_campaign_pacing_factor{campaign_id="cmp-104"} 1.0000',
    ]:
        assert line in text, line


def test_not_ready_without_a_model(settings: Settings, home: Path) -> None:
    empty = home / "no-models"
    app = create_app(settings.with_overrides(models_root=str(empty), campaigns=str(BOOK)))
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        response = client.post("/openrtb2/bid", content=orjson.dumps(request("r1")))
        assert response.status_code == 204
        assert response.headers["x-bidlake-no-bid"] == "no_model"


def test_requests_before_startup_get_503(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no `with`: the lifespan never ran
    assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize(
    ("fmt", "compress"), [("protobuf", False), ("protobuf", True), ("jsonl", True)]
)
def test_every_log_format_carries_the_same_events(
    settings: Settings, fmt: str, compress: bool
) -> None:
    app = create_app(
        settings.with_overrides(campaigns=str(BOOK), log_format=fmt, log_compress=compress),
        clock=lambda: NOON,
    )
    with TestClient(app) as client:
        b = bid(client, "r-fmt")
        assert client.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "1.5")).status_code == 200
    ext = ("pb" if fmt == "protobuf" else "jsonl") + (".gz" if compress else "")
    messages: dict[str, list[dict[str, Any]]] = {}
    for event_type in ("bid_request", "bid", "impression"):
        (path,) = (Path(settings.landing) / event_type).glob(f"*.{ext}")
        data = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
        if fmt == "jsonl":
            messages[event_type] = [orjson.loads(line) for line in data.splitlines()]
        else:
            cls = contract.EVENT_MESSAGES[event_type]
            messages[event_type] = [
                json_format.MessageToDict(cls.FromString(body), preserving_proto_field_name=True)
                for _, body in read_varint_frames(data)
            ]
    (request_event,) = messages["bid_request"]
    assert request_event["request_id"] == "r-fmt"
    assert request_event["country"] == "US"
    (bid_event,) = messages["bid"]
    assert bid_event["event_id"] == b["id"]
    assert float(bid_event["pctr"]) > 0
    (impression,) = messages["impression"]
    assert int(impression["clearing_price_micros"]) == 1_500_000
