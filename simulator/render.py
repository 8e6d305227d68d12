"""Columnar batches → event dicts in the contract's JSON form (what the writer takes).

This is the simulator's per-event Python cost, so it is written for speed: every column
becomes a Python list in one C-level step (object-array lookups, `tolist()`), and each
dict is built by one comprehension over `zip` of those lists. Every contract field is
present (defaults included), so the JSON and protobuf outputs carry the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bidlake.campaigns import Campaign
from simulator.exchange import REPORTED_DEVICE_TYPES
from simulator.ids import hex_ids
from simulator.policy import NO_BID_REASONS
from simulator.world import World
from simulator.world_tables import (
    BROWSER_NAMES,
    EXCHANGE_TMAX_MS,
    EXCHANGES,
    OS_NAMES,
    REGIONS,
    SECTIONS,
    SIZES,
    VISIBILITIES,
)

CURRENCY = "USD"


def _objects(values: Sequence[object]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _user_ids(keys: np.ndarray) -> list[str]:
    return [f"{k:016x}" if k else "" for k in keys.tolist()]


class Renderer:
    """Turns batches into dicts; holds the world's strings as object arrays."""

    def __init__(self, world: World, campaigns: Sequence[Campaign], creatives: Sequence[str]):
        self.world = world
        is_app = world.pub_is_app
        self.pub_id = _objects(world.pub_ids)
        self.site_domain = _objects(
            [("" if a else n) for a, n in zip(is_app, world.pub_name, strict=True)]
        )
        self.app_bundle = _objects(
            [(n if a else "") for a, n in zip(is_app, world.pub_name, strict=True)]
        )
        self.plc_id = _objects(world.plc_ids)
        self.size_w = np.array([s[0] for s in SIZES])[world.plc_size]
        self.size_h = np.array([s[1] for s in SIZES])[world.plc_size]
        self.size_format = _objects([s[2] for s in SIZES])[world.plc_size]
        self.plc_visibility = _objects(VISIBILITIES)[world.plc_visibility]
        self.exchange = _objects(EXCHANGES)
        self.tmax = EXCHANGE_TMAX_MS
        self.device = _objects(REPORTED_DEVICE_TYPES)
        self.os = _objects(OS_NAMES)
        self.browser = _objects(BROWSER_NAMES)
        self.ua = _objects(world.user_agents)
        self.country = _objects(world.country_codes)
        self.region_country = world.region_country
        self.region_code = _objects([r.code for r in REGIONS])
        self.city = _objects(world.city_names)
        self.reason = _objects(NO_BID_REASONS)
        self.campaign_id = _objects([c.campaign_id for c in campaigns])
        self.advertiser_id = _objects([c.advertiser_id for c in campaigns])
        self.creative_id = _objects(list(creatives))
        self.sections = SECTIONS

    def bid_requests(self, b: dict[str, np.ndarray]) -> list[dict[str, object]]:
        w = self.world
        user, pub, plc = b["user"], b["publisher"], b["placement"]
        region = w.user_region[user]
        request_ids = hex_ids(b["key"])
        ip = w.user_ip[user]
        ips = [
            f"{a}.{c}.{d}.0"
            for a, c, d in zip(
                (ip >> 24).tolist(),
                (ip >> 16 & 255).tolist(),
                (ip >> 8 & 255).tolist(),
                strict=True,
            )
        ]
        sections = self.sections
        pages = [
            f"https://{domain}/{sections[s]}/article-{a}" if a >= 0 else ""
            for domain, s, a in zip(
                self.site_domain[pub].tolist(),
                b["page_section"].tolist(),
                b["page_article"].tolist(),
                strict=True,
            )
        ]
        segments_of = w.segments_of
        segments = [segments_of(m) for m in w.user_segments[user].tolist()]
        exchange = b["exchange"]
        columns = zip(
            request_ids,
            b["event_time"].tolist(),
            self.exchange[exchange].tolist(),
            self.pub_id[pub].tolist(),
            self.site_domain[pub].tolist(),
            self.app_bundle[pub].tolist(),
            pages,
            self.plc_id[plc].tolist(),
            self.size_format[plc].tolist(),
            self.size_w[plc].tolist(),
            self.size_h[plc].tolist(),
            self.plc_visibility[plc].tolist(),
            self.device[b["reported_device"]].tolist(),
            self.os[w.user_os[user]].tolist(),
            self.browser[w.user_browser[user]].tolist(),
            self.ua[w.user_ua[user]].tolist(),
            ips,
            self.country[self.region_country[region]].tolist(),
            self.region_code[region].tolist(),
            self.city[w.user_city[user]].tolist(),
            _user_ids(w.user_key[user]),
            segments,
            b["floor_micros"].tolist(),
            self.tmax[exchange].tolist(),
            self.reason[b["reason"]].tolist(),
            b["local_hour"].tolist(),
            b["auction_type"].tolist(),
            strict=True,
        )
        return [
            {
                "event_id": rid + ":1",
                "event_time": t,
                "request_id": rid,
                "imp_id": "1",
                "exchange": ex,
                "publisher_id": pid,
                "site_domain": dom,
                "app_bundle": bundle,
                "page_url": page,
                "placement_id": plc_id,
                "ad_format": fmt,
                "ad_width": width,
                "ad_height": height,
                "slot_visibility": vis,
                "device_type": dev,
                "os": os_name,
                "browser": br,
                "user_agent": ua,
                "ip_truncated": ip_t,
                "country": cc,
                "region": rc,
                "city": city,
                "user_id": uid,
                "user_segments": segs,
                "bidfloor_micros": floor,
                "currency": CURRENCY,
                "tmax_ms": tmax,
                "auction_type": auction,
                "deal_id": "",
                "no_bid_reason": reason,
                "user_hour": hour,
            }
            for (
                rid,
                t,
                ex,
                pid,
                dom,
                bundle,
                page,
                plc_id,
                fmt,
                width,
                height,
                vis,
                dev,
                os_name,
                br,
                ua,
                ip_t,
                cc,
                rc,
                city,
                uid,
                segs,
                floor,
                tmax,
                reason,
                hour,
                auction,
            ) in columns
        ]

    def bids(self, b: dict[str, np.ndarray]) -> list[dict[str, object]]:
        campaign = b["campaign"]
        columns = zip(
            hex_ids(b["key"]),
            b["event_time"].tolist(),
            hex_ids(b["request_key"]),
            self.campaign_id[campaign].tolist(),
            self.creative_id[b["creative"]].tolist(),
            self.advertiser_id[campaign].tolist(),
            b["bid_micros"].tolist(),
            strict=True,
        )
        return [
            {
                "event_id": bid_id,
                "event_time": t,
                "request_id": rid,
                "imp_id": "1",
                "campaign_id": cid,
                "creative_id": crid,
                "advertiser_id": aid,
                "bid_price_micros": price,
                "pctr": 0.0,  # a constant bid predicts nothing
                "pcvr": 0.0,
                "model_version": "",
                "pacing_factor": 1.0,
                "deal_id": "",
            }
            for bid_id, t, rid, cid, crid, aid, price in columns
        ]

    def impressions(self, b: dict[str, np.ndarray]) -> list[dict[str, object]]:
        columns = zip(
            hex_ids(b["key"]),
            b["event_time"].tolist(),
            hex_ids(b["bid_key"]),
            hex_ids(b["request_key"]),
            self.campaign_id[b["campaign"]].tolist(),
            self.creative_id[b["creative"]].tolist(),
            b["clearing_micros"].tolist(),
            _user_ids(self.world.user_key[b["user"]]),
            strict=True,
        )
        return [
            {
                "event_id": iid,
                "event_time": t,
                "bid_id": bid_id,
                "request_id": rid,
                "campaign_id": cid,
                "creative_id": crid,
                "clearing_price_micros": price,
                "user_id": uid,
            }
            for iid, t, bid_id, rid, cid, crid, price, uid in columns
        ]

    def clicks(self, b: dict[str, np.ndarray]) -> list[dict[str, object]]:
        columns = zip(
            hex_ids(b["key"]),
            b["event_time"].tolist(),
            hex_ids(b["bid_key"]),
            self.campaign_id[b["campaign"]].tolist(),
            _user_ids(self.world.user_key[b["user"]]),
            strict=True,
        )
        return [
            {"event_id": cid, "event_time": t, "bid_id": bid_id, "campaign_id": camp, "user_id": u}
            for cid, t, bid_id, camp, u in columns
        ]

    def conversions(
        self, b: dict[str, np.ndarray], conversion_types: Sequence[str]
    ) -> list[dict[str, object]]:
        types = _objects(list(conversion_types))
        bid_ids = [
            f"{k:016x}" if known else ""
            for k, known in zip(b["bid_key"].tolist(), b["bid_known"].tolist(), strict=True)
        ]
        columns = zip(
            hex_ids(b["key"]),
            b["event_time"].tolist(),
            self.campaign_id[b["campaign"]].tolist(),
            _user_ids(self.world.user_key[b["user"]]),
            b["value_micros"].tolist(),
            bid_ids,
            types[b["campaign"]].tolist(),
            strict=True,
        )
        return [
            {
                "event_id": conv_id,
                "event_time": t,
                "campaign_id": camp,
                "user_id": u,
                "conversion_value_micros": value,
                "bid_id": bid_id,
                "conversion_type": ctype,
            }
            for conv_id, t, camp, u, value, bid_id, ctype in columns
        ]
