"""The data the world is drawn from: vocabularies, geography, mixes and distributions.

Constant tables only (no randomness, nothing per seed): the values of the contract's
categorical fields, the countries and regions with their traffic shares, the slot sizes
and where they show, user agents by device/OS/browser and the mixes users are drawn
with. `simulator.world.build_world` draws a seed's world from them; the exchange, the
market, the truth and the renderers look codes up in them.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# User agents by (device class, OS, browser): a few versions each; a user keeps one.
USER_AGENTS: dict[tuple[int, int, int], tuple[str, ...]] = {
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
# The OS mix of users by (device class, is app): ((OS, weight), ...).
OS_MIX: dict[tuple[int, bool], tuple[tuple[int, float], ...]] = {
    (0, False): ((0, 0.70), (1, 0.26), (2, 0.04)),
    (1, False): ((3, 0.62), (4, 0.38)),
    (1, True): ((3, 0.62), (4, 0.38)),
    (2, False): ((3, 0.40), (4, 0.60)),
    (2, True): ((3, 0.40), (4, 0.60)),
}
# The browser mix of web users by (device class, OS): ((browser, weight), ...); app users
# browse with "app".
WEB_BROWSER_MIX: dict[tuple[int, int], tuple[tuple[int, float], ...]] = {
    (0, 0): ((0, 0.70), (3, 0.20), (2, 0.10)),
    (0, 1): ((0, 0.50), (1, 0.45), (2, 0.05)),
    (0, 2): ((0, 0.60), (2, 0.40)),
    (1, 3): ((0, 0.80), (4, 0.15), (2, 0.05)),
    (1, 4): ((1, 0.85), (0, 0.15)),
    (2, 3): ((0, 0.75), (4, 0.25)),
    (2, 4): ((1, 1.0),),
}

# ---- Inventory mixes ----

# How many exchanges a publisher sells through (distinct ones, by EXCHANGE_WEIGHTS).
EXCHANGES_PER_PUBLISHER = (1, 2, 3)
EXCHANGES_PER_PUBLISHER_WEIGHTS = (0.5, 0.3, 0.2)
MAX_PLACEMENTS_PER_PUBLISHER = 6
# Slot visibility, index into VISIBILITIES: apps mostly do not say.
SITE_VISIBILITY_WEIGHTS = (0.45, 0.45, 0.10)
APP_VISIBILITY_WEIGHTS = (0.2, 0.1, 0.7)
