"""How the exchange reads OpenRTB 2.6 bid responses and calls the URLs in a bid.

Responses are read as an exchange reads them: 204 or an empty seatbid is a no-bid; a
bid must answer imp "1" of this request (`BidResponse.id` = the request id), in USD, at
a positive price, with a `nurl` (this exchange only notifies wins through it). Win
notices get the standard substitution macros (`${AUCTION_PRICE}` the clearing CPM as a
decimal amount, `${AUCTION_ID}`, `${AUCTION_BID_ID}`, `${AUCTION_IMP_ID}`,
`${AUCTION_SEAT_ID}`, `${AUCTION_AD_ID}`, `${AUCTION_CURRENCY}`). The requests they answer
are built by `simulator.bid_requests`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from simulator.bid_requests import CURRENCY, IMP_ID


def micros_to_decimal(micros: int) -> str:
    """1_010_000 -> "1.01": an amount as exchanges write it into macros."""
    whole, frac = divmod(int(micros), 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Bid:
    """The parts of a bid the exchange acts on."""

    bid_id: str
    price_micros: int
    campaign_id: str
    nurl: str
    click_url: str
    conversion_url: str
    response_id: str  # BidResponse.bidid
    seat: str
    ad_id: str


class InvalidResponse(ValueError):
    """A 200 answer the exchange cannot accept (counted, the opportunity goes unsold)."""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def read_response(data: object, request_id: str) -> Bid | None:
    """The bid on imp "1" of `request_id` in a parsed BidResponse; None for a no-bid."""
    if not isinstance(data, dict):
        raise InvalidResponse("the body is not a JSON object")
    seatbids = data.get("seatbid") or []
    if not isinstance(seatbids, list):
        raise InvalidResponse("seatbid is not an array")
    if data.get("id") != request_id:
        raise InvalidResponse(f"id {data.get('id')!r} is not the request's id")
    currency = data.get("cur", CURRENCY)
    if currency != CURRENCY:
        raise InvalidResponse(f"currency {currency!r}, the auction is in {CURRENCY}")
    for seatbid in seatbids:
        bids = seatbid.get("bid") if isinstance(seatbid, dict) else None
        if not isinstance(bids, list):
            raise InvalidResponse("seatbid[].bid is not an array")
        for bid in bids:
            if not isinstance(bid, dict) or bid.get("impid") != IMP_ID:
                raise InvalidResponse("a bid for an imp that was not offered")
            price = bid.get("price")
            if isinstance(price, bool) or not isinstance(price, int | float) or not price > 0:
                raise InvalidResponse(f"price {price!r} is not a positive number")
            nurl = _text(bid.get("nurl"))
            if not nurl:
                raise InvalidResponse("a bid without nurl (this exchange notifies wins by nurl)")
            ext = bid.get("ext") if isinstance(bid.get("ext"), dict) else {}
            return Bid(
                bid_id=_text(bid.get("id")),
                price_micros=round(float(price) * 1_000_000),
                campaign_id=_text(bid.get("cid")),
                nurl=nurl,
                click_url=_text(ext.get("click_url")),  # type: ignore[union-attr]
                conversion_url=_text(ext.get("conversion_url")),  # type: ignore[union-attr]
                response_id=_text(data.get("bidid")),
                seat=_text(seatbid.get("seat")),
                ad_id=_text(bid.get("adid")),
            )
    return None


def win_url(bid: Bid, request_id: str, clearing_micros: int) -> str:
    """The bid's nurl with OpenRTB's substitution macros replaced."""
    values = {
        "${AUCTION_PRICE}": micros_to_decimal(clearing_micros),
        "${AUCTION_ID}": request_id,
        "${AUCTION_BID_ID}": bid.response_id,
        "${AUCTION_IMP_ID}": IMP_ID,
        "${AUCTION_SEAT_ID}": bid.seat,
        "${AUCTION_AD_ID}": bid.ad_id,
        "${AUCTION_CURRENCY}": CURRENCY,
    }
    url = bid.nurl
    for macro, value in values.items():
        url = url.replace(macro, value)
    return url


def conversion_url(bid: Bid, value_micros: int, conversion_type: str, order_id: str) -> str:
    """The bid's conversion URL with `${CONVERSION_VALUE}` replaced, plus `type` and `order`
    (the advertiser's order id) as query parameters unless the URL already has them."""
    url = bid.conversion_url.replace("${CONVERSION_VALUE}", micros_to_decimal(value_micros))
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name for name, _ in query}
    extra = [(n, v) for n, v in (("type", conversion_type), ("order", order_id)) if n not in names]
    if not extra:
        return url
    joined = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit(parts._replace(query=joined))
