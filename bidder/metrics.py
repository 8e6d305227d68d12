"""Counters and the latency histogram behind GET /metrics (Prometheus text format 0.0.4).

Hot-path updates are plain dict/list increments (tens of nanoseconds; the event loop is
single-threaded, so no locks). With `--workers N` each worker is its own process with its
own counters, and a scrape lands on whichever worker accepts it; so every worker writes a
snapshot of its counters to `<run_dir>/metrics-<pid>.json` about once a second, and
/metrics adds the live counters of the answering worker to the latest snapshots of the
others. Sums are therefore at most ~1 s stale for other workers. Snapshots of workers that
exited stay in the sum (counters never go down, as Prometheus expects) until the server
stops and the run dir is removed.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bidlake.atomic_files import atomic_write

# Seconds. Dense below 10 ms, where the target (p99 <= 10 ms) is decided.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25)


def label(value: str) -> str:
    """A Prometheus label value, escaped (campaign ids come from a config file)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Metrics:
    requests: dict[str, int] = field(default_factory=dict)  # outcome -> n (bid/nobid/...)
    imps: dict[str, int] = field(default_factory=dict)  # no-bid reason ("" = bid) -> n
    bids: dict[str, int] = field(default_factory=dict)  # campaign -> n
    tracking: dict[str, int] = field(default_factory=dict)  # "win", "win_duplicate", ...
    events: dict[str, int] = field(default_factory=dict)  # event type -> logged
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    # Set from outside before rendering: {model name: (version, reloads, failures)}.
    models: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def request(self, outcome: str, seconds: float) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1
        self.latency_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def imp(self, reason: str) -> None:
        self.imps[reason] = self.imps.get(reason, 0) + 1

    def bid(self, campaign_id: str) -> None:
        self.bids[campaign_id] = self.bids.get(campaign_id, 0) + 1

    def track(self, what: str) -> None:
        self.tracking[what] = self.tracking.get(what, 0) + 1

    # ---- snapshots across workers ----

    def snapshot(self) -> dict:
        return {
            "requests": self.requests,
            "imps": self.imps,
            "bids": self.bids,
            "tracking": self.tracking,
            "events": self.events,
            "latency_counts": self.latency_counts,
            "latency_sum": self.latency_sum,
        }

    def dump(self, run_dir: Path) -> None:
        """Write this worker's snapshot for the other workers' /metrics (atomic rename; no
        fsync: the run dir lives only as long as the server)."""
        atomic_write(
            run_dir / f"metrics-{os.getpid()}.json", orjson.dumps(self.snapshot()), durable=False
        )

    def merged(self, run_dir: Path | None) -> dict:
        total = orjson.loads(orjson.dumps(self.snapshot()))
        if run_dir is None:
            return total
        own = f"metrics-{os.getpid()}.json"
        for path in run_dir.glob("metrics-*.json"):
            if path.name == own:
                continue
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                other = orjson.loads(path.read_bytes())
                for key in ("requests", "imps", "bids", "tracking", "events"):
                    for k, v in other.get(key, {}).items():
                        total[key][k] = total[key].get(k, 0) + v
                counts = other.get("latency_counts", [])
                if len(counts) == len(total["latency_counts"]):
                    total["latency_counts"] = [
                        a + b for a, b in zip(total["latency_counts"], counts, strict=True)
                    ]
                total["latency_sum"] += other.get("latency_sum", 0.0)
        return total

    def render(self, run_dir: Path | None = None, extra: list[str] | None = None) -> str:
        m = self.merged(run_dir)
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("bidder_requests_total", "counter", "Bid requests answered, by outcome.")
        for k, v in sorted(m["requests"].items()):
            out.append(f'bidder_requests_total{{outcome="{k}"}} {v}')
        family("bidder_imps_total", "counter", "Impression opportunities, by decision.")
        decided = {"bid": m["imps"].get("", 0), "no_bid": sum(v for k, v in m["imps"].items() if k)}
        for k, v in decided.items():
            out.append(f'bidder_imps_total{{decision="{k}"}} {v}')
        family("bidder_no_bid_total", "counter", "No-bid opportunities, by reason code.")
        for k, v in sorted(m["imps"].items()):
            if k:
                out.append(f'bidder_no_bid_total{{reason="{k}"}} {v}')
        family("bidder_bids_total", "counter", "Bids sent, by campaign.")
        for k, v in sorted(m["bids"].items()):
            out.append(f'bidder_bids_total{{campaign_id="{label(k)}"}} {v}')
        family("bidder_tracking_total", "counter", "Win/click/conversion notices, by result.")
        for k, v in sorted(m["tracking"].items()):
            out.append(f'bidder_tracking_total{{result="{k}"}} {v}')
        family("bidder_events_logged_total", "counter", "Events written to tracking logs.")
        for k, v in sorted(m["events"].items()):
            out.append(f'bidder_events_logged_total{{event_type="{k}"}} {v}')
        family(
            "bidder_request_duration_seconds",
            "histogram",
            "Time from the request's arrival in the app to the last byte of the answer.",
        )
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, m["latency_counts"], strict=False):
            cumulative += count
            out.append(f'bidder_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        cumulative += m["latency_counts"][-1]
        out.append(f'bidder_request_duration_seconds_bucket{{le="+Inf"}} {cumulative}')
        out.append(f"bidder_request_duration_seconds_sum {m['latency_sum']:.6f}")
        out.append(f"bidder_request_duration_seconds_count {cumulative}")
        family("bidder_model_info", "gauge", "The model version this worker serves (1).")
        pid = os.getpid()
        for name, (version, _r, _f) in sorted(self.models.items()):
            out.append(
                f'bidder_model_info{{model="{name}",version="{label(version)}",pid="{pid}"}} 1'
            )
        family("bidder_model_reloads_total", "counter", "Hot swaps to a new model version.")
        for name, (_v, reloads, _f) in sorted(self.models.items()):
            out.append(
                f'bidder_model_reloads_total{{model="{name}",pid="{os.getpid()}"}} {reloads}'
            )
        family("bidder_model_load_failures_total", "counter", "Model versions that failed to load.")
        for name, (_v, _r, failures) in sorted(self.models.items()):
            out.append(
                f'bidder_model_load_failures_total{{model="{name}",pid="{os.getpid()}"}} {failures}'
            )
        out += extra or []
        return "\n".join(out) + "\n"
