"""Realistic bid_request events for the ingest benchmark, written as real tracking logs.

Every contract field is set the way a bidder logs it (ids, a 90-byte user agent, 0-4
audience segments, a page URL for web traffic, a no-bid reason for most requests), about
700 bytes of JSON and 340 bytes of protobuf per event. Deterministic for a seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from contract.log_writer import TrackingLogWriter

T0 = 1_767_614_400_000  # 2026-01-05T12:00Z
EXCHANGES = ("adx", "openx", "pubmatic", "rubicon", "index", "xandr")
DEVICES = ("phone", "desktop", "tablet", "ctv", "mobile")
OSES = ("android", "ios", "windows", "macos", "linux", "other")
BROWSERS = ("chrome", "safari", "firefox", "edge", "samsung", "app")
NO_BID = ("", "no_matching_campaign", "below_floor", "pacing", "frequency_cap", "policy")
SIZES = ((300, 250), (728, 90), (320, 50), (160, 600), (300, 600), (970, 250))
AGENTS = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
)


def bid_requests(n: int, seed: int = 1, t0: int = T0, span_ms: int = 3_600_000) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        request_id = f"{rnd.getrandbits(64):016x}{rnd.getrandbits(32):08x}"
        app = rnd.random() < 0.35
        width, height = rnd.choice(SIZES)
        publisher = rnd.randint(1, 5000)
        site = f"news{publisher}.example.com"
        event: dict[str, object] = {
            "event_id": f"{request_id}:1",
            "event_time": t0 + (i * span_ms) // max(n, 1),
            "request_id": request_id,
            "imp_id": "1",
            "exchange": rnd.choice(EXCHANGES),
            "publisher_id": f"pub-{publisher}",
            "site_domain": "" if app else site,
            "app_bundle": f"com.example.app{publisher}" if app else "",
            "page_url": "" if app else f"https://{site}/a/{rnd.randint(1, 9999)}",
            "placement_id": f"slot-{rnd.randint(1, 40)}",
            "ad_format": "banner",
            "ad_width": width,
            "ad_height": height,
            "slot_visibility": rnd.choice(("above_fold", "below_fold", "unknown")),
            "device_type": rnd.choice(DEVICES),
            "os": rnd.choice(OSES),
            "browser": "app" if app else rnd.choice(BROWSERS[:5]),
            "user_agent": rnd.choice(AGENTS),
            "ip_truncated": f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.0",
            "country": rnd.choice(("US", "US", "GB", "DE", "FR", "BR", "IN", "JP")),
            "region": rnd.choice(("CA", "NY", "TX", "ENG", "BY", "IDF")),
            "city": rnd.choice(("San Francisco", "New York", "London", "Munich", "Paris")),
            "user_id": f"{rnd.getrandbits(64):016x}" if rnd.random() < 0.8 else "",
            "user_segments": [f"seg{rnd.randint(1, 300)}" for _ in range(rnd.randint(0, 4))],
            "bidfloor_micros": rnd.randint(10_000, 3_000_000),
            "currency": "USD",
            "tmax_ms": rnd.choice((80, 100, 120, 200)),
            "auction_type": 2,
            "deal_id": "deal-7" if rnd.random() < 0.05 else "",
            "no_bid_reason": rnd.choice(NO_BID),
            "user_hour": rnd.randint(0, 23),
        }
        out.append(event)
    return out


def write_logs(
    landing: Path, events: list[dict], fmt: str, compress: bool, files: int, garbage: float = 0.0
) -> list[Path]:
    """Write `events` as `files` closed bid_request log files; `garbage` lines per event."""
    rnd = random.Random(99)
    per_file = -(-len(events) // files)
    with TrackingLogWriter(
        landing,
        "bench",
        fmt=fmt,
        compress=compress,
        max_events_per_file=per_file,  # type: ignore[arg-type]
    ) as writer:
        for event in events:
            writer.write("bid_request", event)
            if garbage and rnd.random() < garbage:
                kind = rnd.randrange(3)
                if kind == 0:  # a line cut short (a crash mid-write)
                    writer.write_garbage("bid_request", b'{"event_id": "x", "event_ti', T0)
                elif kind == 1:  # a value of the wrong type
                    writer.write_garbage("bid_request", b'{"event_id": 5, "event_time": 1}', T0)
                else:  # a field the contract does not have
                    writer.write_garbage(
                        "bid_request", b'{"event_id": "y", "event_time": 1, "zz": 1}', T0
                    )
    return list(writer.closed_files)
