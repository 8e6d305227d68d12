"""Small, valid events of every type, and helpers to land them and read the lake back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bidlake.paths import Home
from contract.log_writer import TrackingLogWriter
from ingest import lake

T0 = 1_767_571_200_000  # 2026-01-05T00:00Z
HOUR = 3_600_000


def event(event_type: str, i: int, t: int = T0, **override: object) -> dict[str, object]:
    """A valid event of `event_type`, distinct per `i`, at `t + i` ms."""
    base: dict[str, object] = {"event_id": f"{event_type[:2]}-{i}", "event_time": t + i}
    if event_type == "bid_request":
        base |= {
            "request_id": f"r{i}",
            "imp_id": "1",
            "exchange": "adx",
            "publisher_id": f"pub-{i % 7}",
            "site_domain": f"site{i % 5}.com",
            "placement_id": "slot-1",
            "ad_format": "banner",
            "ad_width": 300,
            "ad_height": 250,
            "slot_visibility": "above_fold",
            "device_type": "phone",
            "os": "android",
            "browser": "chrome",
            "user_agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile",
            "ip_truncated": "10.1.2.0",
            "country": "US",
            "region": "CA",
            "city": "San Francisco",
            "user_id": f"u{i % 11}",
            "user_segments": [f"seg{i % 3}", "seg9"],
            "bidfloor_micros": 250_000 + i,
            "currency": "USD",
            "tmax_ms": 120,
            "auction_type": 2,
            "no_bid_reason": "" if i % 2 else "below_floor",
            "user_hour": i % 24,
        }
    elif event_type == "bid":
        base |= {
            "request_id": f"r{i}",
            "imp_id": "1",
            "campaign_id": "cmp-101",
            "creative_id": "cr-1",
            "advertiser_id": "adv-1",
            "bid_price_micros": 1_500_000,
            "pctr": 0.004,
            "pcvr": 0.02,
            "model_version": "v1",
            "pacing_factor": 0.8,
        }
    elif event_type == "impression":
        base |= {
            "bid_id": f"b{i}",
            "request_id": f"r{i}",
            "campaign_id": "cmp-101",
            "creative_id": "cr-1",
            "clearing_price_micros": 900_000,
            "user_id": f"u{i % 11}",
        }
    elif event_type == "click":
        base |= {"bid_id": f"b{i}", "campaign_id": "cmp-101", "user_id": f"u{i % 11}"}
    elif event_type == "conversion":
        base |= {
            "campaign_id": "cmp-101",
            "user_id": f"u{i % 11}",
            "conversion_value_micros": 20_000_000,
            "bid_id": f"b{i}",
            "conversion_type": "purchase",
        }
    else:
        raise ValueError(event_type)
    base.update(override)
    return base


def events(event_type: str, n: int, start: int = 0, t: int = T0) -> list[dict[str, object]]:
    return [event(event_type, i, t) for i in range(start, start + n)]


def land(
    landing: Path,
    event_type: str,
    records: Iterable[Mapping[str, object] | bytes],
    fmt: str = "jsonl",
    compress: bool = False,
    writer_id: str = "w1",
) -> list[Path]:
    """Write records (event dicts, or bytes written as-is as garbage) as closed log files."""
    with TrackingLogWriter(landing, writer_id, fmt=fmt, compress=compress) as writer:  # type: ignore[arg-type]
        for record in records:
            if isinstance(record, bytes):
                writer.write_garbage(event_type, record, T0)
            else:
                writer.write(event_type, record)
    return list(writer.closed_files)


def lake_table(home: Path | Home, event_type: str) -> pa.Table:
    """The live rows of an event type (via the manifest), in file order."""
    home = home if isinstance(home, Home) else Home(home)
    files = lake.live_files(event_type, home)
    if not files:
        return pa.table({})
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")


def quarantine_table(home: Path | Home) -> pa.Table:
    home = home if isinstance(home, Home) else Home(home)
    files = sorted((home.lake / "quarantine" / "records").glob("*.parquet"))
    if not files:
        return pa.table({})
    return pa.concat_tables([pq.read_table(f) for f in files])
