"""A fast synthetic raw lake for the warehouse benchmark: realistic rows, made by DuckDB SQL.

The simulator (simulator/) is the faithful source of traffic, but it goes through tracking
logs and ingest, which is minutes of work per simulated day at 500 requests/s. The
benchmark measures dbt and the catalog, so it only needs the lake's *layout and columns*
(docs/interfaces.md: `ingest.lake_schema.arrow_schema(event_type)`, hive partitions
`event_date=YYYY-MM-DD/event_hour=HH`, zstd) and realistic cardinalities and rates:
about 10 % of opportunities bid, 20 % of bids win, 0.4 % of impressions are clicked,
8 % of clicks convert (plus unattributable conversions), 0.2 % duplicated deliveries, and
events whose own hour is after the hour of the batch that wrote them (late-ish events).

Every value is a deterministic hash of (seed, hour, row), so two runs give the same lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from bidlake.campaigns import load_campaigns

HOUR_MS = 3_600_000
RAW_TYPES = ("bid_request", "bid", "impression", "click", "conversion")


@dataclass(frozen=True)
class SynthSummary:
    hours: int
    rows: dict[str, int]


def _u(key: str, salt: str = "i") -> str:
    """A uniform double in [0, 1) from a hash of the row, the seed and a per-column key."""
    return f"((hash({salt}, $seed, $hour, '{key}') % 1000000) / 1000000.0)"


def _pick(values: list[str], key: str) -> str:
    array = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{array}[1 + (hash(i, $seed, $hour, '{key}') % {len(values)})::integer]"


def _bind(sql: str, params: dict[str, int]) -> str:
    """Inlines the integer parameters: DuckDB refuses unused prepared parameters."""
    for name, value in params.items():
        sql = sql.replace(f"${name}", str(int(value)))
    return sql


def _copy(
    con: duckdb.DuckDBPyConnection,
    select: str,
    raw: Path,
    event_type: str,
    tag: str,
    params: dict[str, int],
) -> None:
    # PARTITION_BY writes event_date=/event_hour= folders and leaves those two columns out
    # of the files, exactly the lake layout; the file name pattern makes names unique.
    sql = f"""
        copy (
            select *, to_timestamp(event_time / 1000)::date as event_date,
                lpad(((event_time // {HOUR_MS}) % 24)::varchar, 2, '0') as event_hour
            from ({select})
        ) to '{raw / event_type}' (
            format parquet, compression zstd, partition_by (event_date, event_hour),
            filename_pattern 'synth-{tag}-{{uuid}}', append
        )
    """
    con.execute(_bind(sql, params))


def synthesize(raw: Path, start_ms: int, hours: int, rate: int, seed: int = 7) -> SynthSummary:
    """Writes `hours` hours of traffic at `rate` opportunities/s from `start_ms` into `raw`."""
    campaigns = load_campaigns()
    raw.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")
    cmp_ids = [c.campaign_id for c in campaigns]
    cmp_case = " ".join(f"when '{c.campaign_id}' then '{c.advertiser_id}'" for c in campaigns)
    n = rate * 3600
    rows = dict.fromkeys(RAW_TYPES, 0)
    for h in range(hours):
        hour_start = start_ms + h * HOUR_MS
        params = {"seed": seed, "hour": hour_start // HOUR_MS, "n": n, "start": hour_start}
        tag = f"{seed}-{hour_start // HOUR_MS}"
        con.execute(
            _bind(
                f"""
            create or replace temp table req as
            select
                'r-' || $hour || '-' || i as request_id,
                $start + (i * 3600000) // $n + (hash(i, $seed, 'j') % 1000)::bigint as event_time,
                i,
                {_u("bid")} < 0.10 as is_bid,
                {_pick(["adx", "pubmatic", "openx", "rubicon", "index"], "exchange")} as exchange,
                'pub-' || (hash(i, $seed, $hour, 'pub') % 1500) as publisher_id,
                {_u("app")} < 0.35 as is_app,
                (hash(i, $seed, $hour, 'user') % 2000000) as user_no
            from range($n) t(i)
            """,
                params,
            )
        )
        requests = f"""
            select
                request_id || ':1' as event_id, event_time, request_id, '1' as imp_id,
                exchange, publisher_id,
                case when is_app then ''
                    else 'news-' || (hash(publisher_id) % 400) || '.example' end as site_domain,
                case when is_app then 'com.example.app' || (hash(publisher_id) % 300) else '' end
                    as app_bundle,
                case when is_app then '' else 'https://news-' || (hash(publisher_id) % 400)
                    || '.example/article/' || (hash(i, $seed, 'url') % 50000) end as page_url,
                publisher_id || '-slot-' || (hash(i, $seed, 'slot') % 6) as placement_id,
                'banner' as ad_format,
                {_pick(["300x250", "728x90", "320x50", "160x600", "300x600", "320x480"], "size")}
                    as size,
                split_part(size, 'x', 1)::integer as ad_width,
                split_part(size, 'x', 2)::integer as ad_height,
                {_pick(["above_fold", "below_fold", "unknown"], "vis")} as slot_visibility,
                {_pick(["phone", "phone", "desktop", "tablet", "mobile"], "dev")} as device_type,
                {_pick(["android", "ios", "windows", "macos", "linux"], "os")} as os,
                case when is_app then 'app'
                    else {_pick(["chrome", "safari", "firefox", "edge", "samsung"], "br")} end
                    as browser,
                'Mozilla/5.0 (Linux; Android 14; Pixel ' || (hash(user_no) % 9)
                    || ') AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36'
                    as user_agent,
                '10.' || (hash(user_no, 'a') % 256) || '.' || (hash(user_no, 'b') % 256) || '.0'
                    as ip_truncated,
                {_pick(["US", "US", "US", "GB", "CA", "DE", "FR"], "country")} as country,
                {_pick(["CA", "NY", "TX", "WA", "ENG", "ON"], "region")} as region,
                'city-' || (hash(user_no, 'city') % 300) as city,
                case when {_u("anon")} < 0.1 then '' else 'u-' || user_no end as user_id,
                list_transform(range((hash(user_no, 'nseg') % 4)::bigint),
                    lambda s: 'seg-' || (hash(user_no, s) % 40)) as user_segments,
                (100000 + hash(publisher_id, 'floor') % 900000)::bigint as bidfloor_micros,
                'USD' as currency, 100::integer as tmax_ms,
                (case when {_u("fp")} < 0.7 then 1 else 2 end)::integer as auction_type,
                '' as deal_id,
                case when is_bid then ''
                    else {
            _pick(
                [
                    "budget_exhausted",
                    "pacing",
                    "pacing",
                    "no_matching_campaign",
                    "below_floor",
                    "frequency_cap",
                    "blocked",
                ],
                "nbr",
            )
        } end
                    as no_bid_reason,
                ((event_time // 3600000 + hash(user_no, 'tz') % 12) % 24)::integer as user_hour,
                i, is_bid
            from req
        """
        con.execute(_bind(f"create or replace temp table rq as {requests}", params))
        request_cols = ", ".join(
            d[0]
            for d in con.execute("select * from rq limit 0").description
            if d[0] not in ("size", "i", "is_bid")
        )
        con.execute(
            _bind(
                f"""
            create or replace temp table bids as
            select
                'b-' || $hour || '-' || i as event_id,
                event_time + 20 + (hash(i, 'lat') % 60)::bigint as event_time,
                request_id, '1' as imp_id,
                {_pick(cmp_ids, "cmp")} as campaign_id,
                campaign_id || '-' || size as creative_id,
                case campaign_id {cmp_case} end as advertiser_id,
                (bidfloor_micros + hash(i, 'bp') % 4000000)::bigint as bid_price_micros,
                {_u("pctr")} * 0.01 as pctr, {_u("pcvr")} * 0.1 as pcvr,
                '20240101T000000' as model_version, 1.0 as pacing_factor, '' as deal_id,
                user_id, i
            from rq
            where is_bid
            """,
                params,
            )
        )
        con.execute(
            _bind(
                f"""
            create or replace temp table imps as
            select
                'i-' || event_id as event_id,
                event_time + 50 + (hash(i, 'wl') % 900)::bigint as event_time,
                event_id as bid_id, request_id, campaign_id, creative_id,
                (bid_price_micros * (0.5 + {_u("clear")} * 0.5))::bigint as clearing_price_micros,
                user_id, i
            from bids where {_u("win")} < 0.20
            """,
                params,
            )
        )
        con.execute(
            _bind(
                f"""
            create or replace temp table clicks as
            select 'c-' || bid_id as event_id,
                event_time + 2000 + (hash(i, 'cl') % 600000)::bigint as event_time,
                bid_id, campaign_id, user_id, i
            from imps where {_u("click")} < 0.004
            """,
                params,
            )
        )
        conversions = f"""
            select 'v-' || bid_id as event_id,
                event_time + 60000 + (hash(i, 'cv') % 172800000)::bigint as event_time,
                campaign_id, user_id,
                (1000000 + hash(i, 'val') % 90000000)::bigint as conversion_value_micros,
                case when {_u("carry")} < 0.5 then bid_id else '' end as bid_id,
                {_pick(["purchase", "signup", "install", "lead"], "ct")} as conversion_type
            from clicks where {_u("conv")} < 0.08
            union all
            -- conversions no click or impression explains (organic traffic)
            select 'v-org-' || $hour || '-' || i, event_time + 1000, campaign_id, user_id,
                5000000, '', 'purchase'
            from bids where {_u("organic")} < 0.0002
        """
        selects = {
            "bid_request": f"select {request_cols} from rq",
            "bid": "select * exclude (user_id, i) from bids",
            "impression": "select * exclude (i) from imps",
            "click": "select * exclude (i) from clicks",
            "conversion": conversions,
        }
        for event_type, select in selects.items():
            # ~0.2 % of deliveries arrive twice (at-least-once transport upstream of ingest).
            with_dups = (
                f"select * from ({select}) union all "
                f"select * from ({select}) where hash(event_id, $seed) % 500 = 0"
            )
            rows[event_type] += con.execute(
                _bind(f"select count(*) from ({with_dups})", params)
            ).fetchall()[0][0]
            _copy(con, with_dups, raw, event_type, tag, params)
    con.close()
    return SynthSummary(hours=hours, rows=rows)
