"""The campaign book's types and its JSON format: budgets, goals, targeting, creatives.

The book itself lives in a database (bidlake.campaign_book, docs/campaigns.md); this module
is its import/export format, the same shape as the packaged `campaigns.json` (which seeds a
new database, as does the file `BIDLAKE_CAMPAIGNS` points at). `campaign_document()`
validates one campaign and puts it in canonical form (every field, in the file's order);
every problem is a `CampaignConfigError` that names the field, e.g.
`campaigns[1].goal: must be one of ('cpc', 'cpa'), got 'cpm'`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("campaigns.json")
GOALS = ("cpc", "cpa")
ACTIVE, PAUSED = "active", "paused"
STATUSES = (ACTIVE, PAUSED)
# The fields of a campaign in the JSON format, in the order the file (and export) has them.
FIELDS = (
    "campaign_id",
    "advertiser_id",
    "name",
    "goal",
    "goal_micros",
    "max_bid_cpm_micros",
    "daily_budget_micros",
    "frequency_cap_per_day",
    "creatives",
    "adomain",
    "targeting",
    "categories",
    "status",  # written only when not "active", so the packaged book round-trips as is
)
CREATIVE_FIELDS = ("creative_id", "width", "height", "format")
TARGETING_FIELDS = ("countries", "device_types", "hours", "blocked_domains")
MAX_ID_LENGTH = 64  # ids are keys in the database (bidlake.campaign_book.model)


@dataclass(frozen=True)
class Creative:
    creative_id: str
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class Targeting:
    countries: frozenset[str]  # empty = any
    device_types: frozenset[str]  # empty = any
    hours: frozenset[int]  # UTC hours of day; empty = any
    blocked_domains: frozenset[str]

    def matches(self, country: str, device_type: str, hour: int, domain: str) -> bool:
        return (
            (not self.countries or country in self.countries)
            and (not self.device_types or device_type in self.device_types)
            and (not self.hours or hour in self.hours)
            and domain not in self.blocked_domains
        )


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    advertiser_id: str
    name: str
    goal: str  # "cpc" or "cpa"
    goal_micros: int  # what the advertiser pays per click (cpc) or conversion (cpa)
    max_bid_cpm_micros: int
    daily_budget_micros: int
    frequency_cap_per_day: int
    creatives: tuple[Creative, ...]
    adomain: tuple[str, ...]
    targeting: Targeting
    # IAB content categories of the ads (OpenRTB `cat`), matched against a request's `bcat`.
    categories: tuple[str, ...] = ()
    status: str = ACTIVE  # "paused": kept in the book, never bid

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def creative_for(self, width: int, height: int) -> Creative | None:
        for creative in self.creatives:
            if creative.width == width and creative.height == height:
                return creative
        return None


class CampaignConfigError(ValueError):
    """A campaign (or book) the platform refuses; the message starts with where and which
    field, and `field` holds that field's path (e.g. "targeting.hours[2]")."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _fail(where: str, field: str, problem: str) -> CampaignConfigError:
    return CampaignConfigError(
        f"{where}.{field}: {problem}" if field else f"{where}: {problem}", field
    )


def _text(value: object, where: str, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        return _raise(_fail(where, field, f"must be a non-empty string, got {value!r}"))
    if field.endswith("_id") and len(value) > MAX_ID_LENGTH:
        return _raise(_fail(where, field, f"must be at most {MAX_ID_LENGTH} characters"))
    return value


def _integer(value: object, where: str, field: str, *, minimum: int) -> int:
    """An integer (also an integral float such as 5e8, or a string of digits)."""
    number: int | None = None
    integral_float = isinstance(value, float) and value.is_integer()
    digits = isinstance(value, str) and value.strip().lstrip("-").isdigit()
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif integral_float or digits:
        number = int(value)  # type: ignore[call-overload]
    if number is None or number < minimum:
        bound = "> 0" if minimum == 1 else f">= {minimum}"
        return _raise(_fail(where, field, f"must be an integer {bound}, got {value!r}"))
    return number


def _texts(value: object, where: str, field: str) -> list[str]:
    if not isinstance(value, list):
        return _raise(_fail(where, field, f"must be a list of strings, got {value!r}"))
    return [_text(v, where, f"{field}[{i}]") for i, v in enumerate(value)]


def _raise(error: CampaignConfigError) -> Any:
    raise error


def campaign_document(raw: object, where: str = "campaign", *, strict: bool = False) -> dict:
    """`raw` (a campaign of the JSON format) validated and in canonical form: every field
    present (defaults filled in), in the order of FIELDS, lists as given. `strict` also
    refuses unknown fields (a typo such as "daily_budget" must not be dropped silently).
    Raises CampaignConfigError naming `where` and the field."""
    if not isinstance(raw, dict):
        raise _fail(where, "", f"a campaign must be a JSON object, got {type(raw).__name__}")
    if strict:
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise _fail(where, unknown[0], f"unknown field (a campaign has {', '.join(FIELDS)})")
    for name in ("campaign_id", "advertiser_id", "goal", "goal_micros", "max_bid_cpm_micros"):
        if name not in raw:
            raise _fail(where, name, "is required")
    if "daily_budget_micros" not in raw:
        raise _fail(where, "daily_budget_micros", "is required")
    campaign_id = _text(raw["campaign_id"], where, "campaign_id")
    doc: dict[str, Any] = {
        "campaign_id": campaign_id,
        "advertiser_id": _text(raw["advertiser_id"], where, "advertiser_id"),
        "name": _text(raw.get("name", campaign_id), where, "name"),
    }
    goal = raw["goal"]
    if goal not in GOALS:
        raise _fail(where, "goal", f"must be one of {GOALS}, got {goal!r}")
    doc["goal"] = goal
    for name in ("goal_micros", "max_bid_cpm_micros", "daily_budget_micros"):
        doc[name] = _integer(raw[name], where, name, minimum=1)
    doc["frequency_cap_per_day"] = _integer(
        raw.get("frequency_cap_per_day", 0), where, "frequency_cap_per_day", minimum=0
    )
    creatives = raw.get("creatives")
    if not isinstance(creatives, list) or not creatives:
        raise _fail(where, "creatives", f"must be a non-empty list, got {creatives!r}")
    doc["creatives"] = []
    for i, creative in enumerate(creatives):
        field = f"creatives[{i}]"
        if not isinstance(creative, dict):
            raise _fail(where, field, f"must be an object, got {creative!r}")
        unknown = sorted(set(creative) - set(CREATIVE_FIELDS))
        if unknown:
            raise _fail(
                where,
                f"{field}.{unknown[0]}",
                f"unknown field (a creative has {', '.join(CREATIVE_FIELDS)})",
            )
        for name in CREATIVE_FIELDS:
            if name not in creative:
                raise _fail(where, f"{field}.{name}", "is required")
        doc["creatives"].append(
            {
                "creative_id": _text(creative["creative_id"], where, f"{field}.creative_id"),
                "width": _integer(creative["width"], where, f"{field}.width", minimum=1),
                "height": _integer(creative["height"], where, f"{field}.height", minimum=1),
                "format": _text(creative["format"], where, f"{field}.format"),
            }
        )
    ids = [c["creative_id"] for c in doc["creatives"]]
    if len(set(ids)) != len(ids):
        raise _fail(where, "creatives", f"creative_id must be unique within a campaign: {ids}")
    doc["adomain"] = _texts(raw.get("adomain", []), where, "adomain")
    targeting = raw.get("targeting", {})
    if not isinstance(targeting, dict):
        raise _fail(where, "targeting", f"must be an object, got {targeting!r}")
    unknown = sorted(set(targeting) - set(TARGETING_FIELDS))
    if unknown:
        raise _fail(
            where,
            f"targeting.{unknown[0]}",
            f"unknown field (targeting has {', '.join(TARGETING_FIELDS)})",
        )
    hours = targeting.get("hours", [])
    if not isinstance(hours, list):
        raise _fail(where, "targeting.hours", f"must be a list of UTC hours 0-23, got {hours!r}")
    checked_hours = []
    for i, hour in enumerate(hours):
        h = _integer(hour, where, f"targeting.hours[{i}]", minimum=0)
        if h > 23:
            raise _fail(where, f"targeting.hours[{i}]", f"must be a UTC hour 0-23, got {hour!r}")
        checked_hours.append(h)
    doc["targeting"] = {
        "countries": _texts(targeting.get("countries", []), where, "targeting.countries"),
        "device_types": _texts(targeting.get("device_types", []), where, "targeting.device_types"),
        "hours": checked_hours,
        "blocked_domains": _texts(
            targeting.get("blocked_domains", []), where, "targeting.blocked_domains"
        ),
    }
    doc["categories"] = _texts(raw.get("categories", []), where, "categories")
    status = raw.get("status", ACTIVE)
    if status not in STATUSES:
        raise _fail(where, "status", f"must be one of {STATUSES}, got {status!r}")
    if status != ACTIVE:
        doc["status"] = status
    return doc


def campaign_from_document(doc: dict) -> Campaign:
    """The Campaign of a canonical document (`campaign_document`'s result)."""
    targeting = doc["targeting"]
    return Campaign(
        campaign_id=doc["campaign_id"],
        advertiser_id=doc["advertiser_id"],
        name=doc["name"],
        goal=doc["goal"],
        goal_micros=doc["goal_micros"],
        max_bid_cpm_micros=doc["max_bid_cpm_micros"],
        daily_budget_micros=doc["daily_budget_micros"],
        frequency_cap_per_day=doc["frequency_cap_per_day"],
        creatives=tuple(Creative(**c) for c in doc["creatives"]),
        adomain=tuple(doc["adomain"]),
        categories=tuple(doc["categories"]),
        targeting=Targeting(
            countries=frozenset(targeting["countries"]),
            device_types=frozenset(targeting["device_types"]),
            hours=frozenset(targeting["hours"]),
            blocked_domains=frozenset(targeting["blocked_domains"]),
        ),
        status=doc.get("status", ACTIVE),
    )


def _campaign(raw: dict, where: str) -> Campaign:
    return campaign_from_document(campaign_document(raw, where))


@dataclass(frozen=True)
class BookFile:
    """A whole book in the JSON format: its currency, its comment and its campaigns."""

    currency: str
    comment: str
    campaigns: tuple[dict, ...]  # canonical documents, in the file's order

    def to_json(self) -> str:
        """The file's text: what `bidlake campaigns export` writes (2-space indent)."""
        doc: dict[str, Any] = {}
        if self.comment:
            doc["_comment"] = self.comment
        doc["currency"] = self.currency
        doc["campaigns"] = list(self.campaigns)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def parse_book(data: object, where: str, *, strict: bool = False) -> BookFile:
    """A book from its parsed JSON, every campaign validated (`campaign_document`)."""
    if not isinstance(data, dict) or not isinstance(data.get("campaigns"), list):
        raise CampaignConfigError(f'{where}: a book is an object with a list "campaigns"')
    currency = data.get("currency", "USD")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise _fail(where, "currency", f"must be an ISO 4217 code, got {currency!r}")
    comment = data.get("_comment", "")
    if not isinstance(comment, str):
        raise _fail(where, "_comment", f"must be a string, got {comment!r}")
    campaigns = tuple(
        campaign_document(raw, f"{where}: campaigns[{i}]", strict=strict)
        for i, raw in enumerate(data["campaigns"])
    )
    seen: set[str] = set()
    for i, doc in enumerate(campaigns):
        if doc["campaign_id"] in seen:
            raise CampaignConfigError(
                f"{where}: campaigns[{i}].campaign_id: duplicate campaign_id "
                f"{doc['campaign_id']!r}",
                "campaign_id",
            )
        seen.add(doc["campaign_id"])
    return BookFile(currency, comment, campaigns)


def read_book(path: Path | None = None, *, strict: bool = False) -> BookFile:
    """The book file at `path` (default: $BIDLAKE_CAMPAIGNS, else the packaged one)."""
    path = Path(path or os.environ.get("BIDLAKE_CAMPAIGNS") or DEFAULT_PATH)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CampaignConfigError(f"{path}: cannot read the book: {exc}") from exc
    return parse_book(data, str(path), strict=strict)


def load_campaigns(path: Path | None = None) -> tuple[Campaign, ...]:
    """The campaigns of a book file (default: $BIDLAKE_CAMPAIGNS, else the packaged one)."""
    return tuple(campaign_from_document(doc) for doc in read_book(path).campaigns)
