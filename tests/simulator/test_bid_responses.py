from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from simulator.bid_responses import (
    InvalidResponse,
    conversion_url,
    micros_to_decimal,
    read_response,
    win_url,
)


def test_responses_an_exchange_rejects() -> None:
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


def test_win_url_replaces_the_auction_macros() -> None:
    bid = read_response(
        {
            "id": "req-1",
            "bidid": "resp-1",
            "seatbid": [
                {
                    "seat": "s1",
                    "bid": [
                        {
                            "id": "b",
                            "impid": "1",
                            "price": 3,
                            "adid": "ad-9",
                            "nurl": "http://127.0.0.1/w?p=${AUCTION_PRICE}&a=${AUCTION_ID}"
                            "&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}"
                            "&ad=${AUCTION_AD_ID}&c=${AUCTION_CURRENCY}",
                        }
                    ],
                }
            ],
        },
        "req-1",
    )
    assert bid is not None
    url = win_url(bid, "req-1", 1_250_000)
    assert parse_qs(urlsplit(url).query) == {
        "p": ["1.25"],
        "a": ["req-1"],
        "b": ["resp-1"],
        "i": ["1"],
        "s": ["s1"],
        "ad": ["ad-9"],
        "c": ["USD"],
    }
