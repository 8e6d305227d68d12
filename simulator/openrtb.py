"""The exchange's side of OpenRTB 2.6: building bid requests, reading bid responses.

Requests carry what the world knows about an opportunity in the fields an exchange puts
it in: one imp (`banner` with `w`/`h`/`format`/`pos`, or `video` for video slots),
`bidfloor` in USD CPM with `bidfloorcur`, `tagid`; `site` (domain, page, IAB category,
publisher) or `app` (bundle); `device` (ua, ip with the last octet zeroed, `devicetype`
of OpenRTB List 5.21, `os`, `ifa` for apps, `geo` with alpha-3 country, ISO 3166-2
region, city and `utcoffset`); `user` (`id`, segments as `data[].segment[].id`); `at`
2, `tmax`, `cur`; and the exchange's name in `ext.exchange`.

Responses are read as an exchange reads them: 204 or an empty seatbid is a no-bid; a
bid must answer imp "1" of this request (`BidResponse.id` = the request id), in USD, at
a positive price, with a `nurl` (this exchange only notifies wins through it). Win
notices get the standard substitution macros (`${AUCTION_PRICE}` the clearing CPM as a
decimal amount, `${AUCTION_ID}`, `${AUCTION_BID_ID}`, `${AUCTION_IMP_ID}`,
`${AUCTION_SEAT_ID}`, `${AUCTION_AD_ID}`, `${AUCTION_CURRENCY}`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from simulator.exchange import Requests
from simulator.world import (
    CATEGORIES,
    EXCHANGE_TMAX_MS,
    EXCHANGES,
    OS_NAMES,
    REGIONS,
    SECTIONS,
    SIZES,
    World,
)

CURRENCY = "USD"
IMP_ID = "1"
# OpenRTB List 5.21 device types for the reported device type names.
DEVICETYPE = {"desktop": 2, "phone": 4, "tablet": 5, "mobile": 1}
REPORTED_DEVICETYPES = np.array([2, 4, 5, 1])  # index = exchange.REPORTED_DEVICE_TYPES
OS_OPENRTB = ("Windows", "macOS", "Linux", "Android", "iOS")  # index = world.OS_NAMES
POS = (1, 3, 0)  # above the fold, below, unknown (OpenRTB List 5.4)
IAB_CATEGORY = {
    "news": "IAB12",
    "sports": "IAB17",
    "weather": "IAB15-10",
    "finance": "IAB13",
    "travel": "IAB20",
    "games": "IAB9-30",
    "fashion": "IAB18",
    "shopping": "IAB22",
    "recipes": "IAB8",
    "tech": "IAB19",
    "entertainment": "IAB1",
    "social": "IAB14",
}
ALPHA3 = {
    "US": "USA",
    "GB": "GBR",
    "CA": "CAN",
    "DE": "DEU",
    "FR": "FRA",
    "ES": "ESP",
    "IT": "ITA",
    "BR": "BRA",
    "MX": "MEX",
    "IN": "IND",
    "JP": "JPN",
    "AU": "AUS",
}
SEGMENT_PROVIDER = "bidlake-dmp"
assert len(OS_OPENRTB) == len(OS_NAMES)


def micros_to_decimal(micros: int) -> str:
    """1_010_000 -> "1.01": an amount as exchanges write it into macros."""
    whole, frac = divmod(int(micros), 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


class RequestBuilder:
    """Builds the OpenRTB JSON objects of a minute's requests (dicts, for orjson)."""

    def __init__(self, world: World):
        self.world = world
        self.regions = [f"{r.country}-{r.code}" for r in REGIONS]
        self.alpha3 = [ALPHA3[c] for c in world.country_codes]

    def build(
        self, r: Requests, request_ids: Sequence[str], local_hours: np.ndarray | None = None
    ) -> list[dict[str, object]]:
        w = self.world
        out: list[dict[str, object]] = []
        user, pub, plc = r.user.tolist(), r.publisher.tolist(), r.placement.tolist()
        devicetypes = REPORTED_DEVICETYPES[r.reported_device].tolist()
        floors = r.floor_micros.tolist()
        exchanges = r.exchange.tolist()
        for i, request_id in enumerate(request_ids):
            u, p, k = user[i], pub[i], plc[i]
            width, height, fmt = SIZES[int(w.plc_size[k])]
            pos = POS[int(w.plc_visibility[k])]
            imp: dict[str, object] = {
                "id": IMP_ID,
                "tagid": w.plc_ids[k],
                "bidfloor": floors[i] / 1_000_000,
                "bidfloorcur": CURRENCY,
                "secure": 1,
            }
            if fmt == "video":
                imp["video"] = {
                    "mimes": ["video/mp4"],
                    "w": width,
                    "h": height,
                    "protocols": [2, 3, 5, 6],
                    "plcmt": 4,
                    "pos": pos,
                }
            else:
                imp["banner"] = {"w": width, "h": height, "format": [{"w": width, "h": height}]}
                imp["banner"]["pos"] = pos  # type: ignore[index]
                if (width, height) == (320, 480):
                    imp["instl"] = 1
            region = int(w.user_region[u])
            ip = int(w.user_ip[u])
            device: dict[str, object] = {
                "ua": w.user_agents[int(w.user_ua[u])],
                "ip": f"{ip >> 24}.{ip >> 16 & 255}.{ip >> 8 & 255}.0",
                "devicetype": devicetypes[i],
                "os": OS_OPENRTB[int(w.user_os[u])],
                "geo": {
                    "country": self.alpha3[int(w.region_country[region])],
                    "region": self.regions[region],
                    "city": w.city_names[int(w.user_city[u])],
                    "utcoffset": int(w.region_offset_min[region]),
                    "type": 2,  # derived from the IP address
                },
            }
            key = int(w.user_key[u])
            user_id = f"{key:016x}" if key else ""
            user_obj: dict[str, object] = {}
            if user_id:
                user_obj["id"] = user_id
            segments = w.segments_of(int(w.user_segments[u]))
            if segments:
                user_obj["data"] = [
                    {"id": SEGMENT_PROVIDER, "segment": [{"id": s} for s in segments]}
                ]
            category = [IAB_CATEGORY[CATEGORIES[int(w.pub_category[p])]]]
            publisher = {"id": w.pub_ids[p]}
            request: dict[str, object] = {
                "id": request_id,
                "imp": [imp],
                "device": device,
                "user": user_obj,
                "at": 2,
                "tmax": int(EXCHANGE_TMAX_MS[exchanges[i]]),
                "cur": [CURRENCY],
                "ext": {"exchange": EXCHANGES[exchanges[i]]},
            }
            if w.pub_is_app[p]:
                if user_id:
                    device["ifa"] = user_id
                request["app"] = {
                    "id": w.pub_ids[p],
                    "bundle": w.pub_name[p],
                    "cat": category,
                    "publisher": publisher,
                }
            else:
                device["js"] = 1
                site: dict[str, object] = {
                    "id": w.pub_ids[p],
                    "domain": w.pub_name[p],
                    "cat": category,
                    "publisher": publisher,
                }
                article = int(r.page_article[i])
                if article >= 0:
                    section = SECTIONS[int(r.page_section[i])]
                    site["page"] = f"https://{w.pub_name[p]}/{section}/article-{article}"
                request["site"] = site
            out.append(request)
        return out


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
