"""Synthetic feature marts drawn from a known logistic truth (tests and benchmarks).

Rows have the columns of `ftr_ctr_training` / `ftr_cvr_training` (docs/interfaces.md) and the
simulator's truth table (bid_id, p_click, p_conversion), so training, evaluation and the
oracle comparison run end to end without the simulator, dbt or the warehouse. The true
logit is a sum of effects the default feature spec can represent (publisher, placement
within publisher, device × size, hour × device, campaign × inventory, campaign ×
segment, country, floor), so a well-trained model should approach the oracle's AUC and
calibration; how close is what tests/ml/test_train.py checks.

Conversions are observed only if they happen before the newest data: a click younger
than the 7-day attribution window has `is_label_mature` false and may still miss its
conversion, which is why training must not use immature rows as negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAY_MS = 86_400_000
ATTRIBUTION_MS = 7 * DAY_MS

EXCHANGES = ("adx", "xandr", "magnite", "openx")
DEVICES = ("desktop", "phone", "tablet")
OSES = ("windows", "android", "ios")
BROWSERS = ("chrome", "safari", "app")
SIZES = ((300, 250), (728, 90), (320, 50), (160, 600), (320, 480))
FORMATS = ("banner", "banner", "banner", "banner", "video")
VISIBILITIES = ("above_fold", "below_fold", "unknown")
COUNTRIES = (("US", ("CA", "NY", "TX")), ("GB", ("ENG", "SCT")), ("DE", ("BY", "BE")))
SEGMENTS = tuple(f"seg-{i:02d}" for i in range(20))
SEGMENT_RATES = np.linspace(0.25, 0.02, len(SEGMENTS))


@dataclass(frozen=True)
class Synthetic:
    ctr: pa.Table  # ftr_ctr_training
    cvr: pa.Table  # ftr_cvr_training
    truth: pa.Table  # bid_id, p_click, p_conversion (one row per impression)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_marts(
    n: int,
    *,
    days: int = 4,
    seed: int = 0,
    start: str = "2025-01-01",
    ctr_base_logit: float = -5.0,
    cvr_base_logit: float = -2.5,
    n_publishers: int = 300,
    n_campaigns: int = 6,
) -> Synthetic:
    """`n` impressions spread uniformly over `days` UTC days from `start`."""
    rng = np.random.default_rng(seed)
    start_ms = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp() * 1000)
    end_ms = start_ms + days * DAY_MS
    t = np.sort(rng.integers(start_ms, end_ms, n))

    # Inventory: Zipf-popular publishers, each a site or an app with 1-4 placements.
    pub_weights = 1.0 / np.arange(1, n_publishers + 1) ** 1.1
    pub = rng.choice(n_publishers, n, p=pub_weights / pub_weights.sum())
    pub_is_app = rng.random(n_publishers) < 0.3
    pub_exchange = rng.integers(0, len(EXCHANGES), n_publishers)
    placements = rng.integers(1, 5, n_publishers)
    plc = (rng.random(n) * placements[pub]).astype(np.int64)
    plc_size = rng.integers(0, len(SIZES), (n_publishers, 4))
    plc_vis = rng.integers(0, len(VISIBILITIES), (n_publishers, 4))
    size = plc_size[pub, plc]
    device = rng.choice(3, n, p=[0.4, 0.45, 0.15])
    country = rng.choice(len(COUNTRIES), n, p=[0.6, 0.25, 0.15])
    region = (rng.random(n) * np.array([len(r) for _, r in COUNTRIES])[country]).astype(int)
    offsets = np.array([-6, 0, 1])[country]
    hour = ((t // 3_600_000) % 24 + offsets) % 24
    floor = np.round(np.exp(rng.normal(np.log(300_000), 0.8, n)), -3).astype(np.int64)
    campaign = rng.integers(0, n_campaigns, n)
    creative = campaign * 2 + rng.integers(0, 2, n)
    seg_mask = rng.random((n, len(SEGMENTS))) < SEGMENT_RATES

    # The truth: effects the feature spec can represent.
    logit = np.full(n, float(ctr_base_logit))
    logit += rng.normal(0, 0.5, n_publishers)[pub]
    logit += rng.normal(0, 0.3, (n_publishers, 4))[pub, plc]
    logit += rng.normal(0, 0.4, (3, len(SIZES)))[device, size]
    logit += (0.3 * np.sin(2 * np.pi * np.arange(24) / 24)[:, None] * [1, 0.5, -0.5])[hour, device]
    logit += rng.normal(0, 0.3, (n_campaigns, n_publishers))[campaign, pub]
    logit += (seg_mask * rng.normal(0, 0.3, (n_campaigns, len(SEGMENTS)))[campaign]).sum(axis=1)
    logit += np.array([0.0, 0.2, -0.2])[country]
    logit += -0.15 * np.log2(np.maximum(floor, 10_000) / 100_000)
    p_click = _sigmoid(logit)
    clicked = rng.random(n) < p_click

    cvr_logit = np.full(n, float(cvr_base_logit))
    cvr_logit += rng.normal(0, 0.5, n_campaigns)[campaign]
    cvr_logit += rng.normal(0, 0.4, (n_campaigns, 3))[campaign, device]
    cvr_logit += (seg_mask * rng.normal(0, 0.4, (n_campaigns, len(SEGMENTS)))[campaign]).sum(axis=1)
    cvr_logit += rng.normal(0, 0.3, n_publishers)[pub]
    p_conversion = _sigmoid(cvr_logit)

    ids = np.char.add("b", np.arange(n).astype(str))
    counts = seg_mask.sum(axis=1)
    offsets_arr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    seg_values = pa.array(SEGMENTS).take(pa.array(np.nonzero(seg_mask)[1]))
    segments = pa.ListArray.from_arrays(pa.array(offsets_arr), seg_values)
    pub_names = np.array([f"pub{i}" for i in range(n_publishers)])
    domain = np.where(pub_is_app[pub], "", np.char.add(pub_names[pub], ".com"))
    bundle = np.where(pub_is_app[pub], np.char.add("com.", pub_names[pub]), "")
    features = {
        "exchange": np.array(EXCHANGES)[pub_exchange[pub]],
        "publisher_id": pub_names[pub],
        "site_domain": domain,
        "app_bundle": bundle,
        "placement_id": np.char.add("plc", plc.astype(str)),
        "ad_format": np.array(FORMATS)[size],
        "ad_width": pa.array(np.array([w for w, _ in SIZES], dtype=np.int32)[size]),
        "ad_height": pa.array(np.array([h for _, h in SIZES], dtype=np.int32)[size]),
        "slot_visibility": np.array(VISIBILITIES)[plc_vis[pub, plc]],
        "device_type": np.array(DEVICES)[device],
        "os": np.where(device == 0, "windows", np.array(OSES)[1 + (pub % 2)]),
        "browser": np.where(pub_is_app[pub], "app", np.array(BROWSERS)[device % 2]),
        "country": np.array([c for c, _ in COUNTRIES])[country],
        "region": np.array([r[i] if i < len(r) else "" for c, r in COUNTRIES for i in range(3)])[
            country * 3 + region
        ],
        "city": np.char.add("city", (pub % 7).astype(str)),
        "user_hour": pa.array(hour.astype(np.int32)),
        "bidfloor_micros": pa.array(floor),
        "user_segments": segments,
        "campaign_id": np.char.add("cmp", campaign.astype(str)),
        "creative_id": np.char.add("cr", creative.astype(str)),
    }
    ts = pa.array(t, type=pa.timestamp("ms", tz="UTC"))
    dates = pa.array((t // DAY_MS).astype("int32"), type=pa.date32())
    ctr = pa.table(
        {
            "impression_id": np.char.add("i", np.arange(n).astype(str)),
            "bid_id": ids,
            "request_id": np.char.add("r", np.arange(n).astype(str)),
            "impression_at": ts,
            "impression_date": dates,
            **features,
            "is_clicked": clicked,
        }
    )

    # Clicks a few seconds after the impression; conversions after an exponential delay
    # (mean one day), attributed only within 7 days and observed only before end_ms.
    click_rows = np.flatnonzero(clicked)
    click_t = t[click_rows] + rng.integers(1_000, 60_000, len(click_rows))
    delay = rng.exponential(DAY_MS, len(click_rows))
    converts = rng.random(len(click_rows)) < p_conversion[click_rows]
    observed = converts & (delay <= ATTRIBUTION_MS) & (click_t + delay <= end_ms)
    cvr = pa.table(
        {
            "click_id": np.char.add("c", click_rows.astype(str)),
            "bid_id": ids[click_rows],
            "request_id": np.char.add("r", click_rows.astype(str)),
            "clicked_at": pa.array(click_t, type=pa.timestamp("ms", tz="UTC")),
            "click_date": pa.array((click_t // DAY_MS).astype("int32"), type=pa.date32()),
            **{
                k: (v.take(pa.array(click_rows)) if isinstance(v, pa.Array) else v[click_rows])
                for k, v in features.items()
            },
            "is_converted": observed,
            "is_label_mature": click_t + ATTRIBUTION_MS <= end_ms,
        }
    )
    truth = pa.table({"bid_id": ids, "p_click": p_click, "p_conversion": p_conversion})
    return Synthetic(ctr=ctr, cvr=cvr, truth=truth)


def load_into(con: Any, data: Synthetic) -> None:
    """Create ftr_ctr_training and ftr_cvr_training in a DuckDB connection."""
    for name, table in (("ftr_ctr_training", data.ctr), ("ftr_cvr_training", data.cvr)):
        con.register("_synthetic_source", table)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _synthetic_source")
        finally:
            con.unregister("_synthetic_source")


def write_truth(data: Synthetic, folder: Path) -> Path:
    """The truth as the simulator writes it: Parquet under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "truth-synthetic.parquet"
    pq.write_table(data.truth, path)
    return path
