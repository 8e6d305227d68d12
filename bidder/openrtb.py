"""OpenRTB 2.5/2.6 bid requests in, the fields the bidder decides on out.

`parse_request` validates the parts of a BidRequest the bidder reads and raises
`RequestError` (-> HTTP 400) naming the field and what is wrong with it; fields it does not
read are ignored, as OpenRTB asks. It also derives the *bid_request event* of the contract
(`ingest/events.proto`), once per request (`BidRequest.base`) plus the per-imp fields
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

    @property
    def formats(self) -> tuple[str, ...]:
        out = []
        if self.banner_sizes or self.banner_range:
            out.append("banner")
        if self.video is not None:
            out.append("video")
        if self.native:
            out.append("native")
        if self.audio:
            out.append("audio")
        return tuple(out)

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


# ---- small typed readers: each names the field path in its error -----------------------


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _obj(parent: dict, key: str, where: str) -> dict | None:
    value = parent.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise RequestError(f"{where}{key}", f"expected an object, got {_type_name(value)}")
    return value


def _str(parent: dict, key: str, where: str) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise RequestError(f"{where}{key}", f"expected a string, got {_type_name(value)}")
    return value


def _int(parent: dict, key: str, where: str, default: int = 0) -> int:
    value = parent.get(key)
    if value is None:
        return default
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():  # 300.0: some exchanges write ints so
        return int(value)
    raise RequestError(f"{where}{key}", f"expected an integer, got {_type_name(value)}")


def _num(parent: dict, key: str, where: str) -> float:
    value = parent.get(key)
    if value is None:
        return 0.0
    if type(value) is int or type(value) is float:
        if value != value or value in (float("inf"), float("-inf")):  # NaN/inf from non-std JSON
            raise RequestError(f"{where}{key}", "expected a finite number")
        return float(value)
    raise RequestError(f"{where}{key}", f"expected a number, got {_type_name(value)}")


def _strs(parent: dict, key: str, where: str) -> tuple[str, ...]:
    value = parent.get(key)
    if value is None:
        return ()
    if type(value) is not list:
        raise RequestError(
            f"{where}{key}", f"expected an array of strings, got {_type_name(value)}"
        )
    for i, item in enumerate(value):
        if type(item) is not str:
            raise RequestError(f"{where}{key}[{i}]", f"expected a string, got {_type_name(item)}")
    return tuple(value)


def _objs(parent: dict, key: str, where: str) -> list[dict]:
    value = parent.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise RequestError(
            f"{where}{key}", f"expected an array of objects, got {_type_name(value)}"
        )
    for i, item in enumerate(value):
        if type(item) is not dict:
            raise RequestError(f"{where}{key}[{i}]", f"expected an object, got {_type_name(item)}")
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


def _truncate_ip(ip: str) -> str:
    parts = ip.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        return ""
    return f"{parts[0]}.{parts[1]}.{parts[2]}.0"


def _country(geo: dict | None, where: str) -> str:
    if geo is None:
        return ""
    code = _str(geo, "country", where).strip().upper()
    if len(code) == 3:
        return ALPHA3_TO_ALPHA2.get(code, "")
    return code if len(code) == 2 and code.isalpha() else ""


def _region(geo: dict | None, where: str) -> str:
    if geo is None:
        return ""
    region = _str(geo, "region", where).strip()
    # ISO 3166-2 "US-CA" -> "CA"; anything else (exchange names like "New York") as sent.
    if len(region) > 3 and region[2] == "-" and region[:2].isalpha():
        return region[3:]
    return region


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
    request_id = _str(data, "id", "")
    if not request_id:
        raise RequestError("id", "required, a non-empty string")
    raw_imps = _objs(data, "imp", "")
    if not raw_imps:
        raise RequestError("imp", "required, a non-empty array of Imp objects")
    if len(raw_imps) > MAX_IMPS:
        raise RequestError("imp", f"at most {MAX_IMPS} imps per request, got {len(raw_imps)}")

    tmax = _int(data, "tmax", "", default_tmax_ms)
    if tmax <= 0:
        raise RequestError("tmax", f"must be > 0 milliseconds, got {tmax}")
    auction_type = _int(data, "at", "", 2)
    if auction_type not in (1, 2) and auction_type < 500:  # 500+ are exchange-specific
        raise RequestError("at", f"must be 1 (first price) or 2 (second price), got {auction_type}")
    currencies = tuple(c.upper() for c in _strs(data, "cur", ""))
    test = _int(data, "test", "") == 1
    bcat = frozenset(_strs(data, "bcat", ""))
    badv = frozenset(normalize_domain(d) for d in _strs(data, "badv", ""))
    seats = frozenset(_strs(data, "wseat", ""))
    blocked_seats = frozenset(_strs(data, "bseat", ""))
    ext = _obj(data, "ext", "")
    if not exchange and ext is not None:
        exchange = ext.get("exchange") if type(ext.get("exchange")) is str else ""  # type: ignore[assignment]

    site = _obj(data, "site", "")
    app = _obj(data, "app", "")
    dooh = _obj(data, "dooh", "")
    if site is not None and app is not None:
        raise RequestError("site", "a request has a site or an app object, not both")
    device = _obj(data, "device", "") or {}
    user = _obj(data, "user", "") or {}

    # -- inventory --
    publisher_id = site_domain = app_bundle = page_url = ""
    domains: list[str] = []
    inventory, where = (site, "site.") if site is not None else (app, "app.")
    if inventory is None and dooh is not None:
        inventory, where = dooh, "dooh."
    if inventory is not None:
        publisher = _obj(inventory, "publisher", where)
        if publisher is not None:
            publisher_id = _str(publisher, "id", where + "publisher.")
        domain = _str(inventory, "domain", where)
        if app is not None:
            app_bundle = _str(app, "bundle", "app.")
            domains += [d for d in (app_bundle, domain) if d]
        else:
            page = _str(inventory, "page", where) if site is not None else ""
            page_url = _strip_query(page)
            site_domain = domain or (_host(page) if page else "")
            domains += [d for d in (site_domain, _host(page) if page else "") if d]

    # -- device, geo, user --
    where = "device."
    ua = _str(device, "ua", where)
    ua_device, ua_os, ua_browser = useragent.parse(ua)
    devicetype = _int(device, "devicetype", where)
    device_type = useragent.DEVICE_TYPES.get(devicetype, "") or ua_device
    os_name = useragent.os_from_name(_str(device, "os", where)) or ua_os
    browser = "app" if app is not None else ua_browser
    geo = _obj(device, "geo", where)
    user_geo = _obj(user, "geo", "user.")
    country = _country(geo, "device.geo.") or _country(user_geo, "user.geo.")
    region = _region(geo, "device.geo.") or _region(user_geo, "user.geo.")
    city = (_str(geo, "city", "device.geo.") if geo else "") or (
        _str(user_geo, "city", "user.geo.") if user_geo else ""
    )
    utc_hour = (now_ms // 3_600_000) % 24
    offset_min = _int(geo, "utcoffset", "device.geo.") if geo else 0
    user_hour = ((now_ms // 60_000 + offset_min) // 60) % 24 if offset_min else utc_hour

    user_id = (
        _str(user, "id", "user.") or _str(device, "ifa", where) or _str(user, "buyeruid", "user.")
    )
    segments: list[str] = []
    for i, datum in enumerate(_objs(user, "data", "user.")):
        for j, segment in enumerate(_objs(datum, "segment", f"user.data[{i}].")):
            seg_id = _str(segment, "id", f"user.data[{i}].segment[{j}].")
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
        "ip_truncated": _truncate_ip(_str(device, "ip", where)),
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
    imps = [_imp(raw, i, account_currency) for i, raw in enumerate(raw_imps)]
    seen: set[str] = set()
    for imp in imps:
        if imp.id in seen:
            raise RequestError(f"imp[{imp.index}].id", f"duplicate imp id {imp.id!r}")
        seen.add(imp.id)
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
        domains=tuple(dict.fromkeys(normalize_domain(d) for d in domains)),
        utc_hour=utc_hour,
        base=base,
    )


def _imp(raw: dict, index: int, account_currency: str) -> Imp:
    where = f"imp[{index}]."
    imp_id = _str(raw, "id", where)
    if not imp_id:
        raise RequestError(where + "id", "required, a non-empty string")
    sizes: list[tuple[int, int]] = []
    box = None
    pos = None
    banner = _obj(raw, "banner", where)
    if banner is not None:
        bw = where + "banner."
        for i, size in enumerate(_objs(banner, "format", bw)):
            w, h = _int(size, "w", f"{bw}format[{i}]."), _int(size, "h", f"{bw}format[{i}].")
            if w > 0 and h > 0:
                sizes.append((w, h))
        w, h = _int(banner, "w", bw), _int(banner, "h", bw)
        if w > 0 and h > 0 and (w, h) not in sizes:
            sizes.insert(0, (w, h))  # w/h is the preferred size when both are given
        wmax, hmax = _int(banner, "wmax", bw), _int(banner, "hmax", bw)
        if wmax > 0 and hmax > 0:
            box = (_int(banner, "wmin", bw), wmax, _int(banner, "hmin", bw), hmax)
        pos = _int(banner, "pos", bw, -1)
    video = None
    raw_video = _obj(raw, "video", where)
    if raw_video is not None:
        vw = where + "video."
        video = (_int(raw_video, "w", vw), _int(raw_video, "h", vw))
        if pos is None:
            pos = _int(raw_video, "pos", vw, -1)
    native = _obj(raw, "native", where) is not None
    audio = _obj(raw, "audio", where) is not None
    if banner is None and video is None and not native and not audio:
        raise RequestError(where.rstrip("."), "needs one of banner, video, native or audio")

    floor = _num(raw, "bidfloor", where)
    if floor < 0:
        raise RequestError(where + "bidfloor", f"must be >= 0, got {floor}")
    floor_currency = (_str(raw, "bidfloorcur", where) or account_currency).upper()

    deals: list[Deal] = []
    private = False
    pmp = _obj(raw, "pmp", where)
    if pmp is not None:
        pw = where + "pmp."
        private = _int(pmp, "private_auction", pw) == 1
        for i, deal in enumerate(_objs(pmp, "deals", pw)):
            dw = f"{pw}deals[{i}]."
            deal_id = _str(deal, "id", dw)
            if not deal_id:
                raise RequestError(dw + "id", "required, a non-empty string")
            deal_floor = _num(deal, "bidfloor", dw)
            if deal_floor < 0:
                raise RequestError(dw + "bidfloor", f"must be >= 0, got {deal_floor}")
            deals.append(
                Deal(
                    id=deal_id,
                    floor_micros=to_micros(deal_floor),
                    currency=(_str(deal, "bidfloorcur", dw) or floor_currency).upper(),
                    auction_type=_int(deal, "at", dw, 2),
                    seats=frozenset(_strs(deal, "wseat", dw)),
                    adomains=frozenset(normalize_domain(d) for d in _strs(deal, "wadomain", dw)),
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
        "placement_id": _str(raw, "tagid", where),
        "ad_format": fmt,
        "ad_width": width,
        "ad_height": height,
        "slot_visibility": _VISIBILITY.get(pos, "unknown") if pos is not None else "unknown",
        "bidfloor_micros": imp.bidfloor_micros,
        "deal_id": deals[0].id if deals else "",
    }
    return imp
