"""The feature spec: the one contract between training and the bidder's scorer.

A model sees a bid opportunity as a set of *tokens*, each hashed into one of `2**hash_bits`
buckets (hashed one-hot encoding, value 1 per token; two tokens in one bucket add up).
Both sides compute the tokens with this module, from a raw mapping whose keys are the
bid_request event's column names plus `campaign_id` and `creative_id` (`RAW_FIELDS`), so a
feature cannot mean one thing in training and another in the bidder.

Tokens
    A *feature* turns one or more raw fields into zero or more value strings with one of a
    few fixed transforms (`TRANSFORMS`); a *cross* combines features: its values are the
    cartesian product of its components' values joined by "\\x1e". A token is the bytes
    ``utf8(name) + b"\\x1f" + utf8(value)`` where `name` is the feature's name or, for a
    cross, the component names joined by "*".

Hash
    ``index = zlib.crc32(token) & (2**hash_bits - 1)``. CRC-32 (IEEE, as zlib) is in the
    standard library of every language the bidder could be rewritten in, is stable across
    processes and versions (unlike Python's `hash()`), and zlib.crc32 accepts a running
    value, so ``crc32(value, crc32(name + b"\\x1f"))`` equals the hash of the whole token:
    the prefix is hashed once per feature, not once per request. Its output is not
    cryptographic, which does not matter here: collisions only merge two weights.

Values
    Missing (or null) fields take the contract's proto3 defaults ("" for strings, 0 for integers,
    [] for lists), so a bidder that omits a default-valued field scores exactly like the
    warehouse row that stored the default. Integers (and integral floats) are written in
    decimal. A list field (user_segments) yields its distinct non-null values, sorted, at most
    `max_list_values` of them, or the single value "" when empty ("no segments" is a signal).

Leakage
    Only bid-time fields are accepted (`RAW_FIELDS`); a spec naming anything else — a
    clearing price, a click time, a label — is refused when it is built or loaded.

The spec is stored inside every model artifact (`to_dict` / `from_dict`), so a model is
scored with the spec it was trained with; `default_spec()` is what new models train with.
This module is pure Python (no numpy) because it runs on the bidder's hot path.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

HASH_FUNCTION = "crc32"  # the only one; named in the artifact so a reader can refuse others
NAME_SEP = "\x1f"  # between a token's name and its value
CROSS_SEP = "\x1e"  # between the component values of a cross (and joined inputs)
CROSS_NAME_SEP = "*"

# Bid-time raw fields a feature may read, with their proto3 kind: the bid_request event's
# columns the feature marts carry, plus the campaign and creative the bidder is pricing.
# The one list of them: the bidder scores and training reads exactly these, the feature
# marts carry them in this order (docs/interfaces.md), and the dbt macro that selects them
# (dbt_project/macros/features.sql, which cannot import Python) and the marts' contracts
# are checked against it by tests/ml/test_features.py. Anything known only after the
# auction (clearing price, impression/click/conversion times, labels) or decided from the
# model's own output (bid price, pctr, no_bid_reason) must never be here: the same test
# checks this list against the event contract.
RAW_FIELDS: dict[str, str] = {
    "exchange": "str",
    "publisher_id": "str",
    "site_domain": "str",
    "app_bundle": "str",
    "placement_id": "str",
    "ad_format": "str",
    "ad_width": "int",
    "ad_height": "int",
    "slot_visibility": "str",
    "device_type": "str",
    "os": "str",
    "browser": "str",
    "country": "str",
    "region": "str",
    "city": "str",
    "user_hour": "int",
    "bidfloor_micros": "int",
    "user_segments": "list",
    "campaign_id": "str",
    "creative_id": "str",
}
DEFAULTS: dict[str, object] = {"str": "", "int": 0, "list": ()}


class FeatureSpecError(ValueError):
    """A feature spec that is malformed or reads a field it must not."""


def text(value: object) -> str:
    """A scalar raw value as the string that gets hashed (None -> "", 7 / 7.0 -> "7")."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int):  # bool is an int: True -> "1", as proto3 JSON would count it
        return str(int(value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise TypeError(f"feature value must be str, int, float or None, got {type(value).__name__}")


# ---- transforms: raw input values -> value strings of one feature ----------------------
# Each takes the feature's parameter and the tuple of its input values (defaults filled).
# Changing what one returns changes every model trained with it: add a new transform
# instead, and keep the old one for artifacts that name it.


def _t_value(_param: int, values: tuple) -> list[str]:
    return [text(values[0])]


def _t_join(_param: int, values: tuple) -> list[str]:
    return [CROSS_SEP.join(text(v) for v in values)]


def _t_size(_param: int, values: tuple) -> list[str]:
    return [f"{text(values[0])}x{text(values[1])}"]


def _t_inventory(_param: int, values: tuple) -> list[str]:
    # Web and app inventory never share a name space: a bundle "news.com" is not the site.
    domain, bundle = text(values[0]), text(values[1])
    return ["app:" + bundle] if bundle else ["site:" + domain]


def _t_log2(param: int, values: tuple) -> list[str]:
    # Power-of-two buckets of value // param: floors span 4 orders of magnitude and CTR
    # moves with their logarithm, not linearly.
    return [str((max(int(values[0]), 0) // param).bit_length())]


def _t_set(param: int, values: tuple) -> list[str]:
    distinct = sorted({text(v) for v in values[0] if v is not None})
    return distinct[:param] if distinct else [""]


TRANSFORMS: dict[str, Callable[[int, tuple], list[str]]] = {
    "value": _t_value,
    "join": _t_join,
    "size": _t_size,
    "inventory": _t_inventory,
    "log2": _t_log2,
    "set": _t_set,
}
_ARITY: dict[str, int | None] = {
    "value": 1,
    "join": None,
    "size": 2,
    "inventory": 2,
    "log2": 1,
    "set": 1,
}


@dataclass(frozen=True)
class Feature:
    """One feature: `transform` applied to the raw fields `inputs`."""

    name: str
    transform: str
    inputs: tuple[str, ...]
    param: int = 0  # log2: the unit divided by before bucketing; set: the cap on values

    @property
    def is_list(self) -> bool:
        return self.transform == "set"

    def values(self, raw: Mapping[str, object]) -> list[str]:
        """The value strings of this feature for one raw row."""
        return TRANSFORMS[self.transform](self.param, with_defaults(self.inputs, raw))


def with_defaults(fields: tuple[str, ...], raw: Mapping[str, object]) -> tuple:
    """The values of `fields` in `raw`, absent or None ones replaced by their default."""
    out = []
    for name in fields:
        value = raw.get(name)
        out.append(DEFAULTS[RAW_FIELDS[name]] if value is None else value)
    return tuple(out)


def _prefix_crc(name: str) -> int:
    return zlib.crc32((name + NAME_SEP).encode("utf-8"))


@dataclass(frozen=True)
class FeatureSpec:
    """Features, crosses and the hash: everything that maps a raw row to indices."""

    features: tuple[Feature, ...]
    crosses: tuple[tuple[str, ...], ...] = ()
    hash_bits: int = 20
    hash_function: str = HASH_FUNCTION
    _by_name: dict[str, Feature] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.hash_function != HASH_FUNCTION:
            raise FeatureSpecError(f"unknown hash function {self.hash_function!r}")
        if not 8 <= self.hash_bits <= 30:
            raise FeatureSpecError(f"hash_bits must be in 8..30, got {self.hash_bits}")
        by_name: dict[str, Feature] = {}
        for feature in self.features:
            _check_feature(feature)
            if feature.name in by_name:
                raise FeatureSpecError(f"feature {feature.name!r} is defined twice")
            by_name[feature.name] = feature
        seen: set[tuple[str, ...]] = set()
        for cross in self.crosses:
            if len(cross) < 2:
                raise FeatureSpecError(f"cross {cross!r} needs at least two features")
            for name in cross:
                if name not in by_name:
                    raise FeatureSpecError(f"cross {cross!r} names unknown feature {name!r}")
            if sum(by_name[name].is_list for name in cross) > 1:
                # Two list features would multiply into |a|*|b| tokens per request.
                raise FeatureSpecError(f"cross {cross!r} has more than one list feature")
            if cross in seen:
                raise FeatureSpecError(f"cross {cross!r} is defined twice")
            seen.add(cross)
        object.__setattr__(self, "_by_name", by_name)

    @property
    def num_buckets(self) -> int:
        return 1 << self.hash_bits

    @property
    def mask(self) -> int:
        return (1 << self.hash_bits) - 1

    @property
    def raw_fields(self) -> tuple[str, ...]:
        """The raw fields this spec reads, in first-use order."""
        out: dict[str, None] = {}
        for feature in self.features:
            out.update(dict.fromkeys(feature.inputs))
        return tuple(out)

    def feature(self, name: str) -> Feature:
        return self._by_name[name]

    @staticmethod
    def cross_name(cross: Sequence[str]) -> str:
        return CROSS_NAME_SEP.join(cross)

    def token_names(self) -> list[str]:
        """Every token name (features, then crosses), in the order indices() emits them."""
        return [f.name for f in self.features] + [self.cross_name(c) for c in self.crosses]

    def index(self, name: str, value: str) -> int:
        """The bucket of one token (a feature or cross name and its value string)."""
        return zlib.crc32(value.encode("utf-8"), _prefix_crc(name)) & self.mask

    def tokens(self, raw: Mapping[str, object]) -> list[tuple[str, str]]:
        """(name, value) of every token of one raw row: the readable form of indices()."""
        values = {f.name: f.values(raw) for f in self.features}
        out = [(f.name, v) for f in self.features for v in values[f.name]]
        for cross in self.crosses:
            name = self.cross_name(cross)
            out += [(name, CROSS_SEP.join(combo)) for combo in product(*(values[c] for c in cross))]
        return out

    def indices(self, raw: Mapping[str, object]) -> list[int]:
        """Hashed one-hot indices of one raw row (repeats possible: they add up).

        The reference implementation: training's columnar encoder and the scorer's
        memoized path are tested against it.
        """
        return [self.index(name, value) for name, value in self.tokens(raw)]

    # ---- (de)serialization: the spec travels inside each model artifact ----------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash_function": self.hash_function,
            "hash_bits": self.hash_bits,
            "name_separator": NAME_SEP,
            "cross_separator": CROSS_SEP,
            "features": [
                {
                    "name": f.name,
                    "transform": f.transform,
                    "inputs": list(f.inputs),
                    "param": f.param,
                }
                for f in self.features
            ],
            "crosses": [list(c) for c in self.crosses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        try:
            if data.get("name_separator", NAME_SEP) != NAME_SEP or (
                data.get("cross_separator", CROSS_SEP) != CROSS_SEP
            ):
                raise FeatureSpecError("token separators differ from this scorer's")
            return cls(
                features=tuple(
                    Feature(
                        name=str(f["name"]),
                        transform=str(f["transform"]),
                        inputs=tuple(str(i) for i in f["inputs"]),
                        param=int(f.get("param", 0)),
                    )
                    for f in data["features"]
                ),
                crosses=tuple(tuple(str(n) for n in c) for c in data.get("crosses", ())),
                hash_bits=int(data["hash_bits"]),
                hash_function=str(data["hash_function"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise FeatureSpecError(f"malformed feature spec: {exc!r}") from exc


def _check_feature(feature: Feature) -> None:
    if not feature.name or NAME_SEP in feature.name or CROSS_NAME_SEP in feature.name:
        raise FeatureSpecError(f"bad feature name {feature.name!r}")
    if feature.transform not in TRANSFORMS:
        raise FeatureSpecError(
            f"feature {feature.name!r}: unknown transform {feature.transform!r}; "
            f"known: {sorted(TRANSFORMS)}"
        )
    for name in feature.inputs:
        if name not in RAW_FIELDS:
            raise FeatureSpecError(
                f"feature {feature.name!r} reads {name!r}, which is not a bid-time field "
                f"(allowed: {sorted(RAW_FIELDS)})"
            )
    arity = _ARITY[feature.transform]
    if (arity is not None and len(feature.inputs) != arity) or not feature.inputs:
        raise FeatureSpecError(
            f"feature {feature.name!r}: transform {feature.transform!r} takes "
            f"{arity or 'one or more'} inputs, got {len(feature.inputs)}"
        )
    list_inputs = [n for n in feature.inputs if RAW_FIELDS[n] == "list"]
    if feature.is_list != bool(list_inputs):
        raise FeatureSpecError(
            f"feature {feature.name!r}: list fields need the 'set' transform and it needs one"
        )
    if feature.transform in ("log2", "set") and feature.param <= 0:
        raise FeatureSpecError(f"feature {feature.name!r}: {feature.transform} needs param > 0")


def _f(name: str, transform: str, *inputs: str, param: int = 0) -> Feature:
    return Feature(name=name, transform=transform, inputs=inputs, param=param)


def default_spec(hash_bits: int = 20) -> FeatureSpec:
    """The spec new models train with.

    Single features are the usual display-advertising set (iPinYou's fields). Crosses add
    what a linear model cannot see alone: a slot size's CTR depends on the device it is
    shown on; a placement id means something only with its publisher; a campaign's
    creative and offer do better on some inventory, hours, devices and audiences than
    others. 2**20 buckets keep collisions rare at hundreds of thousands of distinct
    tokens while the dense weight table of a model stays a few MB.
    """
    features = (
        _f("exchange", "value", "exchange"),
        _f("publisher", "value", "publisher_id"),
        _f("inventory", "inventory", "site_domain", "app_bundle"),
        _f("placement", "value", "placement_id"),
        _f("ad_format", "value", "ad_format"),
        _f("ad_size", "size", "ad_width", "ad_height"),
        _f("visibility", "value", "slot_visibility"),
        _f("device", "value", "device_type"),
        _f("os", "value", "os"),
        _f("browser", "value", "browser"),
        _f("country", "value", "country"),
        _f("region", "join", "country", "region"),
        _f("city", "join", "country", "region", "city"),
        _f("hour", "value", "user_hour"),
        _f("floor", "log2", "bidfloor_micros", param=10_000),  # 1 cent CPM units
        _f("segment", "set", "user_segments", param=32),
        _f("campaign", "value", "campaign_id"),
        _f("creative", "value", "creative_id"),
    )
    crosses = (
        ("device", "ad_size"),
        ("publisher", "placement"),
        ("campaign", "inventory"),
        ("hour", "device"),
        ("campaign", "device"),
        ("campaign", "segment"),
        ("creative", "ad_size"),
    )
    return FeatureSpec(features=features, crosses=crosses, hash_bits=hash_bits)
