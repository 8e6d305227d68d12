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


def win(client: TestClient, b: dict[str, Any], price: str = "1.00") -> None:
    response = client.get(local(b["nurl"]).replace("${AUCTION_PRICE}", price))
    assert response.status_code == 200, response.text


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
        (lambda u: u.replace("${AUCTION_PRICE}", "1e9"), "above the cap"),
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
    win(client, b)
    response = client.get(local(b["ext"]["click_url"]), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == f"https://{b['adomain'][0]}/?bidlake_bid={b['id']}"
    (click,) = logged(app, "click")
    assert_contract("click", click)
    assert (click["bid_id"], click["campaign_id"], click["user_id"]) == (b["id"], b["cid"], "u-1")


def test_conversion_pixel_logs_value_type_and_order(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    win(client, b)
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
    assert purchase["event_id"] == f"cnv-{b['id']}-order-77"
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


# ---- the money path: what an attacker or a clumsy exchange cannot do ----


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def timed_app(settings: Settings, clock: Clock) -> BidderApp:
    return create_app(settings.with_overrides(campaigns=str(BOOK)), clock=clock)


@pytest.fixture
def timed(timed_app: BidderApp) -> Iterator[TestClient]:
    with TestClient(timed_app) as c:
        yield c


def tracking(client: TestClient) -> str:
    return client.get("/metrics").text


def test_a_win_bills_at_most_the_bid(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    bid_micros = round(b["price"] * 1_000_000)
    win(client, b, price="999.99")  # far above the bid
    assert app.bidder.store is not None
    assert app.bidder.store.spent(b["cid"], NOON) == bid_micros
    (impression,) = logged(app, "impression")
    assert impression["clearing_price_micros"] == bid_micros
    assert 'result="win_above_bid"} 1' in tracking(client)


def test_the_click_url_cannot_be_turned_into_a_win(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    forged = local(b["ext"]["click_url"]).replace("/click?", "/win?") + "&price=1"
    response = client.get(forged)
    assert response.status_code == 400 and "not valid for /win" in response.json()["error"]
    assert app.bidder.store is not None and app.bidder.store.spent(b["cid"], NOON) == 0


def test_an_id_with_control_characters_is_refused_at_the_door(client: TestClient) -> None:
    body = request("r1\x1fcmp-other")
    response = client.post("/openrtb2/bid", content=orjson.dumps(body))
    assert response.status_code == 400
    assert response.json()["error"] == "id: must not contain control characters"
    body = request("r2", user="u\x00x")
    assert (
        client.post("/openrtb2/bid", content=orjson.dumps(body))
        .json()["error"]
        .startswith("user.id:")
    )


def test_a_win_replayed_after_the_window_is_refused(
    timed_app: BidderApp, timed: TestClient, clock: Clock
) -> None:
    b = bid(timed)
    win(timed, b)
    clock.now += (timed_app.bidder.settings.win_dedupe_s + 1) * 1000
    late = timed.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "1.00"))
    assert late.status_code == 400 and "refused after 900 s" in late.json()["error"]
    assert timed_app.bidder.store is not None
    assert timed_app.bidder.store.spent(b["cid"], NOON) == 1_000_000  # billed once


def test_a_notice_from_the_future_is_refused(timed: TestClient, clock: Clock) -> None:
    b = bid(timed)
    clock.now -= 3_600_000  # the bidder's clock is an hour behind the bid's time
    response = timed.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "1.00"))
    assert response.status_code == 400 and "in the future" in response.json()["error"]


def test_wins_are_deduplicated_across_a_restart(settings: Settings, home: Path) -> None:
    """Two app instances on one data home — a restart, or two workers — share what was billed."""
    first = create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)
    with TestClient(first) as c1:
        b = bid(c1)
        win(c1, b)
    second = create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)
    with TestClient(second) as c2:
        win(c2, b)  # 200: exchanges retry, but nothing is counted
        assert 'result="win_duplicate"} 1' in tracking(c2)
        assert second.bidder.store is not None
        assert second.bidder.store.spent(b["cid"], NOON) == 0
        assert len(logged(second, "impression")) == 1  # the first instance's, only
    assert (home / "bidder" / "notices.sqlite3").exists()


def test_a_click_counts_once_and_only_on_a_won_bid(app: BidderApp, client: TestClient) -> None:
    b = bid(client)
    click = local(b["ext"]["click_url"])
    unwon = client.get(click, follow_redirects=False)
    assert unwon.status_code == 302  # the user still reaches the advertiser
    win(client, b)
    for _ in range(3):
        assert client.get(click, follow_redirects=False).status_code == 302
    metrics = tracking(client)
    assert 'result="click_not_won"} 1' in metrics and 'result="click_duplicate"} 2' in metrics
    (counted,) = logged(app, "click")
    assert counted["event_id"] == f"clk-{b['id']}"


def test_a_click_after_the_click_window_is_refused(
    timed_app: BidderApp, timed: TestClient, clock: Clock
) -> None:
    b = bid(timed)
    win(timed, b)
    clock.now += (timed_app.bidder.settings.click_window_s + 1) * 1000
    response = timed.get(local(b["ext"]["click_url"]), follow_redirects=False)
    assert response.status_code == 400 and "click for a bid" in response.json()["error"]


def test_one_conversion_per_bid_and_order_with_a_capped_value(
    app: BidderApp, client: TestClient
) -> None:
    b = bid(client)
    url = local(b["ext"]["conversion_url"])
    priced = url.replace("${CONVERSION_VALUE}", "20") + "&type=purchase&order=o-1"
    assert client.get(priced).status_code == 200  # not won yet: a pixel, nothing counted
    win(client, b)
    assert client.get(priced).status_code == 200
    assert client.get(priced).status_code == 200  # the same order again
    other = url.replace("${CONVERSION_VALUE}", "5") + "&type=purchase&order=o-2"
    assert client.get(other).status_code == 200
    huge = url.replace("${CONVERSION_VALUE}", "1000000") + "&order=o-3"
    response = client.get(huge)
    assert response.status_code == 400 and "above the cap of 1000" in response.json()["error"]
    metrics = tracking(client)
    assert 'result="conversion_not_won"} 1' in metrics
    assert 'result="conversion_duplicate"} 1' in metrics
    counted = logged(app, "conversion")
    assert sorted(c["event_id"] for c in counted) == [f"cnv-{b['id']}-o-1", f"cnv-{b['id']}-o-2"]


def test_redis_fleet_shares_what_was_counted(settings: Settings, redis_url: str) -> None:
    """Two bidders on one Redis (a fleet): a win billed by one is a duplicate at the other,
    and a click taken by the other knows the bid won."""
    import random

    fleet = settings.with_overrides(
        campaigns=str(BOOK), state=redis_url, redis_prefix=f"notices-{random.random()}"
    )
    one = create_app(fleet, clock=lambda: NOON)
    two = create_app(fleet.with_overrides(writer_id="bidder-two"), clock=lambda: NOON)
    with TestClient(one) as c1, TestClient(two) as c2:
        b = bid(c1)
        win(c1, b)
        win(c2, b)
        assert 'result="win_duplicate"} 1' in tracking(c2)
        assert c2.get(local(b["ext"]["click_url"]), follow_redirects=False).status_code == 302
        assert 'result="click"} 1' in tracking(c2)
        assert c1.get(local(b["ext"]["click_url"]), follow_redirects=False).status_code == 302
        assert 'result="click_duplicate"} 1' in tracking(c1)


def test_a_request_naming_no_exchange_is_logged_under_the_default(
    app: BidderApp, client: TestClient
) -> None:
    """Ingest refuses events without an exchange; the bidder never logs one."""
    bid(client)  # no ?exchange= and no ext.exchange
    (logged_request,) = logged(app, "bid_request")
    assert logged_request["exchange"] == "unknown"


def test_a_notice_the_store_cannot_record_asks_for_a_retry(
    app: BidderApp, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis away: 503 with retry-after (the exchange retries), never a 500."""
    b = bid(client)
    assert app.bidder.store is not None

    async def unavailable(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("redis: connection refused")

    monkeypatch.setattr(app.bidder.store, "record_win", unavailable)
    response = client.get(local(b["nurl"]).replace("${AUCTION_PRICE}", "1.00"))
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert 'result="notice_unavailable"} 1' in tracking(client)
    monkeypatch.undo()
    win(client, b)  # the retry, once the store is back, counts
    assert app.bidder.store.spent(b["cid"], NOON) == 1_000_000
