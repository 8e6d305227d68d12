"""The incoming OpenRTB 2.5/2.6 BidRequest: its types, and the parser that fills them.

`parse_request` validates the parts of a BidRequest the bidder reads and raises
`RequestError` (-> HTTP 400) naming the field and what is wrong with it; fields it does not
read are ignored, as OpenRTB asks (so there is no parser for `regs`, `source` or
`imp.metric`). There is one small parser per OpenRTB object the bidder reads, in the order
of the request: the BidRequest itself, Site / App / DOOH (with their Publisher), Device
(with its Geo), User (with its Geo and Data / Segment), and for each Imp its Banner (with
Format), Video, Native, Audio and Pmp (with its Deals). They run in that order, so a
request with several problems is refused for the first one met.

Numbers are range-checked where they are read. Every number that reaches the event fits
its contract type (`ad_width`, `ad_height`, `tmax_ms` and `auction_type` are int32,
`bidfloor_micros` int64: `contract.events.columns("bid_request")`) and lies within what an
exchange really sends: sizes 0..MAX_PIXELS, `tmax` 1..MAX_TMAX_MS, floors 0..MAX_PRICE,
`utcoffset` an int32 (exchanges send odd ones: Google's sample has 3600). Anything else
is a 400 naming the field, so an event the bidder logs always encodes, as JSON and as
protobuf, and never fails after a bid was decided.

It also derives the *bid_request event* of the contract (`contract/events.proto`), once
per request (`BidRequest.base`) plus the per-imp fields (`Imp.event_fields`). That dict is
what the bidder logs AND the raw input of the feature spec when it scores, so training
(which reads the logged events) and serving see the same features by construction.

How OpenRTB maps onto the event (the simulator builds its requests to round-trip this):

| event field       | OpenRTB source                                                   |
|-------------------|------------------------------------------------------------------|
| exchange          | `?exchange=`, else `ext.exchange`, else setting `default_exchange`  |
| publisher_id      | `site|app|dooh.publisher.id`                                     |
| site_domain       | `site.domain` (else the host of `site.page`), or `dooh.domain`   |
| app_bundle        | `app.bundle`                                                     |
| page_url          | `site.page` without query string and fragment                    |
| placement_id      | `imp.tagid`                                                      |
| ad_format, size   | the first of banner (`w`/`h`, else `format[0]`), video, native,  |
|                   | audio; when the bidder bids, the format and size of its creative |
|                   | (a banner without any size, `"banner": {}`: banner 0x0, and the  |
|                   | imp is a no-bid `unsupported`, since no creative can fit it)     |
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
# Ids travel into signed tracking URLs and the lake: bounded, and never with control
# characters (a separator byte inside an id once let one token pose as another).
MAX_ID_CHARS = 256
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_SEGMENTS = 64
MICROS = 1_000_000
# Range limits (module doc): what exchanges send, inside the event's int32 / int64 fields.
INT32_MAX = 2**31 - 1
MAX_PIXELS = 100_000  # a slot side in pixels, DOOH walls included
MAX_TMAX_MS = 60_000  # a minute: no auction waits that long
MAX_PRICE = 1e9  # a CPM floor in any currency (1e9 IDR ~ 60k USD); 1e15 micros < 2**63

# OpenRTB `pos` (List 5.4) -> the contract's SlotVisibility.
_VISIBILITY = {1: "above_fold", 3: "below_fold"}


# ---- the bidder's view of a request -----------------------------------------------------


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


def _check_id(value: str, where: str) -> str:
    """An id that may go into a tracking URL: at most MAX_ID_CHARS, no control characters."""
    if len(value) > MAX_ID_CHARS:
        raise RequestError(where, f"at most {MAX_ID_CHARS} characters, got {len(value)}")
    if _CONTROL_CHARS.search(value):
        raise RequestError(where, "must not contain control characters")
    return value


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
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise RequestError(where, f"expected a finite number, got {_shown(value)}") from None
    raise RequestError(where, f"expected a number, got {_type_name(value)}")


def _shown(value: int | float) -> str:
    """A number for an error message (str() of an int of 5,000 digits would raise)."""
    if type(value) is int and not -(10**18) < value < 10**18:
        return f"an integer of {value.bit_length()} bits"
    return str(value)


def _check_size(value: int, where: str) -> int:
    """A size in pixels, 0..MAX_PIXELS (0: not given)."""
    if 0 <= value <= MAX_PIXELS:
        return value
    raise RequestError(where, f"must be 0 to {MAX_PIXELS} pixels, got {_shown(value)}")


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


# ---- values -----------------------------------------------------------------------------


def to_micros(amount: float) -> int:
    """A price in currency units (OpenRTB's floats) -> integer micros, rounded half-up."""
    return int(amount * MICROS + 0.5)


def normalize_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    return domain[4:] if domain.startswith("www.") else domain


def _distinct_domains(*domains: str) -> tuple[str, ...]:
    """The non-empty `domains`, normalized, each once, in order (for blocklists)."""
    out: list[str] = []
    for domain in domains:
        if domain:
            domain = normalize_domain(domain)
            if domain not in out:
                out.append(domain)
    return tuple(out)


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


_NO_GEO = ("", "", "", 0)
_NO_INVENTORY: tuple[str, str, str, str, tuple[str, ...]] = ("", "", "", "", ())
_EMPTY: frozenset[str] = frozenset()


# ---- BidRequest -------------------------------------------------------------------------


def parse_request(
    data: object,
    *,
    now_ms: int,
    exchange: str = "",
    default_exchange: str = "",
    default_tmax_ms: int = 100,
    account_currency: str = "USD",
) -> BidRequest:
    """Validate a decoded BidRequest and derive the bidder's view of it (see module doc)."""
    if type(data) is not dict:
        raise RequestError(
            "", f"the body must be a JSON object (BidRequest), got {_type_name(data)}"
        )
    # One parser per object, in this order (the imps last, in the BidRequest below): a
    # request with several problems is refused for the first one met.
    request_id, raw_imps = _id_and_imps(data)
    tmax, auction_type = _auction(data, default_tmax_ms)
    currencies, bcat, badv, seats, blocked_seats, test = _restrictions(data)
    if not exchange and "ext" in data:
        exchange = _exchange(data["ext"])
    # An event without an exchange is refused by ingest, and then its bid and impression
    # would have no request to join: name it, even when the caller did not.
    exchange = exchange or default_exchange
    site, app, device, user = _parts(data)
    publisher_id, site_domain, app_bundle, page_url, domains = (
        _site(site) if site is not None else _app(app) if app is not None else _dooh(data)
    )
    ua, device_type, os_name, browser, ip_truncated = _device(device, app is not None)
    country, region, city, offset_min = _location(device, user)
    utc_hour = (now_ms // 3_600_000) % 24
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
        "ip_truncated": ip_truncated,
        "country": country,
        "region": region,
        "city": city,
        "user_id": _user_id(user, device),
        "user_segments": _segments(user["data"]) if "data" in user else [],
        "currency": account_currency,
        "tmax_ms": tmax,
        "auction_type": auction_type,
        "user_hour": ((now_ms // 60_000 + offset_min) // 60) % 24 if offset_min else utc_hour,
    }
    return BidRequest(
        request_id,
        _imps(raw_imps, account_currency),
        tmax,
        auction_type,
        currencies,
        bcat,
        badv,
        seats,
        blocked_seats,
        test,
        app is not None,  # is_app
        domains,
        utc_hour,
        base,
    )  # positional: keyword arguments would cost ~0.3 µs per request


def _id_and_imps(data: dict) -> tuple[str, list]:
    """`id` and the `imp` array, both required."""
    request_id = data.get("id", "")
    if type(request_id) is not str:
        request_id = _want_str(request_id, "id")
    if not request_id:
        raise RequestError("id", "required, a non-empty string")
    _check_id(request_id, "id")
    raw_imps = data.get("imp")
    if type(raw_imps) is not list or not raw_imps:
        raw_imps = _want_objs(raw_imps, "imp")
        if not raw_imps:
            raise RequestError("imp", "required, a non-empty array of Imp objects")
    if len(raw_imps) > MAX_IMPS:
        raise RequestError("imp", f"at most {MAX_IMPS} imps per request, got {len(raw_imps)}")
    return request_id, raw_imps


def _auction(data: dict, default_tmax_ms: int) -> tuple[int, int]:
    """`tmax` (ms) and `at` (the auction type)."""
    tmax = data.get("tmax", default_tmax_ms)
    if type(tmax) is not int:
        tmax = _want_int(tmax, "tmax", default_tmax_ms)
    if not 0 < tmax <= MAX_TMAX_MS:
        raise RequestError(
            "tmax", f"must be > 0 and at most {MAX_TMAX_MS} milliseconds, got {_shown(tmax)}"
        )
    auction_type = data.get("at", 2)
    if type(auction_type) is not int:
        auction_type = _want_int(auction_type, "at", 2)
    if auction_type not in (1, 2) and not 500 <= auction_type <= INT32_MAX:
        raise RequestError(
            "at",
            "must be 1 (first price), 2 (second price) or exchange-specific (500 to "
            f"{INT32_MAX}), got {_shown(auction_type)}",
        )
    return tmax, auction_type


def _restrictions(
    data: dict,
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str], frozenset[str], frozenset[str], bool]:
    """`cur`, `bcat`, `badv`, `wseat`, `bseat` and `test`: read only when present (absent in
    most traffic)."""
    cur = data.get("cur")
    currencies = () if cur is None else tuple(c.upper() for c in _want_strs(cur, "cur"))
    bcat = frozenset(_want_strs(data.get("bcat"), "bcat")) if "bcat" in data else _EMPTY
    badv = (
        frozenset(normalize_domain(d) for d in _want_strs(data.get("badv"), "badv"))
        if "badv" in data
        else _EMPTY
    )
    seats = frozenset(_want_strs(data.get("wseat"), "wseat")) if "wseat" in data else _EMPTY
    blocked = frozenset(_want_strs(data.get("bseat"), "bseat")) if "bseat" in data else _EMPTY
    test = _want_int(data.get("test"), "test") == 1 if "test" in data else False
    return currencies, bcat, badv, seats, blocked, test


def _exchange(raw_ext: object) -> str:
    """`ext.exchange`: the exchange's name when the bid URL does not carry it."""
    ext = _want_obj(raw_ext, "ext") or {}
    return ext["exchange"] if type(ext.get("exchange")) is str else ""


def _parts(data: dict) -> tuple[dict | None, dict | None, dict, dict]:
    """The objects `site` or `app` (at most one of them), `device` and `user` ({} when
    absent)."""
    site = data.get("site")
    app = data.get("app")
    if site is not None and type(site) is not dict:
        _want_obj(site, "site")
    if app is not None and type(app) is not dict:
        _want_obj(app, "app")
    if site is not None and app is not None:
        raise RequestError("site", "a request has a site or an app object, not both")
    device = data.get("device") or {}
    if type(device) is not dict:
        _want_obj(device, "device")
    user = data.get("user") or {}
    if type(user) is not dict:
        _want_obj(user, "user")
    return site, app, device, user


# ---- Site, App, DOOH, Publisher ---------------------------------------------------------
# Each -> (publisher_id, site_domain, app_bundle, page_url, normalized domains).


def _site(site: dict) -> tuple[str, str, str, str, tuple[str, ...]]:
    publisher_id, domain = _seller(site, "site.")
    page = site.get("page", "")
    if type(page) is not str:
        page = _want_str(page, "site.page")
    host = _host(page) if page else ""
    site_domain = domain or host
    return publisher_id, site_domain, "", _strip_query(page), _distinct_domains(site_domain, host)


def _app(app: dict) -> tuple[str, str, str, str, tuple[str, ...]]:
    publisher_id, domain = _seller(app, "app.")
    bundle = app.get("bundle", "")
    if type(bundle) is not str:
        bundle = _want_str(bundle, "app.bundle")
    return publisher_id, "", bundle, "", _distinct_domains(bundle, domain)


def _dooh(data: dict) -> tuple[str, str, str, str, tuple[str, ...]]:
    """A digital out-of-home screen (2.6), or no inventory object at all."""
    dooh = _want_obj(data["dooh"], "dooh") if "dooh" in data else None
    if dooh is None:
        return _NO_INVENTORY
    publisher_id, domain = _seller(dooh, "dooh.")
    return publisher_id, domain, "", "", _distinct_domains(domain)


def _seller(inventory: dict, where: str) -> tuple[str, str]:
    """`publisher.id` and `domain`, which site, app and dooh share."""
    publisher_id = ""
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
    return publisher_id, domain


# ---- Device, Geo ------------------------------------------------------------------------


def _device(device: dict, is_app: bool) -> tuple[str, str, str, str, str]:
    """(user agent, device_type, os, browser, truncated ip): the device's own fields first,
    the User-Agent for what they leave out."""
    ua = device.get("ua", "")
    if type(ua) is not str:
        ua = _want_str(ua, "device.ua")
    ua_device, ua_os, ua_browser = useragent.parse(ua)
    devicetype = device.get("devicetype", 0)
    if type(devicetype) is not int:
        devicetype = _want_int(devicetype, "device.devicetype")
    os_field = device.get("os", "")
    if type(os_field) is not str:
        os_field = _want_str(os_field, "device.os")
    ip = device.get("ip", "")
    if type(ip) is not str:
        ip = _want_str(ip, "device.ip")
    return (
        ua,
        useragent.DEVICE_TYPES.get(devicetype, "") or ua_device,
        useragent.os_from_name(os_field) or ua_os,
        "app" if is_app else ua_browser,
        _truncate_ip(ip) if ip else "",
    )


def _location(device: dict, user: dict) -> tuple[str, str, str, int]:
    """(country, region, city, utcoffset minutes): `device.geo`, completed by `user.geo`."""
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
    return country, region, city, offset_min


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
    if not -INT32_MAX <= offset <= INT32_MAX:
        raise RequestError(where + "utcoffset", f"must be an int32, got {_shown(offset)}")
    return _country(country), _region(region), city, offset


# ---- User, Data, Segment ----------------------------------------------------------------


def _user_id(user: dict, device: dict) -> str:
    """`user.id`, else the device's advertising id, else the exchange's buyer id."""
    user_id = user.get("id", "")
    if type(user_id) is not str:
        user_id = _want_str(user_id, "user.id")
    if user_id:
        return _check_id(user_id, "user.id")
    ifa = _want_str(device.get("ifa"), "device.ifa")
    if ifa:
        return _check_id(ifa, "device.ifa")
    return _check_id(_want_str(user.get("buyeruid"), "user.buyeruid"), "user.buyeruid")


def _segments(data: object) -> list[str]:
    """The ids of `user.data[].segment[]`: the first MAX_SEGMENTS distinct, in order."""
    segments: list[str] = []
    for i, datum in enumerate(_want_objs(data, "user.data")):
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
    return segments


# ---- Imp --------------------------------------------------------------------------------


def _imps(raw_imps: list, account_currency: str) -> list[Imp]:
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
    return imps


def _imp(raw: dict, index: int, account_currency: str) -> Imp:
    where = f"imp[{index}]."
    get = raw.get
    imp_id = get("id", "")
    if type(imp_id) is not str:
        imp_id = _want_str(imp_id, where + "id")
    if not imp_id:
        raise RequestError(where + "id", "required, a non-empty string")
    _check_id(imp_id, where + "id")
    banner = get("banner")
    sizes, box, pos = _banner(banner, where + "banner") if banner is not None else ((), None, -1)
    video, video_pos = (
        _video(raw["video"], where + "video", banner is None) if "video" in raw else (None, -1)
    )
    if banner is None:
        pos = video_pos
    native = "native" in raw and _want_obj(raw["native"], where + "native") is not None
    audio = "audio" in raw and _want_obj(raw["audio"], where + "audio") is not None
    if banner is None and video is None and not native and not audio:
        raise RequestError(where.rstrip("."), "needs one of banner, video, native or audio")
    floor, floor_currency = _floor(raw, where, account_currency)
    tagid = get("tagid", "")
    if type(tagid) is not str:
        tagid = _want_str(tagid, where + "tagid")
    private, deals = _pmp(raw["pmp"], where + "pmp", floor_currency) if "pmp" in raw else _NO_PMP
    imp = Imp(
        imp_id,
        index,
        sizes,  # banner_sizes
        box,  # banner_range
        video,
        native,
        audio,
        to_micros(floor),  # bidfloor_micros
        floor_currency,
        deals,
        private,  # private_auction
    )  # positional: keyword arguments would cost ~0.3 µs per imp
    imp.event_fields = _event_fields(imp, tagid, pos)
    return imp


def _floor(raw: dict, where: str, account_currency: str) -> tuple[float, str]:
    """`bidfloor` (>= 0) and `bidfloorcur` (default: the account's currency)."""
    floor = raw.get("bidfloor", 0.0)
    if type(floor) is not float:
        floor = _want_num(floor, where + "bidfloor")
    if not 0 <= floor <= MAX_PRICE:  # also NaN
        _check_price(floor, where + "bidfloor")
    currency = raw.get("bidfloorcur", "")
    if type(currency) is not str:
        currency = _want_str(currency, where + "bidfloorcur")
    return floor, currency.upper() if currency else account_currency


def _check_price(price: float, where: str) -> None:
    """Raise for a price that is not 0..MAX_PRICE (NaN and inf included)."""
    _want_num(price, where)  # NaN / inf from a lenient JSON encoder
    if price < 0:
        raise RequestError(where, f"must be >= 0, got {price}")
    if price > MAX_PRICE:
        raise RequestError(where, f"must be at most {MAX_PRICE:.0e} (a CPM), got {price:.6g}")


def _event_fields(imp: Imp, tagid: str, pos: int) -> dict[str, object]:
    """The imp's fields of the bid_request event. Its ad format and size, before a bid, are
    the imp's first format and that format's preferred size. An imp without any format it
    can take had a banner without a size: logged as banner 0x0 (a no-bid, `unsupported`)."""
    fmt = imp.formats[0] if imp.formats else "banner"
    if fmt == "banner":
        box = imp.banner_range
        width, height = (
            imp.banner_sizes[0] if imp.banner_sizes else ((box[1], box[3]) if box else (0, 0))
        )
    elif fmt == "video" and imp.video is not None:
        width, height = imp.video
    else:
        width, height = 0, 0
    return {
        "imp_id": imp.id,
        "placement_id": tagid,
        "ad_format": fmt,
        "ad_width": width,
        "ad_height": height,
        "slot_visibility": _VISIBILITY.get(pos, "unknown"),
        "bidfloor_micros": imp.bidfloor_micros,
        "deal_id": imp.deals[0].id if imp.deals else "",
    }


# ---- Banner, Format, Video --------------------------------------------------------------


def _banner(
    banner: dict, where: str
) -> tuple[tuple[tuple[int, int], ...], tuple[int, int, int, int] | None, int]:
    """(sizes, preferred first; the 2.3-style size range or None; pos, -1 when absent)."""
    if type(banner) is not dict:
        _want_obj(banner, where)
    bw = where + "."
    sizes = _formats(banner["format"], bw + "format") if "format" in banner else []
    w, h = banner.get("w", 0), banner.get("h", 0)
    if type(w) is not int:
        w = _want_int(w, bw + "w")
    if type(h) is not int:
        h = _want_int(h, bw + "h")
    if not (0 <= w <= MAX_PIXELS and 0 <= h <= MAX_PIXELS):
        _check_size(w, bw + "w")
        _check_size(h, bw + "h")
    if w > 0 and h > 0 and (w, h) not in sizes:
        sizes.insert(0, (w, h))  # w/h is the preferred size when both are given
    box = _size_range(banner, bw) if "wmax" in banner or "hmax" in banner else None
    pos = banner.get("pos", -1)
    if type(pos) is not int:
        pos = _want_int(pos, bw + "pos", -1)
    return tuple(sizes), box, pos


def _formats(formats: object, where: str) -> list[tuple[int, int]]:
    """The positive sizes of a `banner.format` array of Format objects."""
    sizes = []
    for i, size in enumerate(_want_objs(formats, where)):
        w, h = size.get("w", 0), size.get("h", 0)
        if type(w) is not int:
            w = _want_int(w, f"{where}[{i}].w")
        if type(h) is not int:
            h = _want_int(h, f"{where}[{i}].h")
        if not (0 <= w <= MAX_PIXELS and 0 <= h <= MAX_PIXELS):
            _check_size(w, f"{where}[{i}].w")
            _check_size(h, f"{where}[{i}].h")
        if w > 0 and h > 0:
            sizes.append((w, h))
    return sizes


def _size_range(banner: dict, bw: str) -> tuple[int, int, int, int] | None:
    """(wmin, wmax, hmin, hmax) when both maxima are positive."""
    wmax = _check_size(_want_int(banner.get("wmax"), bw + "wmax"), bw + "wmax")
    hmax = _check_size(_want_int(banner.get("hmax"), bw + "hmax"), bw + "hmax")
    if wmax > 0 and hmax > 0:
        wmin = _check_size(_want_int(banner.get("wmin"), bw + "wmin"), bw + "wmin")
        hmin = _check_size(_want_int(banner.get("hmin"), bw + "hmin"), bw + "hmin")
        return wmin, wmax, hmin, hmax
    return None


def _video(raw_video: object, where: str, read_pos: bool) -> tuple[tuple[int, int] | None, int]:
    """(the player's size, pos) of a Video object, (None, -1) for a null one. `pos` is read
    only when `read_pos` (an imp without a banner: a banner's pos comes first)."""
    video = _want_obj(raw_video, where)
    if video is None:
        return None, -1
    vw = where + "."
    size = (
        _check_size(_want_int(video.get("w"), vw + "w"), vw + "w"),
        _check_size(_want_int(video.get("h"), vw + "h"), vw + "h"),
    )
    return size, _want_int(video.get("pos"), vw + "pos", -1) if read_pos else -1


# ---- Pmp, Deal --------------------------------------------------------------------------

_NO_PMP: tuple[bool, tuple[Deal, ...]] = (False, ())


def _pmp(raw_pmp: object, where: str, floor_currency: str) -> tuple[bool, tuple[Deal, ...]]:
    """(private_auction, deals) of a Pmp object."""
    pmp = _want_obj(raw_pmp, where) or {}
    pw = where + "."
    private = _want_int(pmp.get("private_auction"), pw + "private_auction") == 1
    deals = tuple(
        _deal(deal, f"{pw}deals[{i}].", floor_currency)
        for i, deal in enumerate(_want_objs(pmp.get("deals"), pw + "deals"))
    )
    return private, deals


def _deal(deal: dict, dw: str, floor_currency: str) -> Deal:
    deal_id = _want_str(deal.get("id"), dw + "id")
    if not deal_id:
        raise RequestError(dw + "id", "required, a non-empty string")
    deal_floor = _want_num(deal.get("bidfloor"), dw + "bidfloor")
    if not 0 <= deal_floor <= MAX_PRICE:
        _check_price(deal_floor, dw + "bidfloor")
    return Deal(
        id=deal_id,
        floor_micros=to_micros(deal_floor),
        currency=(_want_str(deal.get("bidfloorcur"), dw + "bidfloorcur") or floor_currency).upper(),
        auction_type=_want_int(deal.get("at"), dw + "at", 2),
        seats=frozenset(_want_strs(deal.get("wseat"), dw + "wseat")),
        adomains=frozenset(
            normalize_domain(d) for d in _want_strs(deal.get("wadomain"), dw + "wadomain")
        ),
    )
