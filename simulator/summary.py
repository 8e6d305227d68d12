"""The one-screen summary of a simulation (and of a replay), as a rich renderable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table

if TYPE_CHECKING:
    from simulator.replay import ReplaySummary
    from simulator.run_types import SimulationSummary

EVENT_TYPES = ("bid_request", "bid", "impression", "click", "conversion")


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "-"


def funnel_table(title: str, s: SimulationSummary | ReplaySummary) -> Table:
    """Requests → bids → impressions → clicks → conversions; realized rates beside the
    truth's mean probability (± the standard error the realized CTR should be within)."""
    table = Table(title=title, header_style="bold")
    table.add_column("stage")
    table.add_column("count", justify="right")
    table.add_column("rate", justify="right")
    table.add_column("truth", justify="right")
    table.add_row("requests", f"{s.requests:,}", "", "")
    table.add_row("bids", f"{s.bids:,}", _pct(s.bids, s.requests), "")
    table.add_row("impressions", f"{s.impressions:,}", _pct(s.impressions, s.bids), "")
    table.add_row(
        "clicks",
        f"{s.clicks:,}",
        _pct(s.clicks, s.impressions),
        f"{100 * s.mean_p_click:.3f} % ± {100 * s.ctr_standard_error:.3f}",
    )
    table.add_row(
        "conversions",
        f"{s.conversions:,}",
        _pct(s.conversions, s.clicks),
        f"{100 * s.mean_p_conversion:.2f} %",
    )
    return table


def _first_price_line(s: SimulationSummary | ReplaySummary) -> str:
    """Only when some auctions were first price (the default output is unchanged)."""
    if not s.first_price_requests:
        return ""
    return (
        f"first-price auctions (at=1, the winner pays its bid): {s.first_price_requests:,} "
        f"requests ({_pct(s.first_price_requests, s.requests)})\n"
    )


def render_summary(s: SimulationSummary) -> Group:
    w = s.window
    header = (
        f"[bold]bidlake simulate[/bold] seed {w.seed}, "
        f"{w.start:%Y-%m-%dT%H:%M}Z → {w.end:%Y-%m-%dT%H:%M}Z "
        f"({w.hours} h at {w.rate:g} req/s) in {s.elapsed_s:.1f} s "
        f"({s.records_written / max(s.elapsed_s, 1e-9):,.0f} records/s)"
    )
    funnel = funnel_table("traffic", s)

    written = Table(title="records written", header_style="bold")
    written.add_column("event type")
    written.add_column("events", justify="right")
    written.add_column("duplicates", justify="right")
    written.add_column("garbage", justify="right")
    for event_type in EVENT_TYPES:
        written.add_row(
            event_type,
            f"{s.events_written[event_type]:,}",
            f"{s.duplicates[event_type]:,}",
            f"{s.garbage[event_type]:,}",
        )

    reasons = ", ".join(
        f"{reason} {_pct(count, s.requests)}"
        for reason, count in sorted(s.no_bid_reasons.items(), key=lambda kv: -kv[1])
        if reason
    )
    spend = ", ".join(f"{c} {m / 1e6:,.2f}" for c, m in sorted(s.spend_micros.items()))
    footer = (
        f"no-bid reasons: {reasons or '-'}\n"
        + _first_price_line(s)
        + f"spend USD (the default policy does not pace): {spend or '-'}\n"
        f"rates: bids per request, impressions per bid (win rate), clicks per impression "
        f"(CTR), conversions per click (CVR)\n"
        f"{len(s.files)} log files in [bold]{s.landing}[/bold]\n"
        f"{len(s.truth_files)} truth files in [bold]{s.truth}[/bold]"
    )
    return Group(header, funnel, written, footer)


def render_replay_summary(s: ReplaySummary) -> Group:
    """The one-screen summary of `bidlake replay`."""
    w = s.window
    header = (
        f"[bold]bidlake replay[/bold] seed {w.seed}, {w.hours} h of traffic from "
        f"{w.start:%Y-%m-%dT%H:%M}Z at {w.rate:g} req/s against {s.bidder}, {s.mode}: "
        f"{s.requests:,} requests in {s.elapsed_s:.1f} s "
        f"({s.requests / max(s.elapsed_s, 1e-9):,.0f} requests/s)"
    )
    funnel = funnel_table("auction", s)
    http = Table(title="bid requests over HTTP", header_style="bold")
    http.add_column("answers")
    http.add_column("count", justify="right")
    http.add_row("answered", f"{s.answered:,}")
    http.add_row("no bid (204 / empty)", f"{s.no_bids:,}")
    http.add_row("bids after tmax (dropped)", f"{s.late:,}")
    if s.speed:
        http.add_row("sent > 1 ms behind schedule", f"{s.sent_late:,}")
    for reason, count in s.invalid.most_common(5):
        http.add_row(f"invalid: {reason}"[:60], f"{count:,}")
    for kind, count in s.errors.most_common(5):
        http.add_row(f"error: {kind}"[:60], f"{count:,}")
    for kind, count in sorted(s.failed_notices.items()):
        http.add_row(f"failed {kind} calls", f"{count:,}")
    if s.refused_urls:
        http.add_row("URLs refused (not loopback)", f"{s.refused_urls:,}")
    spend = ", ".join(f"{c} {m / 1e6:,.2f}" for c, m in sorted(s.spend_micros.items()))
    footer = (
        _latency_lines(s) + _first_price_line(s) + f"spend USD: {spend or '-'}\n"
        f"{len(s.truth_files)} truth files in [bold]{s.truth}[/bold]; the bidder's own "
        f"tracking logs hold the events"
    )
    return Group(header, funnel, http, footer)


def _latency_lines(s: ReplaySummary) -> str:
    def quantiles(of: Callable[[float], float]) -> str:
        return f"p50 {of(0.5):.1f}, p99 {of(0.99):.1f}, p99.9 {of(0.999):.1f}"

    if not s.speed:
        return (
            f"latency ms (closed loop: includes waiting for a connection): "
            f"{quantiles(s.latency_ms)}\n"
        )
    return (
        f"latency ms from the scheduled send (what the exchange sees): "
        f"{quantiles(s.latency_ms)}\n"
        f"  from the actual send (the bidder's answer time): {quantiles(s.service_latency_ms)}\n"
        f"  offered {s.offered_rate:,.0f} req/s on average; {s.sent_late:,} requests "
        f"({_pct(s.sent_late, s.requests)}) sent > 1 ms behind schedule, at most "
        f"{s.max_send_lateness_ms:.1f} ms\n"
    )
