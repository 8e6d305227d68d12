"""Request/response cases as data files, run by one parametrized test (Prebid Server style).

- `cases/exemplary/*.json`: valid requests; the expected bids (imp -> campaign, creative,
  price, deal, markup kind) and every other imp's no-bid reason.
- `cases/supplemental/*.json`: bad input; the expected 4xx status and error text.
- the OpenRTB fixture requests of tests/fixtures/openrtb (real-format examples from the
  IAB spec, google/openrtb and Prebid Server), with expectations in `cases/fixtures.json`.

A missing or empty case or fixture folder is a collection error naming it, never zero cases.

Each case runs against a fresh app (lifespan entered with `with TestClient(app)`), the test
campaign book (`cases/campaigns.json`), constant models (pCTR 0.30 %, pCVR 5.2 %) and a
pinned clock. After the app stopped, the logged bid_request events are read back from the
published log files: one per imp, each valid against the event contract, with the
expected reason — the tracking logs are part of every case.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from starlette.testclient import TestClient

from bidder.app import create_app
from bidder.settings import Settings
from contract import events as contract
from tests.bidder.conftest import OPENRTB_FIXTURES, iso_ms
from tests.conftest import fixture_files

CASES = Path(__file__).parent / "cases"
BOOK = CASES / "campaigns.json"
FIXTURE_EXPECT = orjson.loads((CASES / "fixtures.json").read_bytes())
FIXTURE_REQUESTS = fixture_files(OPENRTB_FIXTURES, "*request*.json")


def _case_files() -> list[Any]:
    params = []
    for kind in ("exemplary", "supplemental"):
        for path in fixture_files(CASES / kind, "*.json"):
            params.append(pytest.param(orjson.loads(path.read_bytes()), id=f"{kind}/{path.stem}"))
    for path in FIXTURE_REQUESTS:
        expect = FIXTURE_EXPECT[path.name]
        case = {
            "description": expect["why"],
            "now": "2026-01-05T12:00:00Z",
            "request": {"path": "/openrtb2/bid", "raw_body": path.read_text()},
            "expect": expect,
        }
        params.append(pytest.param(case, id=f"fixtures/{path.stem}"))
    return params


def test_every_openrtb_fixture_request_is_a_case() -> None:
    assert len(FIXTURE_REQUESTS) == 10
    expected = sorted(name for name in FIXTURE_EXPECT if not name.startswith("_"))
    assert [p.name for p in FIXTURE_REQUESTS] == expected


def test_a_missing_or_empty_fixture_folder_fails_loudly(tmp_path: Path) -> None:
    missing = tmp_path / "openrtb"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing} does not exist")):
        fixture_files(missing, "*request*.json")
    missing.mkdir()
    (missing / "README.md").write_text("no requests here")
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing} has no files matching")):
        fixture_files(missing, "*request*.json")


def _body(request: dict[str, Any]) -> bytes:
    if "body" in request:
        data = orjson.dumps(request["body"])
    elif "raw_body_hex" in request:
        data = bytes.fromhex(request["raw_body_hex"])
    else:
        text = request.get("raw_body", "")
        text = re.sub(r"<PAD:(\d+)>", lambda m: "x" * int(m[1]), text)
        data = text.encode()
    return gzip.compress(data) if request.get("gzip") else data


def read_events(landing: Path, event_type: str) -> list[dict[str, Any]]:
    folder = landing / event_type
    if not folder.exists():
        return []
    return [
        orjson.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def assert_contract(event_type: str, event: dict[str, Any]) -> None:
    """The event parses as its contract message and its categorical values are known."""
    json_format.ParseDict(event, contract.EVENT_MESSAGES[event_type]())
    for column in contract.columns(event_type):
        if column.vocabulary is not None and column.name in event:
            assert event[column.name] in column.vocabulary, (column.name, event[column.name])


@pytest.mark.parametrize("case", _case_files())
def test_case(case: dict[str, Any], settings: Settings, home: Path) -> None:
    request, expect = case["request"], case["expect"]
    now = iso_ms(case["now"])
    app = create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: now)
    headers = {"content-type": "application/json", **request.get("headers", {})}
    if request.get("gzip"):
        headers["content-encoding"] = "gzip"
    body = _body(request)
    with TestClient(app) as client:
        response = client.request(
            request.get("method", "POST"), request["path"], content=body, headers=headers
        )
    assert response.status_code < 500
    assert response.status_code == expect["status"], response.text

    if expect["status"] >= 400:
        assert expect["error_contains"] in response.json()["error"]
        assert read_events(Path(settings.landing), "bid_request") == []
        return

    sent = orjson.loads(_body({**request, "gzip": False}))
    imp_ids = [imp["id"] for imp in sent["imp"]]
    floors = {imp["id"]: imp.get("bidfloor", 0.0) for imp in sent["imp"]}
    bids: dict[str, dict[str, Any]] = {}
    if response.status_code == 200:
        answer = response.json()
        assert answer["id"] == sent["id"]
        assert answer["cur"] == "USD"
        (seatbid,) = answer["seatbid"]
        assert seatbid["seat"] == "bidlake"
        for bid in seatbid["bid"]:
            assert bid["impid"] in imp_ids, "a bid must reference a real imp"
            assert bid["impid"] not in bids, "one bid per imp"
            bids[bid["impid"]] = bid
            assert bid["price"] > 0
            if "dealid" not in bid:
                assert bid["price"] >= floors[bid["impid"]]
            assert bid["nurl"].endswith("&price=${AUCTION_PRICE}")
            assert bid["ext"]["click_url"].startswith("http://bidder.test/click?")
            assert "${CONVERSION_VALUE}" in bid["ext"]["conversion_url"]
            assert bid["adomain"] and bid["crid"] and bid["adm"]
    else:
        assert response.content == b""

    expected_bids = {b["impid"]: b for b in expect.get("bids", [])}
    assert set(bids) == set(expected_bids)
    for impid, want in expected_bids.items():
        got = bids[impid]
        for key, value in want.items():
            if key == "adm_contains":
                assert value in got["adm"]
            elif key == "price":
                assert got["price"] == pytest.approx(value, abs=1e-6)
            else:
                assert got[key] == value, (impid, key)

    events = read_events(Path(settings.landing), "bid_request")
    assert sorted(e["imp_id"] for e in events) == sorted(imp_ids), "one event per imp"
    by_imp = {e["imp_id"]: e for e in events}
    no_bid = expect.get("no_bid", {})
    for impid, event in by_imp.items():
        assert_contract("bid_request", event)
        assert event["event_time"] == now
        assert event["no_bid_reason"] == ("" if impid in bids else no_bid[impid])
        for key, value in expect.get("events", {}).get(impid, {}).items():
            assert event[key] == value, (impid, key)
    logged_bids = read_events(Path(settings.landing), "bid")
    assert sorted(b["event_id"] for b in logged_bids) == sorted(b["id"] for b in bids.values())
    for logged in logged_bids:
        assert_contract("bid", logged)
        assert logged["bid_price_micros"] == round(bids[logged["imp_id"]]["price"] * 1e6)
