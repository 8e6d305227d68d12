"""The static outside world of one seed: geography, inventory and the user population.

Everything an exchange's traffic is drawn from and that does not change during a run:

- geography: countries → regions (each with a fixed UTC offset, January standard time,
  no DST) → cities, each country with a traffic share, a price tier and an IP range;
- inventory: `n_publishers` publishers with Zipf popularity (site or app, a content
  category, 1-3 exchanges), each with 1-6 placements (a size, a format, above/below the
  fold, a base floor); the first placement of every publisher is a 300x250 so that every
  device class finds a slot;
- users: `n_users` recurring users, each pinned to one region, one environment
  (desktop web, phone web/app, tablet web/app), OS, browser, user agent, IP, audience
  segments (a bitmask) and a heavy-tailed activity weight;
- hidden effects: per-publisher / per-placement / per-user random effects used by the
  ground truth (`simulator.truth`) and the market (`simulator.market`). The bidder never
  sees them; it only sees their consequences in the logs.

Built deterministically from the seed alone (not from the window or the rate), so the
same seed gives the same publishers and users whatever traffic is later drawn from them.
All tables are numpy arrays indexed by small integer codes; strings live in lists looked
up only when an event is serialized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.world_tables import (
    APP_CATEGORY_WEIGHTS,
    APP_SIZE_WEIGHTS,
    APP_VISIBILITY_WEIGHTS,
    CATEGORIES,
    COUNTRIES,
    EXCHANGE_WEIGHTS,
    EXCHANGES,
    EXCHANGES_PER_PUBLISHER,
    EXCHANGES_PER_PUBLISHER_WEIGHTS,
    MAX_PLACEMENTS_PER_PUBLISHER,
    OS_MIX,
    REGIONS,
    SEGMENT_RATES,
    SEGMENTS,
    SITE_CATEGORY_WEIGHTS,
    SITE_SIZE_WEIGHTS,
    SITE_VISIBILITY_WEIGHTS,
    SIZE_ON_DEVICE,
    SIZES,
    USER_AGENTS,
    WEB_BROWSER_MIX,
)


class WeightedRows:
    """Weighted choice of an item within a row, for many (row, uniform) pairs at once.

    Items are grouped by row; one global cumulative-weight array lets a single
    `searchsorted` serve every row: the target of a draw is the cumulative weight
    before its row plus `u` times the row's total. Used for users within a region,
    publishers within a kind and placements within (publisher, device class).
    """

    def __init__(self, rows: np.ndarray, weights: np.ndarray, items: np.ndarray, n_rows: int):
        order = np.argsort(rows, kind="stable")
        rows, weights, items = rows[order], weights[order], items[order]
        self.items = items
        self.cum = np.cumsum(weights)
        self.total = np.bincount(rows, weights=weights, minlength=n_rows)
        self.count = np.bincount(rows, minlength=n_rows)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        self.base = np.concatenate([[0.0], np.cumsum(self.total)[:-1]])

    def sample(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One item per row in `rows`, given uniforms `u` in [0, 1); rows must be non-empty."""
        target = self.base[rows] + u * self.total[rows]
        pos = np.searchsorted(self.cum, target, side="right")
        # Rounding in the float sums can land a draw on a neighbouring row's first item.
        pos = np.clip(pos, self.start[rows], self.start[rows] + self.count[rows] - 1)
        return self.items[pos]


@dataclass(frozen=True)
class WorldConfig:
    n_publishers: int = 5_000
    n_users: int = 1_000_000
    zipf_exponent: float = 1.1  # publisher popularity ~ 1 / rank**s
    site_share: float = 0.65  # of publishers
    page_hidden_rate: float = 0.10  # exchanges that strip the page URL
    articles_per_section: int = 200


@dataclass
class Geography:
    """Index r over REGIONS, index c over `country_codes`."""

    country_codes: tuple[str, ...]
    region_country: np.ndarray  # int16[r]
    region_offset_min: np.ndarray  # int32[r]
    region_share: np.ndarray  # float64[r], sums to 1 over all regions
    region_city_start: np.ndarray  # int32[r]: first index into city_names
    city_names: list[str]
    country_price: np.ndarray  # float64[c]
    country_ctr: np.ndarray  # float64[c]


@dataclass
class Publishers:
    """Index p over publishers."""

    pub_ids: list[str]
    pub_is_app: np.ndarray  # bool[p]
    pub_category: np.ndarray  # int8[p]
    pub_name: list[str]  # domain (site) or bundle (app)
    pub_exchanges: np.ndarray  # int8[p, 3], -1 padded
    pub_n_exchanges: np.ndarray  # int8[p]
    pub_ctr_effect: np.ndarray  # float64[p] (hidden)
    pub_cvr_effect: np.ndarray  # float64[p] (hidden)
    pub_price_effect: np.ndarray  # float64[p] (hidden)
    pub_by_kind: WeightedRows  # rows 0 = sites, 1 = apps; Zipf popularity


@dataclass
class Placements:
    """Index k over placements."""

    plc_ids: list[str]
    plc_pub: np.ndarray  # int32[k]
    plc_size: np.ndarray  # int8[k] index into SIZES
    plc_visibility: np.ndarray  # int8[k] index into VISIBILITIES
    plc_floor_cpm: np.ndarray  # float64[k] base floor, USD CPM
    plc_ctr_effect: np.ndarray  # float64[k] (hidden)
    plc_by_pub_device: WeightedRows  # rows publisher * 3 + device class


@dataclass
class Users:
    """Index u over users, sorted by region so each region's users are contiguous."""

    user_key: np.ndarray  # uint64[u] -> user_id hex (0 = unknown to the exchange)
    user_region: np.ndarray  # int16[u]
    user_city: np.ndarray  # int32[u] index into city_names
    user_env: np.ndarray  # int8[u] index into ENVIRONMENTS
    user_os: np.ndarray  # int8[u]
    user_browser: np.ndarray  # int8[u]
    user_ua: np.ndarray  # int16[u] index into user_agents
    user_ip: np.ndarray  # uint32[u], last octet zero
    user_segments: np.ndarray  # uint32[u] bitmask over SEGMENTS
    user_ctr_effect: np.ndarray  # float64[u] (hidden)
    user_cvr_effect: np.ndarray  # float64[u] (hidden)
    user_by_region: WeightedRows  # rows = regions; heavy-tailed activity
    user_agents: list[str]


@dataclass
class World(Users, Placements, Publishers, Geography):
    """The static world: the fields of its parts (geography, publishers, placements,
    users), flat, as numpy arrays indexed by the codes documented per field."""

    config: WorldConfig
    segment_lists: dict[int, list[str]] = field(default_factory=dict)

    def segments_of(self, mask: int) -> list[str]:
        """The segment names of a bitmask; one shared list per distinct mask."""
        names = self.segment_lists.get(mask)
        if names is None:
            names = [SEGMENTS[i] for i in range(len(SEGMENTS)) if mask >> i & 1]
            self.segment_lists[mask] = names
        return names


def world_rng(seed: int) -> np.random.Generator:
    # spawn_key (0,) is the world; (1, minute) are the traffic minutes (simulator.exchange).
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))


def build_world(seed: int, config: WorldConfig | None = None) -> World:
    """The world of `seed`. Costs about 0.3 s for a million users. The parts draw from
    one generator in this order, so the order of the calls is part of the world."""
    config = config or WorldConfig()
    rng = world_rng(seed)
    geography = build_geography()
    publishers = build_publishers(rng, config)
    placements = build_placements(rng, publishers)
    users = build_users(rng, config, geography)
    parts = (geography, publishers, placements, users)
    return World(config=config, **{k: v for part in parts for k, v in vars(part).items()})


# ---- geography ----


def build_geography() -> Geography:
    """Countries and regions as arrays (no draws: all of it is in the tables)."""
    country_codes = tuple(COUNTRIES)
    country_index = {c: i for i, c in enumerate(country_codes)}
    region_share = np.array([COUNTRIES[r.country][0] * r.share for r in REGIONS])
    region_share /= region_share.sum()
    n_cities = np.array([len(r.cities) for r in REGIONS], dtype=np.int32)
    return Geography(
        country_codes=country_codes,
        region_country=np.array([country_index[r.country] for r in REGIONS], dtype=np.int16),
        region_offset_min=np.array([r.utc_offset_min for r in REGIONS], dtype=np.int32),
        region_share=region_share,
        region_city_start=(np.cumsum(n_cities) - n_cities).astype(np.int32),
        city_names=[city for r in REGIONS for city in r.cities],
        country_price=np.array([COUNTRIES[c][1] for c in country_codes]),
        country_ctr=np.array([COUNTRIES[c][2] for c in country_codes]),
    )


# ---- publishers ----


def build_publishers(rng: np.random.Generator, config: WorldConfig) -> Publishers:
    n_pub = config.n_publishers
    rank_weight = 1.0 / np.arange(1, n_pub + 1) ** config.zipf_exponent
    pub_is_app = rng.random(n_pub) >= config.site_share
    pub_category = np.where(
        pub_is_app,
        rng.choice(len(CATEGORIES), n_pub, p=APP_CATEGORY_WEIGHTS / APP_CATEGORY_WEIGHTS.sum()),
        rng.choice(len(CATEGORIES), n_pub, p=SITE_CATEGORY_WEIGHTS / SITE_CATEGORY_WEIGHTS.sum()),
    ).astype(np.int8)
    pub_ids = [f"pub-{i:05d}" for i in rng.permutation(n_pub) + 10_000]
    n_exch, pub_exchanges = _publisher_exchanges(rng, n_pub)
    pub_ctr_effect = rng.normal(0.0, 0.5, n_pub)
    # Click-bait inventory converts worse: post-click quality is anti-correlated with CTR.
    pub_cvr_effect = -0.3 * pub_ctr_effect + rng.normal(0.0, 0.3, n_pub)
    # Good inventory is priced up by the market; buyers who model CTR find the bargains.
    pub_price_effect = 0.4 * pub_ctr_effect + rng.normal(0.0, 0.2, n_pub)
    return Publishers(
        pub_ids=pub_ids,
        pub_is_app=pub_is_app,
        pub_category=pub_category,
        pub_name=_publisher_names(pub_category, pub_is_app),
        pub_exchanges=pub_exchanges,
        pub_n_exchanges=n_exch,
        pub_ctr_effect=pub_ctr_effect,
        pub_cvr_effect=pub_cvr_effect,
        pub_price_effect=pub_price_effect,
        pub_by_kind=WeightedRows(
            pub_is_app.astype(np.int64), rank_weight, np.arange(n_pub, dtype=np.int32), 2
        ),
    )


def _publisher_names(category: np.ndarray, is_app: np.ndarray) -> list[str]:
    """`<category>-<k>.example` for sites, `com.example.<category><k>` for apps."""
    names: list[str] = []
    per_category = dict.fromkeys(range(len(CATEGORIES)), 0)
    for cat, app in zip(category.tolist(), is_app.tolist(), strict=True):
        per_category[cat] += 1
        name, k = CATEGORIES[cat], per_category[cat]
        names.append(f"com.example.{name}{k}" if app else f"{name}-{k}.example")
    return names


def _publisher_exchanges(rng: np.random.Generator, n_pub: int) -> tuple[np.ndarray, np.ndarray]:
    """(how many exchanges, the exchanges, -1 padded) of each publisher."""
    n_exch = rng.choice(EXCHANGES_PER_PUBLISHER, n_pub, p=EXCHANGES_PER_PUBLISHER_WEIGHTS)
    n_exch = n_exch.astype(np.int8)
    exchanges = np.full((n_pub, max(EXCHANGES_PER_PUBLISHER)), -1, dtype=np.int8)
    for p in range(n_pub):
        exchanges[p, : n_exch[p]] = rng.choice(
            len(EXCHANGES), n_exch[p], replace=False, p=EXCHANGE_WEIGHTS
        )
    return n_exch, exchanges


# ---- placements ----


def build_placements(rng: np.random.Generator, publishers: Publishers) -> Placements:
    """1-6 placements per publisher; the first is a 300x250, so every device finds one."""
    pub_is_app, n_pub = publishers.pub_is_app, len(publishers.pub_ids)
    n_plc = rng.integers(1, MAX_PLACEMENTS_PER_PUBLISHER + 1, n_pub)
    plc_pub = np.repeat(np.arange(n_pub, dtype=np.int32), n_plc)
    slot_in_pub = np.arange(len(plc_pub)) - np.repeat(np.cumsum(n_plc) - n_plc, n_plc)
    plc_size = _placement_sizes(rng, pub_is_app[plc_pub], slot_in_pub == 0)
    pub_ids = publishers.pub_ids
    plc_ids = [
        f"{pub_ids[p]}-s{s}" for p, s in zip(plc_pub.tolist(), slot_in_pub.tolist(), strict=True)
    ]
    plc_visibility = np.where(
        pub_is_app[plc_pub],
        rng.choice(3, len(plc_pub), p=APP_VISIBILITY_WEIGHTS),
        rng.choice(3, len(plc_pub), p=SITE_VISIBILITY_WEIGHTS),
    ).astype(np.int8)
    plc_floor_cpm = _placement_floors(rng, plc_size)
    plc_ctr_effect = rng.normal(0.0, 0.2, len(plc_pub))

    # Placements a publisher shows on each device class, the first slot the busiest.
    plc_k, plc_d = np.nonzero(SIZE_ON_DEVICE[plc_size])
    plc_by_pub_device = WeightedRows(
        plc_pub[plc_k].astype(np.int64) * 3 + plc_d,
        1.0 / (slot_in_pub[plc_k] + 1.0),
        plc_k.astype(np.int32),
        n_pub * 3,
    )
    return Placements(
        plc_ids=plc_ids,
        plc_pub=plc_pub,
        plc_size=plc_size,
        plc_visibility=plc_visibility,
        plc_floor_cpm=plc_floor_cpm,
        plc_ctr_effect=plc_ctr_effect,
        plc_by_pub_device=plc_by_pub_device,
    )


def _placement_sizes(rng: np.random.Generator, is_app: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Slot sizes (index into SIZES) by the site or app size mix; a publisher's first slot
    is a 300x250, which every device class shows."""
    size_site = rng.choice(len(SIZES), len(is_app), p=SITE_SIZE_WEIGHTS)
    size_app = rng.choice(len(SIZES), len(is_app), p=APP_SIZE_WEIGHTS)
    size = np.where(is_app, size_app, size_site)
    size[first] = 0
    return size.astype(np.int8)


def _placement_floors(rng: np.random.Generator, size: np.ndarray) -> np.ndarray:
    """Base floors in USD CPM: lognormal around 0.5, a quarter without a real floor, video
    five times higher."""
    floor_cpm = np.round(np.exp(rng.normal(np.log(0.5), 0.6, len(size))), 2)
    floor_cpm[rng.random(len(size)) < 0.25] = 0.01  # no real floor
    floor_cpm[size == SIZES.index((640, 360, "video"))] *= 5  # video floors
    return floor_cpm


# ---- users ----


def build_users(rng: np.random.Generator, config: WorldConfig, geo: Geography) -> Users:
    n_users = config.n_users
    user_region = np.sort(rng.choice(len(REGIONS), n_users, p=geo.region_share)).astype(np.int16)
    user_country = geo.region_country[user_region]
    phone_share = np.array([COUNTRIES[c][3] for c in geo.country_codes])[user_country]
    device, is_app, env = _user_environments(rng, phone_share)
    user_os, user_browser = _user_software(rng, device, is_app)
    user_agents, user_ua = _user_agents(rng, device, user_os, user_browser)
    n_cities = np.array([len(r.cities) for r in REGIONS], dtype=np.int32)
    user_city = geo.region_city_start[user_region] + (
        rng.random(n_users) * n_cities[user_region]
    ).astype(np.int32)
    user_ip = _user_ips(rng, user_country, geo.country_codes)
    seg_bits = rng.random((n_users, len(SEGMENTS))) < SEGMENT_RATES
    user_segments = (seg_bits * (1 << np.arange(len(SEGMENTS), dtype=np.uint32))).sum(
        axis=1, dtype=np.uint32
    )
    user_key = _user_keys(rng, user_browser, env)
    user_ctr_effect = rng.normal(0.0, 0.4, n_users)
    user_cvr_effect = rng.normal(0.0, 0.3, n_users)
    # Heavy-tailed activity: a few users make many requests (recurring users, frequency).
    activity = rng.pareto(1.5, n_users) + 0.1
    return Users(
        user_key=user_key,
        user_region=user_region,
        user_city=user_city,
        user_env=env,
        user_os=user_os,
        user_browser=user_browser,
        user_ua=user_ua,
        user_ip=user_ip,
        user_segments=user_segments,
        user_ctr_effect=user_ctr_effect,
        user_cvr_effect=user_cvr_effect,
        user_by_region=WeightedRows(
            user_region.astype(np.int64), activity, np.arange(n_users, dtype=np.int32), len(REGIONS)
        ),
        user_agents=user_agents,
    )


def _user_environments(
    rng: np.random.Generator, phone_share: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(device class, in an app, environment) of each user, by the country's phone share."""
    n_users = len(phone_share)
    u = rng.random(n_users)
    desktop_share = (1.0 - phone_share) * 0.8  # the rest are tablets
    device = np.where(u < desktop_share, 0, np.where(u < desktop_share + phone_share, 1, 2))
    is_app = (device > 0) & (rng.random(n_users) < 0.5)
    env = np.select(
        [device == 0, (device == 1) & ~is_app, device == 1, ~is_app], [0, 1, 2, 3], 4
    ).astype(np.int8)
    return device, is_app, env


def _choice(rng: np.random.Generator, options: tuple[tuple[int, float], ...], n: int):
    values = np.array([o for o, _ in options])
    weights = np.array([w for _, w in options], dtype=float)
    return values[rng.choice(len(values), size=n, p=weights / weights.sum())]


def _user_software(
    rng: np.random.Generator, device: np.ndarray, is_app: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(OS, browser) of each user, by the mixes of their device class."""
    user_os = np.zeros(len(device), dtype=np.int8)
    user_browser = np.full(len(device), 5, dtype=np.int8)  # "app"
    for (d, app), mix in OS_MIX.items():
        sel = np.flatnonzero((device == d) & (is_app == app))
        user_os[sel] = _choice(rng, mix, len(sel))
    for (d, os_code), mix in WEB_BROWSER_MIX.items():
        sel = np.flatnonzero((device == d) & ~is_app & (user_os == os_code))
        user_browser[sel] = _choice(rng, mix, len(sel))
    return user_os, user_browser


def _user_agents(
    rng: np.random.Generator, device: np.ndarray, user_os: np.ndarray, user_browser: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """(every user agent, each user's index into it): one of the versions of their
    device, OS and browser."""
    user_agents: list[str] = []
    ua_range: dict[tuple[int, int, int], tuple[int, int]] = {}
    for key, agents in USER_AGENTS.items():
        ua_range[key] = (len(user_agents), len(agents))
        user_agents.extend(agents)
    user_ua = np.zeros(len(device), dtype=np.int16)
    combo = device * 100 + user_os.astype(np.int64) * 10 + user_browser
    for (d, os_code, br), (lo, n) in ua_range.items():
        sel = np.flatnonzero(combo == d * 100 + os_code * 10 + br)
        user_ua[sel] = lo + rng.integers(0, n, len(sel))
    known = {d * 100 + o * 10 + b for d, o, b in USER_AGENTS}
    missing = sorted({int(c) for c in np.unique(combo)} - known)
    if missing:  # a mix above produces a combination without user agents: a bug here
        raise AssertionError(f"no user agent for device/os/browser combinations {missing}")
    return user_agents, user_ua


def _user_ips(
    rng: np.random.Generator, user_country: np.ndarray, country_codes: tuple[str, ...]
) -> np.ndarray:
    """An IPv4 address per user (last octet zero) in one of the country's first octets."""
    first_octet = np.zeros(len(user_country), dtype=np.uint32)
    for c, code in enumerate(country_codes):
        sel = np.flatnonzero(user_country == c)
        first_octet[sel] = rng.choice(np.array(COUNTRIES[code][4]), len(sel))
    rest = rng.integers(0, 1 << 16, len(user_country)).astype(np.uint32)
    return (first_octet << 24) | (rest << 8)


def _user_keys(rng: np.random.Generator, browser: np.ndarray, env: np.ndarray) -> np.ndarray:
    """Each user's id key; 0 for users who reach the exchange without an id."""
    n_users = len(browser)
    user_key = rng.integers(1, np.iinfo(np.uint64).max, n_users, dtype=np.uint64)
    # Safari (ITP) and limited-ad-tracking devices reach the exchange without an id.
    no_id_rate = np.where(browser == 1, 0.55, np.where(env >= 2, 0.08, 0.05))
    no_id_rate = np.where(env == 2, 0.12, no_id_rate)
    user_key[rng.random(n_users) < no_id_rate] = 0
    return user_key
