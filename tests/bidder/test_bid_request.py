"""bidder.bid_request: OpenRTB -> the bid_request event's fields (the features' raw input),
and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bidder.bid_request import RequestError, parse_request, to_micros
from tests.bidder.conftest import iso_ms

NOON = iso_ms("2026-01-05T12:00:00Z")


def parse(**fields: Any):  # type: ignore[no-untyped-def]
    body = {"id": "r", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}], **fields}
    return parse_request(body, now_ms=NOON)


@pytest.mark.parametrize(
    ("geo", "country", "region"),
    [
        ({"country": "USA", "region": "US-NY"}, "US", "NY"),
        ({"country": "gbr", "region": "ENG"}, "GB", "ENG"),
        ({"country": "DE"}, "DE", ""),  # alpha-2 accepted as sent
        ({"country": "XYZ"}, "", ""),  # unknown codes become "unknown", not garbage
        ({"country": "United States"}, "", ""),
        ({}, "", ""),
    ],
)
def test_country_and_region(geo: dict[str, str], country: str, region: str) -> None:
    base = parse(device={"geo": geo}).base
    assert (base["country"], base["region"]) == (country, region)


def test_user_geo_is_the_fallback() -> None:
    assert parse(user={"geo": {"country": "FRA"}}).base["country"] == "FR"


def test_device_fields_win_over_the_user_agent() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0) Chrome/120 Safari/537.36"
    base = parse(device={"ua": ua, "devicetype": 5, "os": "Android"}).base
    assert (base["device_type"], base["os"], base["browser"]) == ("tablet", "android", "chrome")
    assert parse(device={"ua": ua, "devicetype": 99}).base["device_type"] == "desktop"


def test_app_traffic_has_browser_app_and_bundle() -> None:
    base = parse(
        app={"bundle": "com.example", "domain": "example.com", "publisher": {"id": "p"}}
    ).base
    assert (base["browser"], base["app_bundle"], base["site_domain"], base["publisher_id"]) == (
        "app",
        "com.example",
        "",
        "p",
    )


def test_site_domain_falls_back_to_the_page_host() -> None:
    base = parse(site={"page": "https://user:pw@www.example.com:8443/a/b?x=1#y"}).base
    assert base["site_domain"] == "www.example.com"
    assert base["page_url"] == "https://user:pw@www.example.com:8443/a/b"


@pytest.mark.parametrize(
    ("user", "device", "expected"),
    [
        ({"id": "u", "buyeruid": "b"}, {"ifa": "i"}, "u"),
        ({"buyeruid": "b"}, {"ifa": "i"}, "i"),
        ({"buyeruid": "b"}, {}, "b"),
        ({}, {}, ""),
    ],
)
def test_user_id_order(user: dict[str, str], device: dict[str, str], expected: str) -> None:
    assert parse(user=user, device=device).base["user_id"] == expected


def test_segments_are_distinct_ids_in_order_and_capped() -> None:
    data = [
        {"segment": [{"id": "a"}, {"id": "b"}, {"name": "no id"}]},
        {"segment": [{"id": "b"}] + [{"id": f"s{i}"} for i in range(100)]},
    ]
    segments = parse(user={"data": data}).base["user_segments"]
    assert segments[:3] == ["a", "b", "s0"]
    assert len(segments) == 64


@pytest.mark.parametrize(
    ("ip", "expected"),
    [("203.0.113.77", "203.0.113.0"), ("2001:db8::1", ""), ("999.1", ""), ("", "")],
)
def test_ip_is_truncated(ip: str, expected: str) -> None:
    assert parse(device={"ip": ip}).base["ip_truncated"] == expected


@pytest.mark.parametrize(("offset", "hour"), [(None, 12), (-300, 7), (330, 17), (-780, 23)])
def test_user_hour_from_utcoffset(offset: int | None, hour: int) -> None:
    geo = {} if offset is None else {"utcoffset": offset}
    assert parse(device={"geo": geo}).base["user_hour"] == hour


def test_imp_fields_and_floor_in_micros() -> None:
    req = parse_request(
        {
            "id": "r",
            "imp": [
                {"id": "a", "tagid": "t", "bidfloor": 1.23, "video": {"w": 640, "h": 360, "pos": 1}}
            ],
        },
        now_ms=NOON,
    )
    (imp,) = req.imps
    assert imp.event_fields == {
        "imp_id": "a",
        "placement_id": "t",
        "ad_format": "video",
        "ad_width": 640,
        "ad_height": 360,
        "slot_visibility": "above_fold",
        "bidfloor_micros": 1_230_000,
        "deal_id": "",
    }
    assert to_micros(0.03) == 30_000 and to_micros(2.675) == 2_675_000


def test_banner_size_range_fits_creatives_inside_it() -> None:
    req = parse_request(
        {
            "id": "r",
            "imp": [{"id": "a", "banner": {"wmin": 200, "wmax": 330, "hmin": 40, "hmax": 60}}],
        },
        now_ms=NOON,
    )
    (imp,) = req.imps
    assert imp.fits("banner", 320, 50) == (320, 50)
    assert imp.fits("banner", 300, 250) is None
    assert imp.fits("video", 640, 360) is None


def test_dooh_inventory_and_integral_floats() -> None:
    req = parse_request(
        {
            "id": "r",
            "imp": [{"id": "a", "banner": {"w": 1080.0, "h": 1920.0}}],
            "dooh": {"domain": "screens.example", "publisher": {"id": "G1"}},
            "device": {"devicetype": 8},
        },
        now_ms=NOON,
    )
    assert (req.base["site_domain"], req.base["publisher_id"], req.base["device_type"]) == (
        "screens.example",
        "G1",
        "ooh",
    )
    assert req.imps[0].banner_sizes == ((1080, 1920),)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"id": "r", "imp": [{"id": "1", "banner": {"w": 300.5, "h": 250}}]}, "imp[0].banner.w"),
        ({"id": "r", "imp": [{"id": "1", "banner": {"w": True, "h": 250}}]}, "imp[0].banner.w"),
        ({"id": "r", "imp": [{"id": "1", "banner": {"format": [1]}}]}, "imp[0].banner.format[0]"),
        ({"id": "r", "imp": [{"id": "1", "banner": {}}], "device": {"ua": 7}}, "device.ua"),
        (
            {
                "id": "r",
                "imp": [{"id": "1", "banner": {}}],
                "user": {"data": [{"segment": [{"id": 5}]}]},
            },
            "user.data[0].segment[0].id",
        ),
        ({"id": "r", "imp": [{"id": str(i), "banner": {}} for i in range(65)]}, "imp"),
    ],
)
def test_errors_name_the_field(body: dict[str, Any], where: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(body, now_ms=NOON)
    assert info.value.where == where
