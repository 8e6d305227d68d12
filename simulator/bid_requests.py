"""The exchange's OpenRTB 2.6 bid requests: one JSON object per opportunity of a minute.

Requests carry what the world knows about an opportunity in the fields an exchange puts
it in: one imp (`banner` with `w`/`h`/`format`/`pos`, or `video` for video slots),
`bidfloor` in USD CPM with `bidfloorcur`, `tagid`; `site` (domain, page, IAB category,
publisher) or `app` (bundle); `device` (ua, ip with the last octet zeroed, `devicetype`
of OpenRTB List 5.21, `os`, `ifa` for apps, `geo` with alpha-3 country, ISO 3166-2
region, city and `utcoffset`); `user` (`id`, segments as `data[].segment[].id`); `at`
(2 second price, or 1 first price as drawn by `simulator.market.auction_types`), `tmax`,
`cur`; and the exchange's name in `ext.exchange`. What the exchange does with the answers
is in `simulator.bid_responses`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from simulator.exchange import Requests
from simulator.world import World
from simulator.world_tables import (
    CATEGORIES,
    EXCHANGE_TMAX_MS,
    EXCHANGES,
    OS_NAMES,
    REGIONS,
    SECTIONS,
    SIZES,
)

CURRENCY = "USD"
IMP_ID = "1"
# OpenRTB List 5.21 device types of the reported device types (desktop, phone, tablet,
# the generic "mobile"), index = exchange.REPORTED_DEVICE_TYPES.
REPORTED_DEVICETYPES = np.array([2, 4, 5, 1])
OS_OPENRTB = ("Windows", "macOS", "Linux", "Android", "iOS")  # index = world_tables.OS_NAMES
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


class RequestBuilder:
    """Builds the OpenRTB JSON objects of a minute's requests (dicts, for orjson)."""

    def __init__(self, world: World):
        self.world = world
        self.regions = [f"{r.country}-{r.code}" for r in REGIONS]
        self.alpha3 = [ALPHA3[c] for c in world.country_codes]

    def build(
        self,
        r: Requests,
        request_ids: Sequence[str],
        auction_type: np.ndarray | None = None,
    ) -> list[dict[str, object]]:
        """The requests of `r`, with ids `request_ids` (one per request, in order) and
        OpenRTB `at` from `auction_type` (default: all 2, second price)."""
        return list(self.iter_build(r, request_ids, auction_type))

    def iter_build(
        self,
        r: Requests,
        request_ids: Sequence[str],
        auction_type: np.ndarray | None = None,
    ) -> Iterator[dict[str, object]]:
        """`build`, one request at a time: an open-loop replay builds each just before
        it is due, so the cost is spread between the sends instead of blocking them."""
        w = self.world
        user, pub, plc = r.user.tolist(), r.publisher.tolist(), r.placement.tolist()
        devicetypes = REPORTED_DEVICETYPES[r.reported_device].tolist()
        floors = r.floor_micros.tolist()
        exchanges = r.exchange.tolist()
        ats = [2] * len(r) if auction_type is None else auction_type.tolist()
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
                "at": ats[i],
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
            yield request
