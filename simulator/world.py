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

# ---- Static vocabularies (values of the contract's categorical fields) ----

# Environments: where a user is reached. The device class decides which slot sizes exist.
ENVIRONMENTS = ("desktop_web", "phone_web", "phone_app", "tablet_web", "tablet_app")
ENV_DEVICE = np.array([0, 1, 1, 2, 2], dtype=np.int8)  # index into DEVICE_CLASSES
ENV_IS_APP = np.array([False, False, True, False, True])
DEVICE_CLASSES = ("desktop", "phone", "tablet")  # = contract device_type values

OS_NAMES = ("windows", "macos", "linux", "android", "ios")
BROWSER_NAMES = ("chrome", "safari", "firefox", "edge", "samsung", "app")

# Slot sizes: (width, height, ad_format). The device classes a size is served on.
SIZES: tuple[tuple[int, int, str], ...] = (
    (300, 250, "banner"),  # 0 medium rectangle, everywhere
    (728, 90, "banner"),  # 1 leaderboard
    (160, 600, "banner"),  # 2 wide skyscraper
    (300, 600, "banner"),  # 3 half page
    (970, 250, "banner"),  # 4 billboard
    (320, 50, "banner"),  # 5 mobile leaderboard
    (320, 100, "banner"),  # 6 large mobile banner
    (320, 480, "banner"),  # 7 interstitial
    (640, 360, "video"),  # 8 outstream / instream video
)
# SIZE_ON_DEVICE[size, device_class]: whether a placement of that size is shown there.
SIZE_ON_DEVICE = np.array(
    [
        [1, 1, 1],
        [1, 0, 1],
        [1, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 1, 0],
        [0, 1, 1],
        [1, 1, 1],
    ],
    dtype=bool,
)
SITE_SIZE_WEIGHTS = np.array([0, 0.22, 0.12, 0.12, 0.06, 0.22, 0.12, 0.04, 0.10])
APP_SIZE_WEIGHTS = np.array([0, 0.10, 0, 0, 0, 0.45, 0.10, 0.25, 0.10])

VISIBILITIES = ("above_fold", "below_fold", "unknown")

EXCHANGES = ("adx", "xandr", "magnite", "pubmatic", "openx", "index")
EXCHANGE_WEIGHTS = np.array([0.34, 0.18, 0.16, 0.14, 0.10, 0.08])
EXCHANGE_TMAX_MS = np.array([100, 120, 150, 120, 200, 150], dtype=np.int32)
# openx reports phones and tablets as the generic OpenRTB "mobile" device type (1): a
# real data-quality quirk the warehouse and the bidder's targeting have to live with.
EXCHANGE_GENERIC_MOBILE = np.array([False, False, False, False, True, False])

CATEGORIES = (
    "news",
    "sports",
    "weather",
    "finance",
    "travel",
    "games",
    "fashion",
    "shopping",
    "recipes",
    "tech",
    "entertainment",
    "social",
)
SITE_CATEGORY_WEIGHTS = np.array([18, 10, 5, 6, 5, 4, 6, 8, 6, 8, 12, 2], dtype=float)
APP_CATEGORY_WEIGHTS = np.array([6, 6, 8, 3, 2, 30, 2, 6, 2, 4, 10, 20], dtype=float)
SECTIONS = ("home", "world", "local", "opinion", "reviews", "guides", "video", "live")

# Audience segments (the iPinYou "user tags"): interest and intent segments, and
# retargeting segments ("visited the advertiser's site") matching the campaign book.
SEGMENTS = (
    "news-junkie",
    "sports-fan",
    "travel-intender",
    "auto-intender",
    "gamer",
    "finance-pro",
    "fashion",
    "shopper",
    "foodie",
    "tech-enthusiast",
    "parents",
    "students",
    "fitness",
    "movies",
    "home-garden",
    "business",
    "rt:adv-shoes",
    "rt:adv-travel",
    "rt:adv-games",
    "rt:adv-bank",
)
SEGMENT_RATES = np.array(
    [0.20, 0.15, 0.08, 0.06, 0.12, 0.07, 0.10, 0.18, 0.09, 0.10, 0.12, 0.08,
     0.08, 0.14, 0.06, 0.07, 0.02, 0.015, 0.02, 0.01]
)  # fmt: skip


@dataclass(frozen=True)
class Region:
    country: str
    code: str  # ISO 3166-2 suffix
    utc_offset_min: int
    share: float  # share of the country's traffic
    cities: tuple[str, ...]


# country: (traffic share, price tier (log CPM shift), CTR shift, phone share, first octets)
COUNTRIES: dict[str, tuple[float, float, float, float, tuple[int, ...]]] = {
    "US": (0.38, 0.50, 0.00, 0.50, (23, 24, 47, 67, 68, 71, 73, 98, 99, 107, 108, 174)),
    "GB": (0.08, 0.35, 0.05, 0.52, (2, 5, 31, 51, 81, 86)),
    "CA": (0.05, 0.30, 0.00, 0.48, (24, 70, 142, 174)),
    "DE": (0.07, 0.25, -0.10, 0.50, (5, 46, 79, 84, 91, 93)),
    "FR": (0.06, 0.15, -0.05, 0.52, (2, 5, 37, 78, 90)),
    "ES": (0.03, 0.00, 0.05, 0.58, (2, 5, 37, 79, 83)),
    "IT": (0.03, 0.00, 0.05, 0.58, (2, 5, 37, 79, 93)),
    "BR": (0.08, -0.60, 0.20, 0.70, (177, 179, 186, 187, 189, 191, 200, 201)),
    "MX": (0.04, -0.50, 0.15, 0.68, (177, 187, 189, 200, 201)),
    "IN": (0.09, -0.90, 0.30, 0.80, (49, 103, 106, 110, 117, 122, 157)),
    "JP": (0.05, 0.20, -0.30, 0.62, (1, 27, 49, 60, 106, 110, 126)),
    "AU": (0.04, 0.35, 0.00, 0.55, (1, 27, 49, 58, 101, 110, 120)),
}
REGIONS: tuple[Region, ...] = (
    Region("US", "CA", -480, 0.16, ("Los Angeles", "San Francisco", "San Diego", "San Jose")),
    Region("US", "NY", -300, 0.10, ("New York", "Buffalo", "Rochester")),
    Region("US", "TX", -360, 0.12, ("Houston", "Dallas", "Austin", "San Antonio")),
    Region("US", "FL", -300, 0.10, ("Miami", "Orlando", "Tampa", "Jacksonville")),
    Region("US", "IL", -360, 0.06, ("Chicago", "Springfield")),
    Region("US", "PA", -300, 0.06, ("Philadelphia", "Pittsburgh")),
    Region("US", "OH", -300, 0.05, ("Columbus", "Cleveland", "Cincinnati")),
    Region("US", "GA", -300, 0.05, ("Atlanta", "Savannah")),
    Region("US", "WA", -480, 0.04, ("Seattle", "Spokane")),
    Region("US", "AZ", -420, 0.04, ("Phoenix", "Tucson")),
    Region("US", "CO", -420, 0.03, ("Denver", "Boulder")),
    Region("US", "MA", -300, 0.04, ("Boston", "Worcester")),
    Region("US", "MI", -300, 0.04, ("Detroit", "Grand Rapids")),
    Region("US", "NC", -300, 0.05, ("Charlotte", "Raleigh")),
    Region("US", "NJ", -300, 0.06, ("Newark", "Jersey City")),
    Region("GB", "ENG", 0, 0.84, ("London", "Manchester", "Birmingham", "Leeds", "Bristol")),
    Region("GB", "SCT", 0, 0.09, ("Glasgow", "Edinburgh")),
    Region("GB", "WLS", 0, 0.05, ("Cardiff", "Swansea")),
    Region("GB", "NIR", 0, 0.02, ("Belfast",)),
    Region("CA", "ON", -300, 0.40, ("Toronto", "Ottawa", "Mississauga")),
    Region("CA", "QC", -300, 0.23, ("Montreal", "Quebec City")),
    Region("CA", "BC", -480, 0.14, ("Vancouver", "Victoria")),
    Region("CA", "AB", -420, 0.12, ("Calgary", "Edmonton")),
    Region("CA", "NS", -240, 0.11, ("Halifax",)),
    Region("DE", "BE", 60, 0.12, ("Berlin",)),
    Region("DE", "BY", 60, 0.22, ("Munich", "Nuremberg")),
    Region("DE", "NW", 60, 0.30, ("Cologne", "Dusseldorf", "Dortmund", "Essen")),
    Region("DE", "HH", 60, 0.08, ("Hamburg",)),
    Region("DE", "HE", 60, 0.14, ("Frankfurt", "Wiesbaden")),
    Region("DE", "BW", 60, 0.14, ("Stuttgart", "Karlsruhe")),
    Region("FR", "IDF", 60, 0.40, ("Paris", "Boulogne-Billancourt")),
    Region("FR", "ARA", 60, 0.22, ("Lyon", "Grenoble")),
    Region("FR", "PAC", 60, 0.20, ("Marseille", "Nice")),
    Region("FR", "OCC", 60, 0.18, ("Toulouse", "Montpellier")),
    Region("ES", "MD", 60, 0.45, ("Madrid",)),
    Region("ES", "CT", 60, 0.35, ("Barcelona",)),
    Region("ES", "AN", 60, 0.20, ("Seville", "Malaga")),
    Region("IT", "25", 60, 0.45, ("Milan", "Bergamo")),
    Region("IT", "62", 60, 0.35, ("Rome",)),
    Region("IT", "72", 60, 0.20, ("Naples",)),
    Region("BR", "SP", -180, 0.50, ("Sao Paulo", "Campinas")),
    Region("BR", "RJ", -180, 0.30, ("Rio de Janeiro",)),
    Region("BR", "MG", -180, 0.20, ("Belo Horizonte",)),
    Region("MX", "CMX", -360, 0.50, ("Mexico City",)),
    Region("MX", "JAL", -360, 0.25, ("Guadalajara",)),
    Region("MX", "NLE", -360, 0.25, ("Monterrey",)),
    Region("IN", "MH", 330, 0.35, ("Mumbai", "Pune")),
    Region("IN", "DL", 330, 0.25, ("New Delhi",)),
    Region("IN", "KA", 330, 0.25, ("Bengaluru", "Mysuru")),
    Region("IN", "TN", 330, 0.15, ("Chennai",)),
    Region("JP", "13", 540, 0.60, ("Tokyo",)),
    Region("JP", "27", 540, 0.40, ("Osaka",)),
    Region("AU", "NSW", 660, 0.45, ("Sydney",)),
    Region("AU", "VIC", 660, 0.35, ("Melbourne",)),
    Region("AU", "QLD", 600, 0.20, ("Brisbane", "Gold Coast")),
)

# Traffic by local hour of day (00..23), relative; the same shape in every region.
# Trough around 04:00, a lunch shoulder, the peak in the evening: the usual shape of
# display traffic (peak/trough about 6).
LOCAL_HOUR_TRAFFIC = np.array(
    [0.45, 0.32, 0.24, 0.20, 0.19, 0.24, 0.38, 0.58, 0.78, 0.88, 0.93, 0.98,
     1.02, 1.00, 0.96, 0.95, 0.98, 1.03, 1.10, 1.20, 1.26, 1.20, 0.98, 0.70]
)  # fmt: skip

# User agents by (os, browser): a few versions each; a user keeps one.
_UA: dict[tuple[int, int, int], tuple[str, ...]] = {
    # (device_class, os, browser)
    (0, 0, 0): tuple(
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36"
        for v in (130, 131, 132)
    ),
    (0, 0, 3): tuple(
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0"
        for v in (130, 131)
    ),
    (0, 0, 2): tuple(
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
        for v in (132, 133)
    ),
    (0, 1, 0): tuple(
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
        f"Gecko) Chrome/{v}.0.0.0 Safari/537.36"
        for v in (131, 132)
    ),
    (0, 1, 1): tuple(
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        f"Gecko) Version/{v} Safari/605.1.15"
        for v in ("17.6", "18.1", "18.2")
    ),
    (0, 1, 2): (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    (0, 2, 0): (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (0, 2, 2): ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",),
    (1, 3, 0): tuple(
        f"Mozilla/5.0 (Linux; Android {a}; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Mobile Safari/537.36"
        for a, v in ((10, 131), (13, 131), (14, 132))
    ),
    (1, 3, 4): (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    ),
    (1, 3, 2): ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",),
    (1, 4, 1): tuple(
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        f"like Gecko) Version/{v.replace('_', '.')} Mobile/15E148 Safari/604.1"
        for v in ("17_6", "18_1", "18_2")
    ),
    (1, 4, 0): (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    ),
    (2, 3, 0): (
        "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (2, 3, 4): (
        "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Safari/537.36",
    ),
    (2, 4, 1): tuple(
        f"Mozilla/5.0 (iPad; CPU OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        f"Gecko) Version/{v.replace('_', '.')} Mobile/15E148 Safari/604.1"
        for v in ("17_6", "18_1")
    ),
    # In-app traffic: the SDK's web view user agent.
    (1, 3, 5): (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile "
        "Safari/537.36",
    ),
    (1, 4, 5): (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Mobile/15E148",
    ),
    (2, 3, 5): (
        "Mozilla/5.0 (Linux; Android 13; SM-X200 Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Safari/537.36",
    ),
    (2, 4, 5): (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148",
    ),
}
# (device_class, is_app) -> [(os, weight)], os -> [(browser, weight)] for web.
_OS_MIX = {
    (0, False): ((0, 0.70), (1, 0.26), (2, 0.04)),
    (1, False): ((3, 0.62), (4, 0.38)),
    (1, True): ((3, 0.62), (4, 0.38)),
    (2, False): ((3, 0.40), (4, 0.60)),
    (2, True): ((3, 0.40), (4, 0.60)),
}
_WEB_BROWSER_MIX = {
    (0, 0): ((0, 0.70), (3, 0.20), (2, 0.10)),
    (0, 1): ((0, 0.50), (1, 0.45), (2, 0.05)),
    (0, 2): ((0, 0.60), (2, 0.40)),
    (1, 3): ((0, 0.80), (4, 0.15), (2, 0.05)),
    (1, 4): ((1, 0.85), (0, 0.15)),
    (2, 3): ((0, 0.75), (4, 0.25)),
    (2, 4): ((1, 1.0),),
}


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
class World:
    """The static world; arrays are indexed by the codes documented per field."""

    config: WorldConfig
    # geography (index r over REGIONS, index c over COUNTRY_CODES)
    country_codes: tuple[str, ...]
    region_country: np.ndarray  # int16[r]
    region_offset_min: np.ndarray  # int32[r]
    region_share: np.ndarray  # float64[r], sums to 1 over all regions
    region_city_start: np.ndarray  # int32[r]: first index into city_names
    city_names: list[str]
    country_price: np.ndarray  # float64[c]
    country_ctr: np.ndarray  # float64[c]
    # publishers (index p)
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
    # placements (index k)
    plc_ids: list[str]
    plc_pub: np.ndarray  # int32[k]
    plc_size: np.ndarray  # int8[k] index into SIZES
    plc_visibility: np.ndarray  # int8[k] index into VISIBILITIES
    plc_floor_cpm: np.ndarray  # float64[k] base floor, USD CPM
    plc_ctr_effect: np.ndarray  # float64[k] (hidden)
    plc_by_pub_device: WeightedRows  # rows publisher * 3 + device class
    # users (index u), sorted by region so each region's users are contiguous
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


def _choice(rng: np.random.Generator, options: tuple[tuple[int, float], ...], n: int):
    values = np.array([o for o, _ in options])
    weights = np.array([w for _, w in options], dtype=float)
    return values[rng.choice(len(values), size=n, p=weights / weights.sum())]


def build_world(seed: int, config: WorldConfig | None = None) -> World:
    """The world of `seed`. Costs about 0.3 s for a million users."""
    config = config or WorldConfig()
    rng = world_rng(seed)

    # ---- geography ----
    country_codes = tuple(COUNTRIES)
    country_index = {c: i for i, c in enumerate(country_codes)}
    region_country = np.array([country_index[r.country] for r in REGIONS], dtype=np.int16)
    region_offset = np.array([r.utc_offset_min for r in REGIONS], dtype=np.int32)
    region_share = np.array([COUNTRIES[r.country][0] * r.share for r in REGIONS])
    region_share /= region_share.sum()
    city_names: list[str] = []
    region_city_start = np.zeros(len(REGIONS), dtype=np.int32)
    for i, region in enumerate(REGIONS):
        region_city_start[i] = len(city_names)
        city_names.extend(region.cities)
    region_n_cities = np.array([len(r.cities) for r in REGIONS], dtype=np.int32)
    country_price = np.array([COUNTRIES[c][1] for c in country_codes])
    country_ctr = np.array([COUNTRIES[c][2] for c in country_codes])

    # ---- publishers ----
    n_pub = config.n_publishers
    rank_weight = 1.0 / np.arange(1, n_pub + 1) ** config.zipf_exponent
    pub_is_app = rng.random(n_pub) >= config.site_share
    pub_category = np.where(
        pub_is_app,
        rng.choice(len(CATEGORIES), n_pub, p=APP_CATEGORY_WEIGHTS / APP_CATEGORY_WEIGHTS.sum()),
        rng.choice(len(CATEGORIES), n_pub, p=SITE_CATEGORY_WEIGHTS / SITE_CATEGORY_WEIGHTS.sum()),
    ).astype(np.int8)
    pub_ids = [f"pub-{i:05d}" for i in rng.permutation(n_pub) + 10_000]
    pub_name: list[str] = []
    per_category = dict.fromkeys(range(len(CATEGORIES)), 0)
    for p in range(n_pub):
        cat = int(pub_category[p])
        per_category[cat] += 1
        name = CATEGORIES[cat]
        k = per_category[cat]
        pub_name.append(f"com.example.{name}{k}" if pub_is_app[p] else f"{name}-{k}.example")
    n_exch = rng.choice([1, 2, 3], n_pub, p=[0.5, 0.3, 0.2]).astype(np.int8)
    pub_exchanges = np.full((n_pub, 3), -1, dtype=np.int8)
    for p in range(n_pub):
        pub_exchanges[p, : n_exch[p]] = rng.choice(
            len(EXCHANGES), n_exch[p], replace=False, p=EXCHANGE_WEIGHTS
        )
    pub_ctr_effect = rng.normal(0.0, 0.5, n_pub)
    # Click-bait inventory converts worse: post-click quality is anti-correlated with CTR.
    pub_cvr_effect = -0.3 * pub_ctr_effect + rng.normal(0.0, 0.3, n_pub)
    # Good inventory is priced up by the market; buyers who model CTR find the bargains.
    pub_price_effect = 0.4 * pub_ctr_effect + rng.normal(0.0, 0.2, n_pub)
    pub_by_kind = WeightedRows(
        pub_is_app.astype(np.int64), rank_weight, np.arange(n_pub, dtype=np.int32), 2
    )

    # ---- placements ----
    n_plc = rng.integers(1, 7, n_pub)
    plc_pub = np.repeat(np.arange(n_pub, dtype=np.int32), n_plc)
    first = np.zeros(len(plc_pub), dtype=bool)
    first[np.cumsum(n_plc) - n_plc] = True
    size_site = rng.choice(len(SIZES), len(plc_pub), p=SITE_SIZE_WEIGHTS)
    size_app = rng.choice(len(SIZES), len(plc_pub), p=APP_SIZE_WEIGHTS)
    plc_size = np.where(pub_is_app[plc_pub], size_app, size_site)
    plc_size[first] = 0
    plc_size = plc_size.astype(np.int8)
    slot_in_pub = np.arange(len(plc_pub)) - np.repeat(np.cumsum(n_plc) - n_plc, n_plc)
    plc_ids = [
        f"{pub_ids[p]}-s{s}" for p, s in zip(plc_pub.tolist(), slot_in_pub.tolist(), strict=True)
    ]
    plc_visibility = np.where(
        pub_is_app[plc_pub],
        rng.choice(3, len(plc_pub), p=[0.2, 0.1, 0.7]),
        rng.choice(3, len(plc_pub), p=[0.45, 0.45, 0.10]),
    ).astype(np.int8)
    plc_floor_cpm = np.round(np.exp(rng.normal(np.log(0.5), 0.6, len(plc_pub))), 2)
    plc_floor_cpm[rng.random(len(plc_pub)) < 0.25] = 0.01  # no real floor
    plc_floor_cpm[plc_size == 8] *= 5  # video floors
    plc_ctr_effect = rng.normal(0.0, 0.2, len(plc_pub))

    # Placements a publisher shows on each device class, the first slot the busiest.
    plc_k, plc_d = np.nonzero(SIZE_ON_DEVICE[plc_size])
    plc_by_pub_device = WeightedRows(
        plc_pub[plc_k].astype(np.int64) * 3 + plc_d,
        1.0 / (slot_in_pub[plc_k] + 1.0),
        plc_k.astype(np.int32),
        n_pub * 3,
    )

    # ---- users ----
    n_users = config.n_users
    user_region = np.sort(rng.choice(len(REGIONS), n_users, p=region_share)).astype(np.int16)
    user_country = region_country[user_region]
    phone_share = np.array([COUNTRIES[c][3] for c in country_codes])[user_country]
    u = rng.random(n_users)
    desktop_share = (1.0 - phone_share) * 0.8  # the rest are tablets
    device = np.where(u < desktop_share, 0, np.where(u < desktop_share + phone_share, 1, 2))
    is_app = (device > 0) & (rng.random(n_users) < 0.5)
    env = np.select(
        [device == 0, (device == 1) & ~is_app, device == 1, ~is_app], [0, 1, 2, 3], 4
    ).astype(np.int8)
    user_os = np.zeros(n_users, dtype=np.int8)
    user_browser = np.full(n_users, 5, dtype=np.int8)  # "app"
    for (d, app), mix in _OS_MIX.items():
        sel = np.flatnonzero((device == d) & (is_app == app))
        user_os[sel] = _choice(rng, mix, len(sel))
    for (d, os_code), mix in _WEB_BROWSER_MIX.items():
        sel = np.flatnonzero((device == d) & ~is_app & (user_os == os_code))
        user_browser[sel] = _choice(rng, mix, len(sel))
    user_agents: list[str] = []
    ua_range: dict[tuple[int, int, int], tuple[int, int]] = {}
    for key, agents in _UA.items():
        ua_range[key] = (len(user_agents), len(agents))
        user_agents.extend(agents)
    user_ua = np.zeros(n_users, dtype=np.int16)
    combo = device * 100 + user_os.astype(np.int64) * 10 + user_browser
    for (d, os_code, br), (lo, n) in ua_range.items():
        sel = np.flatnonzero(combo == d * 100 + os_code * 10 + br)
        user_ua[sel] = lo + rng.integers(0, n, len(sel))
    missing = sorted({int(c) for c in np.unique(combo)} - {d * 100 + o * 10 + b for d, o, b in _UA})
    if missing:  # a mix above produces a combination without user agents: a bug here
        raise AssertionError(f"no user agent for device/os/browser combinations {missing}")

    user_city = region_city_start[user_region] + (
        rng.random(n_users) * region_n_cities[user_region]
    ).astype(np.int32)
    octets = [np.array(COUNTRIES[c][4]) for c in country_codes]
    first_octet = np.zeros(n_users, dtype=np.uint32)
    for c, choices in enumerate(octets):
        sel = np.flatnonzero(user_country == c)
        first_octet[sel] = rng.choice(choices, len(sel))
    user_ip = (first_octet << 24) | (rng.integers(0, 1 << 16, n_users).astype(np.uint32) << 8)

    seg_bits = rng.random((n_users, len(SEGMENTS))) < SEGMENT_RATES
    user_segments = (seg_bits * (1 << np.arange(len(SEGMENTS), dtype=np.uint32))).sum(
        axis=1, dtype=np.uint32
    )
    user_key = rng.integers(1, np.iinfo(np.uint64).max, n_users, dtype=np.uint64)
    # Safari (ITP) and limited-ad-tracking devices reach the exchange without an id.
    no_id_rate = np.where(user_browser == 1, 0.55, np.where(env >= 2, 0.08, 0.05))
    no_id_rate = np.where(env == 2, 0.12, no_id_rate)
    user_key[rng.random(n_users) < no_id_rate] = 0
    user_ctr_effect = rng.normal(0.0, 0.4, n_users)
    user_cvr_effect = rng.normal(0.0, 0.3, n_users)
    # Heavy-tailed activity: a few users make many requests (recurring users, frequency).
    activity = rng.pareto(1.5, n_users) + 0.1
    user_by_region = WeightedRows(
        user_region.astype(np.int64), activity, np.arange(n_users, dtype=np.int32), len(REGIONS)
    )

    return World(
        config=config,
        country_codes=country_codes,
        region_country=region_country,
        region_offset_min=region_offset,
        region_share=region_share,
        region_city_start=region_city_start,
        city_names=city_names,
        country_price=country_price,
        country_ctr=country_ctr,
        pub_ids=pub_ids,
        pub_is_app=pub_is_app,
        pub_category=pub_category,
        pub_name=pub_name,
        pub_exchanges=pub_exchanges,
        pub_n_exchanges=n_exch,
        pub_ctr_effect=pub_ctr_effect,
        pub_cvr_effect=pub_cvr_effect,
        pub_price_effect=pub_price_effect,
        pub_by_kind=pub_by_kind,
        plc_ids=plc_ids,
        plc_pub=plc_pub,
        plc_size=plc_size,
        plc_visibility=plc_visibility,
        plc_floor_cpm=plc_floor_cpm,
        plc_ctr_effect=plc_ctr_effect,
        plc_by_pub_device=plc_by_pub_device,
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
        user_by_region=user_by_region,
        user_agents=user_agents,
    )
