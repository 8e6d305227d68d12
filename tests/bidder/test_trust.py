"""Issue 11 "Trust", the bid path: numbers that do not fit the event contract, an imp with a
sizeless banner, an error after the budget was reserved, and a model whose scores are not
finite. Each of these used to end in a 500 — several after a bid was counted and its price
reserved; now each is a 400 naming the field or a no-bid with a reason, and nothing stays
reserved or counted."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from bidder.app import BidderApp, create_app
from bidder.settings import Settings
from ml import registry
from ml.artifact import canonical_json, new_document, seal, signing_key
from ml.features import default_spec
from tests.bidder.test_cases import BOOK, assert_contract, read_events
from tests.bidder.test_service import NOON, request
from tests.support.polling import eventually

CAMPAIGNS = [c["campaign_id"] for c in orjson.loads(BOOK.read_bytes())["campaigns"]]


def edited(path: str, value: object, rid: str = "r1") -> dict[str, Any]:
    """The biddable test request with the field at `path` ("imp.0.banner.w") set."""
    body = copy.deepcopy(request(rid))
    *parents, last = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[int(last) if isinstance(node, list) else last] = value
    return body


@pytest.fixture(params=["jsonl", "protobuf"])
def app(request: pytest.FixtureRequest, settings: Settings) -> BidderApp:
    return create_app(
        settings.with_overrides(campaigns=str(BOOK), log_format=request.param),
        clock=lambda: NOON,
    )


@pytest.fixture
def client(app: BidderApp) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def post(client: TestClient, body: dict[str, Any]) -> Any:
    """POST a bid request; a generous tmax unless the case sets one (on a loaded test box
    a 100 ms request may become a timeout no-bid, which is not what these tests are about).
    json, not orjson: orjson refuses to write integers beyond 64 bits; an exchange may not."""
    body = {"tmax": 5_000, **body}
    return client.post("/openrtb2/bid", content=json.dumps(body).encode())


def committed(app: BidderApp) -> dict[str, int]:
    store = app.bidder.store
    assert store is not None
    return {cid: store.committed(cid, NOON) for cid in CAMPAIGNS}


def nothing_reserved(app: BidderApp) -> bool:
    assert set(committed(app).values()) == {0}, committed(app)
    return True


def events(app: BidderApp, event_type: str) -> list[dict[str, Any]]:
    """Published events of one type (jsonl: read back; protobuf: counted only)."""
    assert app.bidder.logs is not None
    return read_events(app.bidder.settings.landing_path, event_type)


def test_the_test_request_bids(app: BidderApp, client: TestClient) -> None:
    """The baseline every case below edits: one bid, one reservation."""
    assert post(client, request("r0")).status_code == 200
    assert sum(committed(app).values()) > 0


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("tmax", 10**20, "tmax"),  # > int64: jsonl could not encode it
        ("tmax", 2**31, "tmax"),  # > int32: protobuf could not
        ("at", 2**31, "at"),
        ("imp.0.banner.w", 10**30, "imp[0].banner.w"),
        ("imp.0.banner.h", 2**31, "imp[0].banner.h"),
        ("imp.0.banner.w", -300, "imp[0].banner.w"),
        ("imp.0.banner.format", [{"w": 2**31, "h": 250}], "imp[0].banner.format[0].w"),
        ("imp.0.banner.wmax", 2**40, "imp[0].banner.wmax"),
        ("imp.0.video", {"w": 2**31, "h": 360}, "imp[0].video.w"),
        ("imp.0.bidfloor", 1e300, "imp[0].bidfloor"),  # 1e306 micros > int64
        ("imp.0.bidfloor", 1e10, "imp[0].bidfloor"),
        ("imp.0.pmp", {"deals": [{"id": "d", "bidfloor": 1e300}]}, "imp[0].pmp.deals[0].bidfloor"),
        ("device.geo.utcoffset", 10**30, "device.geo.utcoffset"),
    ],
)
def test_numbers_beyond_the_contract_are_400_naming_the_field(
    app: BidderApp, client: TestClient, path: str, value: object, where: str
) -> None:
    response = post(client, edited(path, value))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(where + ": "), response.json()
    nothing_reserved(app)
    metrics = client.get("/metrics").text
    assert "bidder_bids_total{campaign_id=" not in metrics
    assert 'bidder_requests_total{outcome="bad_request"} 1' in metrics
    # The bidder still works, and logs only what it answered.
    assert post(client, request("r-after")).status_code == 200
    app.bidder.logs.writer.close()  # type: ignore[union-attr]
    if app.settings.log_format == "jsonl":
        assert [e["request_id"] for e in events(app, "bid_request")] == ["r-after"]


def test_the_largest_values_that_fit_are_accepted(app: BidderApp, client: TestClient) -> None:
    body = edited("tmax", 60_000)
    body["at"] = 2**31 - 1  # exchange-specific auction types (500+) up to int32
    body["imp"][0]["banner"]["format"] = [{"w": 100_000, "h": 100_000}]
    assert post(client, body).status_code == 200


def test_a_sizeless_banner_is_a_no_bid_not_an_error(app: BidderApp, client: TestClient) -> None:
    """`"banner": {}` (no w/h, no format, no range): no creative can fit it. The imp is a
    no-bid with reason `unsupported` and is logged as the banner the exchange offered."""
    response = post(client, edited("imp.0.banner", {}))
    assert response.status_code == 204
    assert response.headers["x-bidlake-no-bid"] == "unsupported"
    # Beside a biddable imp, only that one bids.
    body = request("r2")
    body["imp"] = [{"id": "a", "banner": {"w": 0}}, {**body["imp"][0], "id": "b"}]
    response = post(client, body)
    assert response.status_code == 200
    assert [b["impid"] for b in response.json()["seatbid"][0]["bid"]] == ["b"]
    app.bidder.logs.writer.close()  # type: ignore[union-attr]
    if app.settings.log_format == "jsonl":
        logged = {(e["request_id"], e["imp_id"]): e for e in events(app, "bid_request")}
        for key in (("r1", "1"), ("r2", "a")):
            event = logged[key]
            assert_contract("bid_request", event)
            assert (event["ad_format"], event["ad_width"], event["ad_height"]) == ("banner", 0, 0)
            assert event["no_bid_reason"] == "unsupported"


def test_an_error_after_reserving_releases_and_answers_no_bid(
    app: BidderApp,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug after the reservation (here: building the response fails) must not leave the
    price reserved, the bid counted, or the exchange with a 500."""

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("simulated bug while building the response")

    monkeypatch.setattr("bidder.service.bid_response", broken)
    with caplog.at_level(logging.ERROR, logger="bidder"):
        response = post(client, request("r1"))
    assert response.status_code == 204
    assert response.headers["x-bidlake-no-bid"] == "internal_error"
    assert "simulated bug" in caplog.text
    eventually(lambda: nothing_reserved(app), timeout=5, what="the reservation released")
    metrics = client.get("/metrics").text
    assert 'bidder_requests_total{outcome="bid_internal_error"} 1' in metrics
    assert "bidder_bids_total{campaign_id=" not in metrics
    app.bidder.logs.writer.close()  # type: ignore[union-attr]
    assert events(app, "bid") == []


def test_an_error_on_a_later_imp_releases_the_earlier_imps_reservations(
    app: BidderApp, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = app.bidder.models
    assert models is not None and models.ctr.model is not None
    predict = models.ctr.model.predict

    def fails_on_imp_b(raw: Any) -> float:
        if raw["imp_id"] == "b":
            raise RuntimeError("simulated scorer bug")
        return predict(raw)

    monkeypatch.setattr(models.ctr.model, "predict", fails_on_imp_b)
    body = request("r1")
    body["imp"] = [{**body["imp"][0], "id": "a"}, {**body["imp"][0], "id": "b"}]
    response = post(client, body)
    assert response.status_code == 204
    assert response.headers["x-bidlake-no-bid"] == "internal_error"
    eventually(lambda: nothing_reserved(app), timeout=5, what="imp a's reservation released")


@pytest.mark.parametrize("score", [float("nan"), float("inf"), float("-inf"), 1.5, -0.1])
def test_a_score_that_is_not_a_probability_is_no_model(
    app: BidderApp, client: TestClient, monkeypatch: pytest.MonkeyPatch, score: float
) -> None:
    models = app.bidder.models
    assert models is not None and models.ctr.model is not None
    monkeypatch.setattr(models.ctr.model, "predict", lambda raw: score)
    response = post(client, request("r1"))
    assert response.status_code == 204
    assert response.headers["x-bidlake-no-bid"] == "no_model"
    nothing_reserved(app)


def test_a_model_with_huge_finite_weights_is_refused_and_the_old_one_kept(
    app: BidderApp, client: TestClient, models_root: Path
) -> None:
    """Every weight 1e308 (finite, so a checksum and the old validation passed it): the logit
    overflows to inf and slope 0 makes it NaN. The bidder must refuse the artifact at load,
    say why in /readyz, and keep pricing with the model it had."""
    buckets = default_spec(hash_bits=16).num_buckets
    doc = new_document(
        name="ctr",
        version="ctr-huge",
        created_at_ms=1_767_571_200_000,
        feature_spec=default_spec(hash_bits=16).to_dict(),
        intercept=1e308,
        weights={i: 1e308 for i in range(buckets)},
        slope=0.0,
        offset=0.0,
    )
    # Signed by the platform's key, written without write_artifact's validation: what a
    # training bug would publish (the old validation passed it).
    with registry.staging("ctr", "ctr-huge", models_root) as folder:
        (folder / registry.MODEL_FILE).write_bytes(canonical_json(seal(doc, signing_key())))
    current = models_root / "ctr" / registry.CURRENT_FILE
    current.write_text("ctr-huge\n")

    def refused() -> dict[str, Any]:
        ready: dict[str, Any] = client.get("/readyz").json()
        assert ready["models"]["ctr"]["error"], ready
        return ready

    ready = eventually(refused, timeout=10, interval=0.02, what="ctr-huge refused")
    assert "ctr-huge" in ready["models"]["ctr"]["error"]
    assert "must be a finite number within ±1000" in ready["models"]["ctr"]["error"]
    assert ready["models"]["ctr"]["version"] == "ctr-v1"
    response = post(client, request("r1"))
    assert response.status_code == 200
