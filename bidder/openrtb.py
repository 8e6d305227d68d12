"""OpenRTB 2.5/2.6 bid requests in, the fields the bidder decides on out.

`parse_request` validates the parts of a BidRequest the bidder reads and raises
`RequestError` (-> HTTP 400) naming the field and what is wrong with it; fields it does not
read are ignored, as OpenRTB asks. It also derives the *bid_request event* of the contract
(`contract/events.proto`), once per request (`BidRequest.base`) plus the per-imp fields
(`Imp.event_fields`). That dict is what the bidder logs AND the raw input of the feature
spec when it scores, so training (which reads the logged events) and serving see the same
features by construction.

How OpenRTB maps onto the event (the simulator builds its requests to round-trip this):

| event field       | OpenRTB source                                                   |
|-------------------|------------------------------------------------------------------|
| exchange          | `?exchange=` on the bid URL, else `ext.exchange`                  |
| publisher_id      | `site|app|dooh.publisher.id`                                     |
| site_domain       | `site.domain` (else the host of `site.page`), or `dooh.domain`   |
| app_bundle        | `app.bundle`                                                     |
| page_url          | `site.page` without query string and fragment                    |
| placement_id      | `imp.tagid`                                                      |
| ad_format, size   | the first of banner (`w`/`h`, else `format[0]`), video, native,  |
|                   | audio; when the bidder bids, the format and size of its creative |
| slot_visibility   | `banner|video.pos`: 1 above_fold, 3 below_fold, else unknown     |
| device_type       | `device.devicetype` (List 5.21), else guessed from `device.ua`   |
| os, browser       | `device.os`, else the UA; browser "app" for app traffic          |
| ip_truncated      | `device.ip` with the last octet zeroed ("" for IPv6-only)        |
| country           | `device.geo.country` (alpha-3 -> alpha-2), else `user.geo`       |
| region, city      | `device.geo.region` ("US-CA" -> "CA"), `device.geo.city`         |
| user_id           | `user.id`, else `device.ifa`, else `user.buyeruid`               |
| user_segments     | ids of `user.data[].segment[]`, first 64 distinct                |
| bidfloor_micros   | `imp.bidfloor` x 1e6 (its currency must be the account's)         |
| user_hour         | UTC hour + `device.geo.utcoffset` (minutes), else the UTC hour   |
| deal_id           | the deal the bidder bid for, else the imp's first deal           |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bidder import useragent
from bidder.countries import ALPHA3_TO_ALPHA2

MAX_IMPS = 64  # more imps than any exchange sends in one request; beyond -> 400
MAX_SEGMENTS = 64
MICROS = 1_000_000

# OpenRTB `pos` (List 5.4) -> the contract's SlotVisibility.
_VISIBILITY = {1: "above_fold", 3: "below_fold"}


class RequestError(ValueError):
    """A request the bidder cannot read: HTTP 400, `reason` names the field."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


@dataclass(slots=True, frozen=True)
class Deal:
    id: str
    floor_micros: int
    currency: str
    auction_type: int  # 1 first price, 2 second price, 3 fixed price (the floor)
    seats: frozenset[str]  # empty: any buyer seat
    adomains: frozenset[str]  # empty: any advertiser


@dataclass(slots=True)
class Imp:
    id: str
    index: int
    banner_sizes: tuple[tuple[int, int], ...]
    banner_range: tuple[int, int, int, int] | None  # wmin, wmax, hmin, hmax (2.3 style)
    video: tuple[int, int] | None  # player size
    native: bool
    audio: bool
    bidfloor_micros: int
    bidfloor_currency: str
    deals: tuple[Deal, ...]
    private_auction: bool
    # The contract's per-imp fields of the bid_request event (ad_format, size, ...).
    event_fields: dict[str, object] = field(default_factory=dict)
    formats: tuple[str, ...] = ()  # the formats it takes, in preference order
    banner_size_set: frozenset[tuple[int, int]] = frozenset()

    def __post_init__(self) -> None:
        out = []
        if self.banner_sizes or self.banner_range:
            out.append("banner")
        if self.video is not None:
            out.append("video")
        if self.native:
            out.append("native")
        if self.audio:
            out.append("audio")
        self.formats = tuple(out)
        self.banner_size_set = frozenset(self.banner_sizes)

    def fits(self, fmt: str, width: int, height: int) -> tuple[int, int] | None:
        """The slot size a creative of `fmt` and size fills in this imp, or None."""
        if fmt == "banner":
            if (width, height) in self.banner_sizes:
                return width, height
            box = self.banner_range
            if box is not None and box[0] <= width <= box[1] and box[2] <= height <= box[3]:
                return width, height
            return None
        if fmt == "video":
            # Players scale video; the slot is the player's size.
            return self.video
        if fmt == "native":
            return (0, 0) if self.native else None
        if fmt == "audio":
            return (0, 0) if self.audio else None
        return None


@dataclass(slots=True)
class BidRequest:
    id: str
    imps: list[Imp]
    tmax_ms: int
    auction_type: int
    currencies: tuple[str, ...]  # acceptable bid currencies; empty: any (the default USD)
    bcat: frozenset[str]
    badv: frozenset[str]
    seats: frozenset[str]  # wseat: allowed buyer seats; empty: any
    blocked_seats: frozenset[str]  # bseat
    test: bool
    is_app: bool
    domains: tuple[str, ...]  # inventory domains for blocklists, normalized
    utc_hour: int  # for campaigns' hour targeting (the book's hours are UTC)
    # The request-wide fields of the bid_request event: site/app, device, geo, user.
    base: dict[str, object] = field(default_factory=dict)


# ---- typed readers ----------------------------------------------------------------------
# The hot path reads a field as `x = d.get(key, default)` and checks `type(x)` inline; only
# a value of another type calls one of the `_want_*` functions below, which accept what
# OpenRTB allows (null -> default, 300.0 -> 300) and raise RequestError naming the field
# otherwise. A function call per field would cost about as much as the rest of parsing.


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _want_obj(value: object, where: str) -> dict | None:
    if value is None or type(value) is dict:
        return value  # type: ignore[return-value]
    raise RequestError(where, f"expected an object, got {_type_name(value)}")


def _want_str(value: object, where: str) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    raise RequestError(where, f"expected a string, got {_type_name(value)}")


def _want_int(value: object, where: str, default: int = 0) -> int:
    if value is None:
        return default
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():  # 300.0: some exchanges write ints so
        return int(value)
    raise RequestError(where, f"expected an integer, got {_type_name(value)}")


def _want_num(value: object, where: str) -> float:
    if value is None:
        return 0.0
    if type(value) is int or type(value) is float:
        if value != value or value in (float("inf"), float("-inf")):  # NaN/inf: non-std JSON
            raise RequestError(where, "expected a finite number")
        return float(value)
    raise RequestError(where, f"expected a number, got {_type_name(value)}")


def _want_strs(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is not list:
        raise RequestError(where, f"expected an array of strings, got {_type_name(value)}")
    for i, item in enumerate(value):
        if type(item) is not str:
            raise RequestError(f"{where}[{i}]", f"expected a string, got {_type_name(item)}")
    return tuple(value)


def _want_objs(value: object, where: str) -> list[dict]:
    if value is None:
        return []
    if type(value) is not list:
        raise RequestError(where, f"expected an array of objects, got {_type_name(value)}")
    for i, item in enumerate(value):
        if type(item) is not dict:
            raise RequestError(f"{where}[{i}]", f"expected an object, got {_type_name(item)}")
    return value


def to_micros(amount: float) -> int:
    """A price in currency units (OpenRTB's floats) -> integer micros, rounded half-up."""
    return int(amount * MICROS + 0.5)


def normalize_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    return domain[4:] if domain.startswith("www.") else domain


def _host(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    return rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].split(":")[0]


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


_IPV4 = re.compile(r"(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}")


def _truncate_ip(ip: str) -> str:
    match = _IPV4.fullmatch(ip)
    return match[1] + ".0" if match else ""


def _country(code: str) -> str:
    code = code.strip().upper()
    if len(code) == 3:
        return ALPHA3_TO_ALPHA2.get(code, "")
    return code if len(code) == 2 and code.isalpha() else ""


def _region(region: str) -> str:
    region = region.strip()
    # ISO 3166-2 "US-CA" -> "CA"; anything else (exchange names like "New York") as sent.
    if len(region) > 3 and region[2] == "-" and region[:2].isalpha():
        return region[3:]
    return region


def _geo(geo: dict, where: str) -> tuple[str, str, str, int]:
    """(country, region, city, utcoffset minutes) of a Geo object."""
    country = geo.get("country", "")
    if type(country) is not str:
        country = _want_str(country, where + "country")
    region = geo.get("region", "")
    if type(region) is not str:
        region = _want_str(region, where + "region")
    city = geo.get("city", "")
    if type(city) is not str:
        city = _want_str(city, where + "city")
    offset = geo.get("utcoffset", 0)
    if type(offset) is not int:
        offset = _want_int(offset, where + "utcoffset")
    return _country(country), _region(region), city, offset


_NO_GEO = ("", "", "", 0)
_EMPTY: frozenset[str] = frozenset()


# ---- the request ------------------------------------------------------------------------


def parse_request(
    data: object,
    *,
    now_ms: int,
    exchange: str = "",
    default_tmax_ms: int = 100,
    account_currency: str = "USD",
) -> BidRequest:
    """Validate a decoded BidRequest and derive the bidder's view of it (see module doc)."""
    if type(data) is not dict:
        raise RequestError(
            "", f"the body must be a JSON object (BidRequest), got {_type_name(data)}"
        )
    get = data.get
    request_id = get("id", "")
    if type(request_id) is not str:
        request_id = _want_str(request_id, "id")
    if not request_id:
        raise RequestError("id", "required, a non-empty string")
    raw_imps = get("imp")
    if type(raw_imps) is not list or not raw_imps:
        raw_imps = _want_objs(raw_imps, "imp")
        if not raw_imps:
            raise RequestError("imp", "required, a non-empty array of Imp objects")
    if len(raw_imps) > MAX_IMPS:
        raise RequestError("imp", f"at most {MAX_IMPS} imps per request, got {len(raw_imps)}")

    tmax = get("tmax", default_tmax_ms)
    if type(tmax) is not int:
        tmax = _want_int(tmax, "tmax", default_tmax_ms)
    if tmax <= 0:
        raise RequestError("tmax", f"must be > 0 milliseconds, got {tmax}")
    auction_type = get("at", 2)
    if type(auction_type) is not int:
        auction_type = _want_int(auction_type, "at", 2)
    if auction_type not in (1, 2) and auction_type < 500:  # 500+ are exchange-specific
        raise RequestError("at", f"must be 1 (first price) or 2 (second price), got {auction_type}")
    # Lists the bidder reads only when present (absent in most traffic).
    cur = get("cur")
    currencies = () if cur is None else tuple(c.upper() for c in _want_strs(cur, "cur"))
    bcat = frozenset(_want_strs(get("bcat"), "bcat")) if "bcat" in data else _EMPTY
    badv = (
        frozenset(normalize_domain(d) for d in _want_strs(get("badv"), "badv"))
        if "badv" in data
        else _EMPTY
    )
    seats = frozenset(_want_strs(get("wseat"), "wseat")) if "wseat" in data else _EMPTY
    blocked_seats = frozenset(_want_strs(get("bseat"), "bseat")) if "bseat" in data else _EMPTY
    test = _want_int(get("test"), "test") == 1 if "test" in data else False
    if not exchange and "ext" in data:
        ext = _want_obj(get("ext"), "ext") or {}
        exchange = ext["exchange"] if type(ext.get("exchange")) is str else ""

    site = get("site")
    app = get("app")
    if site is not None and type(site) is not dict:
        _want_obj(site, "site")
    if app is not None and type(app) is not dict:
        _want_obj(app, "app")
    if site is not None and app is not None:
        raise RequestError("site", "a request has a site or an app object, not both")
    device = get("device") or {}
    if type(device) is not dict:
        _want_obj(device, "device")
    user = get("user") or {}
    if type(user) is not dict:
        _want_obj(user, "user")

    # -- inventory --
    publisher_id = site_domain = app_bundle = page_url = ""
    domains: list[str] = []
    inventory, where = (site, "site.") if site is not None else (app, "app.")
    if inventory is None and "dooh" in data:
        inventory, where = _want_obj(get("dooh"), "dooh"), "dooh."
    if inventory is not None:
        publisher = inventory.get("publisher")
        if publisher is not None:
            if type(publisher) is not dict:
                _want_obj(publisher, where + "publisher")
            publisher_id = publisher.get("id", "")
            if type(publisher_id) is not str:
                publisher_id = _want_str(publisher_id, where + "publisher.id")
        domain = inventory.get("domain", "")
        if type(domain) is not str:
            domain = _want_str(domain, where + "domain")
        if app is not None:
            app_bundle = app.get("bundle", "")
            if type(app_bundle) is not str:
                app_bundle = _want_str(app_bundle, "app.bundle")
            domains += [d for d in (app_bundle, domain) if d]
        else:
            page = inventory.get("page", "") if site is not None else ""
            if type(page) is not str:
                page = _want_str(page, "site.page")
            host = _host(page) if page else ""
            page_url = _strip_query(page)
            site_domain = domain or host
            domains += [d for d in (site_domain, host) if d]

    # -- device, geo, user --
    ua = device.get("ua", "")
    if type(ua) is not str:
        ua = _want_str(ua, "device.ua")
    ua_device, ua_os, ua_browser = useragent.parse(ua)
    devicetype = device.get("devicetype", 0)
    if type(devicetype) is not int:
        devicetype = _want_int(devicetype, "device.devicetype")
    device_type = useragent.DEVICE_TYPES.get(devicetype, "") or ua_device
    os_field = device.get("os", "")
    if type(os_field) is not str:
        os_field = _want_str(os_field, "device.os")
    os_name = useragent.os_from_name(os_field) or ua_os
    browser = "app" if app is not None else ua_browser
    ip = device.get("ip", "")
    if type(ip) is not str:
        ip = _want_str(ip, "device.ip")
    geo = device.get("geo")
    country, region, city, offset_min = (
        _geo(geo, "device.geo.") if type(geo) is dict else (_want_obj(geo, "device.geo") or _NO_GEO)
    )  # type: ignore[misc]
    user_geo = user.get("geo")
    if user_geo is not None and not (country and region and city):
        if type(user_geo) is not dict:
            _want_obj(user_geo, "user.geo")
        u_country, u_region, u_city, _ = _geo(user_geo, "user.geo.")
        country, region, city = country or u_country, region or u_region, city or u_city
    utc_hour = (now_ms // 3_600_000) % 24
    user_hour = ((now_ms // 60_000 + offset_min) // 60) % 24 if offset_min else utc_hour

    user_id = user.get("id", "")
    if type(user_id) is not str:
        user_id = _want_str(user_id, "user.id")
    if not user_id:
        user_id = _want_str(device.get("ifa"), "device.ifa") or _want_str(
            user.get("buyeruid"), "user.buyeruid"
        )
    segments: list[str] = []
    if "data" in user:
        for i, datum in enumerate(_want_objs(user["data"], "user.data")):
            listed = datum.get("segment")
            if type(listed) is not list:  # paths are built only when something is wrong
                listed = _want_objs(listed, f"user.data[{i}].segment")
            for j, segment in enumerate(listed):
                if type(segment) is not dict:
                    _want_objs(listed, f"user.data[{i}].segment")
                seg_id = segment.get("id", "")
                if type(seg_id) is not str:
                    seg_id = _want_str(seg_id, f"user.data[{i}].segment[{j}].id")
                if seg_id and seg_id not in segments and len(segments) < MAX_SEGMENTS:
                    segments.append(seg_id)

    base: dict[str, object] = {
        "request_id": request_id,
        "exchange": exchange,
        "publisher_id": publisher_id,
        "site_domain": site_domain,
        "app_bundle": app_bundle,
        "page_url": page_url,
        "device_type": device_type,
        "os": os_name,
        "browser": browser,
        "user_agent": ua,
        "ip_truncated": _truncate_ip(ip) if ip else "",
        "country": country,
        "region": region,
        "city": city,
        "user_id": user_id,
        "user_segments": segments,
        "currency": account_currency,
        "tmax_ms": tmax,
        "auction_type": auction_type,
        "user_hour": user_hour,
    }
    imps = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_imps):
        if type(raw) is not dict:
            _want_objs(raw_imps, "imp")
        imp = _imp(raw, i, account_currency)
        if imp.id in seen:
            raise RequestError(f"imp[{i}].id", f"duplicate imp id {imp.id!r}")
        seen.add(imp.id)
        imps.append(imp)
    normalized: list[str] = []
    for d in domains:
        d = normalize_domain(d)
        if d not in normalized:
            normalized.append(d)
    return BidRequest(
        id=request_id,
        imps=imps,
        tmax_ms=tmax,
        auction_type=auction_type,
        currencies=currencies,
        bcat=bcat,
        badv=badv,
        seats=seats,
        blocked_seats=blocked_seats,
        test=test,
        is_app=app is not None,
        domains=tuple(normalized),
        utc_hour=utc_hour,
        base=base,
    )


def _imp(raw: dict, index: int, account_currency: str) -> Imp:
    where = f"imp[{index}]."
    get = raw.get
    imp_id = get("id", "")
    if type(imp_id) is not str:
        imp_id = _want_str(imp_id, where + "id")
    if not imp_id:
        raise RequestError(where + "id", "required, a non-empty string")
    sizes: list[tuple[int, int]] = []
    box = None
    pos = -1
    banner = get("banner")
    if banner is not None:
        if type(banner) is not dict:
            _want_obj(banner, where + "banner")
        bw = where + "banner."
        if "format" in banner:
            for i, size in enumerate(_want_objs(banner["format"], bw + "format")):
                w, h = size.get("w", 0), size.get("h", 0)
                if type(w) is not int:
                    w = _want_int(w, f"{bw}format[{i}].w")
                if type(h) is not int:
                    h = _want_int(h, f"{bw}format[{i}].h")
                if w > 0 and h > 0:
                    sizes.append((w, h))
        w, h = banner.get("w", 0), banner.get("h", 0)
        if type(w) is not int:
            w = _want_int(w, bw + "w")
        if type(h) is not int:
            h = _want_int(h, bw + "h")
        if w > 0 and h > 0 and (w, h) not in sizes:
            sizes.insert(0, (w, h))  # w/h is the preferred size when both are given
        if "wmax" in banner or "hmax" in banner:
            wmax, hmax = (
                _want_int(banner.get("wmax"), bw + "wmax"),
                _want_int(banner.get("hmax"), bw + "hmax"),
            )
            if wmax > 0 and hmax > 0:
                box = (
                    _want_int(banner.get("wmin"), bw + "wmin"),
                    wmax,
                    _want_int(banner.get("hmin"), bw + "hmin"),
                    hmax,
                )
        pos = banner.get("pos", -1)
        if type(pos) is not int:
            pos = _want_int(pos, bw + "pos", -1)
    video = None
    if "video" in raw:
        raw_video = _want_obj(raw["video"], where + "video")
        if raw_video is not None:
            vw = where + "video."
            video = (
                _want_int(raw_video.get("w"), vw + "w"),
                _want_int(raw_video.get("h"), vw + "h"),
            )
            if banner is None:
                pos = _want_int(raw_video.get("pos"), vw + "pos", -1)
    native = "native" in raw and _want_obj(raw["native"], where + "native") is not None
    audio = "audio" in raw and _want_obj(raw["audio"], where + "audio") is not None
    if banner is None and video is None and not native and not audio:
        raise RequestError(where.rstrip("."), "needs one of banner, video, native or audio")

    floor = get("bidfloor", 0.0)
    if type(floor) is not float:
        floor = _want_num(floor, where + "bidfloor")
    if floor < 0 or floor != floor or floor == float("inf"):
        _want_num(floor, where + "bidfloor")  # NaN / inf from a lenient JSON encoder
        raise RequestError(where + "bidfloor", f"must be >= 0, got {floor}")
    floor_currency = get("bidfloorcur", "")
    if type(floor_currency) is not str:
        floor_currency = _want_str(floor_currency, where + "bidfloorcur")
    floor_currency = floor_currency.upper() if floor_currency else account_currency
    tagid = get("tagid", "")
    if type(tagid) is not str:
        tagid = _want_str(tagid, where + "tagid")

    deals: list[Deal] = []
    private = False
    if "pmp" in raw:
        pmp = _want_obj(raw["pmp"], where + "pmp") or {}
        pw = where + "pmp."
        private = _want_int(pmp.get("private_auction"), pw + "private_auction") == 1
        for i, deal in enumerate(_want_objs(pmp.get("deals"), pw + "deals")):
            dw = f"{pw}deals[{i}]."
            deal_id = _want_str(deal.get("id"), dw + "id")
            if not deal_id:
                raise RequestError(dw + "id", "required, a non-empty string")
            deal_floor = _want_num(deal.get("bidfloor"), dw + "bidfloor")
            if deal_floor < 0:
                raise RequestError(dw + "bidfloor", f"must be >= 0, got {deal_floor}")
            deals.append(
                Deal(
                    id=deal_id,
                    floor_micros=to_micros(deal_floor),
                    currency=(
                        _want_str(deal.get("bidfloorcur"), dw + "bidfloorcur") or floor_currency
                    ).upper(),
                    auction_type=_want_int(deal.get("at"), dw + "at", 2),
                    seats=frozenset(_want_strs(deal.get("wseat"), dw + "wseat")),
                    adomains=frozenset(
                        normalize_domain(d)
                        for d in _want_strs(deal.get("wadomain"), dw + "wadomain")
                    ),
                )
            )

    imp = Imp(
        id=imp_id,
        index=index,
        banner_sizes=tuple(sizes),
        banner_range=box,
        video=video,
        native=native,
        audio=audio,
        bidfloor_micros=to_micros(floor),
        bidfloor_currency=floor_currency,
        deals=tuple(deals),
        private_auction=private,
    )
    fmt = imp.formats[0]
    if fmt == "banner":
        width, height = sizes[0] if sizes else ((box[1], box[3]) if box else (0, 0))
    elif fmt == "video" and video is not None:
        width, height = video
    else:
        width, height = 0, 0
    imp.event_fields = {
        "imp_id": imp_id,
        "placement_id": tagid,
        "ad_format": fmt,
        "ad_width": width,
        "ad_height": height,
        "slot_visibility": _VISIBILITY.get(pos, "unknown"),
        "bidfloor_micros": imp.bidfloor_micros,
        "deal_id": deals[0].id if deals else "",
    }
    return imp
