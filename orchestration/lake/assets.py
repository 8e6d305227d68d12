"""The raw lake: one asset per event type, filled by ingest, hourly; and its compaction.

`raw/<event_type>` (bid_request, bid, impression, click, conversion) are the Parquet
tables under `<home>/lake/raw/<event_type>/event_date=…/event_hour=…/`. One step
(`ingest_tracking_logs`) fills all five, because a batch of log files holds every event
type and ingest commits them together (`ingest.pipeline.ingest`): validation, quarantine,
de-duplication, the ledger, atomic publication.

Partitioning: an hourly partition is the closed log files of that hour (see
`orchestration.landing`). A run for one hour, or a range of hours (single-run backfill),
ingests those files; a run started by the landing sensor ingests exactly the files the
sensor saw (`files` in the run config). Files the ledger already has are skipped by
ingest itself, so a re-run or an overlapping backfill costs a `stat` per file, nothing
more. Records land in the lake partition of their own event time, late ones included.

`lake/compaction` merges small files per partition (`ingest.compaction.compact`) and
deletes files retired longer than the grace period; not partitioned (it looks at the
whole lake), scheduled daily. Both hold the lake pool: one writer of the ledger.
"""

import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    BetaWarning,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from contract.events import EVENT_TYPES
from orchestration import pools
from orchestration.landing import files_in_hours
from orchestration.partitions import HOURLY
from orchestration.resources import PlatformResource
from orchestration.simulation.assets import SIMULATED_LOGS

RAW_GROUP = "raw"
INGEST_OP = "ingest_tracking_logs"
COMPACTION_KEY = AssetKey(["lake", "compaction"])


def raw_key(event_type: str) -> AssetKey:
    """The asset key of the raw lake table of one event type."""
    return AssetKey(["raw", event_type])


# Also the keys the dbt sources over the lake declare (`meta.dagster.asset_key` in
# dbt_project/models/staging/tracker/_tracker__sources.yml): lineage runs raw -> staging.
RAW_KEYS = [raw_key(event_type) for event_type in EVENT_TYPES]


class IngestSettings(Config):
    files: list[str] = Field(
        default_factory=list,
        description="Log files to ingest (set by the landing sensor); empty: every closed "
        "log file of the partition's hours.",
    )


# Single-run backfills are what make a week of hours one ingest, not 168 runs; the API is
# marked beta in Dagster 1.13 but has been stable since 1.5.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)

    @multi_asset(
        name=INGEST_OP,
        specs=[
            AssetSpec(
                raw_key(event_type),
                deps=[AssetKey(SIMULATED_LOGS)],
                group_name=RAW_GROUP,
                description=f"Raw `{event_type}` events: Parquet (zstd) under "
                f"lake/raw/{event_type}/event_date=…/event_hour=…/, the contract's columns.",
                kinds={"parquet"},
            )
            for event_type in EVENT_TYPES
        ],
        partitions_def=HOURLY,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=False,
        pool=pools.LAKE,
    )
    def ingest_tracking_logs(
        context: AssetExecutionContext, config: IngestSettings, platform: PlatformResource
    ) -> Any:
        """Ingest closed tracking-log files into the raw lake.

        Grain: the log files of one hour (or a range of hours). Inputs: closed files in
        `<home>/landing/<event_type>/`. Cost: about 200k events/s of JSONL on this
        machine (validation, de-duplication and Parquet writing included); a file the
        ledger already has costs a stat.
        """
        from ingest.pipeline import ingest

        home = platform.home
        if config.files:
            files = [Path(f) for f in config.files]
        else:
            keys = context.partition_key_range
            files = files_in_hours(home.landing, keys.start, keys.end)
        context.log.info(f"ingesting {len(files)} log files from {home.landing}")
        report = ingest(files, home=home)
        failed = [s for s in report.sources if not s.accounted]
        if failed:
            # Unreadable files are left out of the commit and retried by the next run; the
            # rest is committed. The step fails so the run (and the sensor) shows it.
            raise Failure(
                description=f"{len(failed)} log file(s) could not be accounted for; "
                "they will be retried by the next ingest",
                metadata={
                    "failed": MetadataValue.json(
                        [
                            {"path": str(s.path), "error": s.error_code, "message": s.message}
                            for s in failed
                        ]
                    )
                },
            )
        per_type: dict[str, dict[str, int]] = defaultdict(
            lambda: {"files": 0, "records": 0, "raw": 0, "quarantined": 0, "duplicates": 0}
        )
        skipped: dict[str, int] = defaultdict(int)
        other = {"records": 0, "quarantined": 0}
        for source in report.sources:
            if source.status in ("already_ingested", "same_content"):
                skipped[source.event_type or "?"] += 1
                continue
            if source.event_type not in EVENT_TYPES:
                # A file in a folder that is no event type: quarantined whole by ingest.
                other["records"] += source.records
                other["quarantined"] += source.quarantined
                continue
            counts = per_type[source.event_type]
            counts["files"] += 1
            for name in ("records", "raw", "quarantined", "duplicates"):
                counts[name] += getattr(source, name)
        for event_type in EVENT_TYPES:
            counts = per_type[event_type]
            yield MaterializeResult(
                asset_key=raw_key(event_type),
                metadata={
                    **counts,
                    "files_already_ingested": skipped.get(event_type, 0),
                    # The ledger commits of this run: the reconciliation check recounts them.
                    "commits": MetadataValue.json(report.commits),
                    "lake_folder": MetadataValue.path(str(home.raw / event_type)),
                    "seconds": round(report.seconds, 2),
                    **(
                        {"files_outside_event_folders": other["records"]}
                        if other["records"]
                        else {}
                    ),
                },
            )


@asset(
    key=COMPACTION_KEY,
    deps=RAW_KEYS,
    group_name=RAW_GROUP,
    pool=pools.LAKE,
    kinds={"parquet"},
    description="Small raw files merged per partition; expired retired files deleted.",
)
def lake_compaction(
    context: AssetExecutionContext, platform: PlatformResource
) -> MaterializeResult:
    """Compact the raw lake.

    Grain: the whole lake (partitions with files below 1M rows). Inputs: raw Parquet
    files (row counts from their footers). Cost: a footer read per file plus rewriting the
    small ones — seconds for a day of hourly files; readers are never disturbed (inputs
    are retired, deleted only after the grace period).
    """
    from ingest.compaction import compact

    report = compact(platform.home)
    context.log.info(
        f"compacted {report.files_in} files into {report.files_out} "
        f"in {report.partitions} partitions; deleted {len(report.deleted)} retired files"
    )
    return MaterializeResult(
        metadata={
            "partitions": report.partitions,
            "files_in": report.files_in,
            "files_out": report.files_out,
            "rows": report.rows,
            "bytes_in": report.bytes_in,
            "bytes_out": report.bytes_out,
            "retired_files_deleted": len(report.deleted),
            "commit": report.commit_id or "(nothing to compact)",
            "seconds": round(report.seconds, 2),
        }
    )


KAFKA_INGEST_KEY = AssetKey(["lake", "kafka_ingest"])


class KafkaIngestSettings(Config):
    bootstrap: str = Field(description="Kafka bootstrap servers, host:port[,host:port…]")
    group: str = Field(default="bidlake-dagster", description="consumer group of the offsets")
    max_seconds: float = Field(default=240.0, description="stop after this long (committed)")


@asset(
    key=KAFKA_INGEST_KEY,
    group_name=RAW_GROUP,
    pool=pools.LAKE,
    kinds={"kafka", "parquet"},
    description="The event topics drained into the raw lake (the Kafka transport).",
)
def kafka_ingest(
    context: AssetExecutionContext, config: KafkaIngestSettings, platform: PlatformResource
) -> MaterializeResult:
    """Drain the event topics into the raw lake, as the landing sensor does for files.

    Same validation, quarantine, dedup and ledger as file ingest (`ingest.kafka_source`);
    offsets are committed only after the Parquet holding them. `assign` mode reads every
    partition without joining the group: the lake pool already makes this run the only
    consumer, so no rebalance wait is paid. Stops when caught up or after `max_seconds`.
    """
    from ingest.kafka_source import consume

    report = consume(
        config.bootstrap,
        config.group,
        platform.home,
        once=True,
        assign=True,
        max_seconds=config.max_seconds,
    )
    context.log.info(report.summary())
    if not report.accounted:
        raise Failure(description="messages not accounted for; they are read again next run")
    return MaterializeResult(
        metadata={
            **report.totals(),
            "messages": report.messages,
            "caught_up": report.caught_up,
            "offsets_skipped": report.skipped,
            "offset_commit_failures": report.offset_commit_failures,
            "commits": MetadataValue.json(report.commits),
            "seconds": round(report.seconds, 2),
        }
    )
