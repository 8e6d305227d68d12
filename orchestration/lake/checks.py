"""Asset checks that are not part of an asset's own step.

- `ingest_reconciliation` on every `raw/<event_type>`: for the ledger commits of the
  latest ingest, every source of that type satisfies records = raw + quarantined +
  duplicates, *and* those numbers match what is on disk — the raw rows in the ledger
  equal the rows its output files hold (Parquet footers, read now), and the quarantined
  rows equal the source's rows in the quarantine file. A ledger that lies, a raw file
  that went missing or was truncated, a quarantine file short of rows: each fails it, by
  name. Severity ERROR: `bidlake run` does not build on unreconciled data.
- freshness of the raw tables: a raw table not updated for `RAW_FRESHNESS` fails
  (WARN), evaluated by Dagster's freshness-check sensor while the daemon runs
  (`orchestration.lake.sensors.raw_freshness_sensor`).

dbt tests are checks too (dagster-dbt turns each into a check on its model), and the
models' quality gate is a check emitted by the training step (`orchestration.models`).

Cost of the reconciliation: one footer read per output file of the checked commits and
one column scan of their quarantine files — independent of the lake's total size.
"""

import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    SupersessionWarning,
    build_last_update_freshness_checks,
    multi_asset_check,
)

from bidlake.paths import Home
from contract.events import EVENT_TYPES
from orchestration.lake.assets import RAW_KEYS, raw_key
from orchestration.resources import PlatformResource

if TYPE_CHECKING:
    from ingest.ledger import Commit

RECONCILIATION = "ingest_reconciliation"
# The bidder rotates its logs hourly and the sensor polls every 30 s: two hours without a
# raw update means ingestion stopped (or traffic did).
RAW_FRESHNESS = timedelta(hours=2)


@dataclass
class Reconciliation:
    """The verdict for one event type over some ledger commits."""

    event_type: str
    commits: list[str]
    sources: int = 0
    records: int = 0
    raw: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def reconcile(home: Home, event_type: str, commit_ids: Iterable[str]) -> Reconciliation:
    """Recount one event type's part of the given ingest commits against the disk."""
    import pyarrow.parquet as pq

    from ingest.ledger import Commit, Ledger

    ledger = Ledger(home)
    result = Reconciliation(event_type, sorted(set(commit_ids)))
    compacted = {rel for c in ledger.commits() if c.kind == "compaction" for rel in c.retire}
    for commit_id in result.commits:
        path = ledger.batches / f"{commit_id}.json"
        if not path.exists():
            result.problems.append(f"commit {commit_id}: not in the ledger ({path})")
            continue
        commit = Commit.from_json(json.loads(path.read_bytes()))
        sources = [s for s in commit.sources if s.event_type == event_type]
        result.sources += len(sources)
        raw_in_ledger = 0
        for s in sources:
            result.records += s.records
            result.raw += s.raw
            result.quarantined += s.quarantined
            result.duplicates += s.duplicates
            raw_in_ledger += s.raw
            if s.records != s.raw + s.quarantined + s.duplicates:
                result.problems.append(
                    f"{s.path}: {s.records} records != {s.raw} raw + {s.quarantined} "
                    f"quarantined + {s.duplicates} duplicates"
                )
        prefix = f"raw/{event_type}/"
        outputs = [o for o in commit.outputs if o.path.startswith(prefix)]
        rows_in_outputs = sum(o.rows for o in outputs)
        if rows_in_outputs != raw_in_ledger:
            result.problems.append(
                f"commit {commit_id}: sources say {raw_in_ledger} raw rows, "
                f"its {event_type} files say {rows_in_outputs}"
            )
        for output in outputs:
            file = home.lake / output.path
            if output.path.removeprefix("raw/") in compacted and not file.exists():
                continue  # merged by compaction and vacuumed: counted in that commit
            if not file.exists():
                result.problems.append(f"{file}: missing (commit {commit_id})")
                continue
            on_disk = pq.read_metadata(file).num_rows
            result.files_checked += 1
            if on_disk != output.rows:
                result.problems.append(
                    f"{file}: {on_disk} rows on disk, the ledger says {output.rows}"
                )
        result.problems += _check_quarantine(home, commit, event_type)
    return result


def _check_quarantine(home: Home, commit: "Commit", event_type: str) -> list[str]:
    """Rows per source in the commit's quarantine file vs the ledger's quarantined counts."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sources = [s for s in commit.sources if s.event_type == event_type]
    expected = {s.path: s.quarantined for s in sources if s.status == "ingested"}
    if not any(expected.values()):
        return []
    records = [o for o in commit.outputs if o.path.startswith("quarantine/records/")]
    if not records:
        return [f"commit {commit.commit_id}: quarantined rows but no quarantine file"]
    counts: dict[str, int] = {}
    for output in records:
        file = home.lake / output.path
        if not file.exists():
            return [f"{file}: missing quarantine file"]
        column = pq.read_table(file, columns=["source_path"]).column("source_path")
        for row in pc.value_counts(column).to_pylist():
            counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
    return [
        f"{path}: ledger says {n} quarantined, the quarantine holds {counts.get(path, 0)}"
        for path, n in expected.items()
        if counts.get(path, 0) != n
    ]


def _latest_commits(context: AssetCheckExecutionContext, key: AssetKey) -> list[str] | None:
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("commits")
    data = getattr(value, "data", value)
    return [str(c) for c in data] if isinstance(data, list) else []


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            RECONCILIATION,
            asset=raw_key(event_type),
            description="records = raw + quarantined + duplicates for the latest ingest, "
            "recounted from the Parquet files and the quarantine on disk.",
        )
        for event_type in EVENT_TYPES
    ],
    can_subset=True,
)
def ingest_reconciliation(
    context: AssetCheckExecutionContext, platform: PlatformResource
) -> Iterator[AssetCheckResult]:
    home = platform.home
    for check_key in context.selected_asset_check_keys:
        key = check_key.asset_key
        event_type = key.path[-1]
        commits = _latest_commits(context, key)
        if commits is None:
            yield AssetCheckResult(
                asset_key=key,
                check_name=RECONCILIATION,
                passed=True,
                description="never ingested: nothing to reconcile",
            )
            continue
        result = reconcile(home, event_type, commits)
        yield AssetCheckResult(
            asset_key=key,
            check_name=RECONCILIATION,
            passed=result.passed,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{result.sources} sources reconcile: {result.records} records = "
                f"{result.raw} raw + {result.quarantined} quarantined + "
                f"{result.duplicates} duplicates"
                if result.passed
                else f"{len(result.problems)} problem(s): {result.problems[0]}"
            ),
            metadata={
                "commits": MetadataValue.json(result.commits),
                "sources": result.sources,
                "records": result.records,
                "raw": result.raw,
                "quarantined": result.quarantined,
                "duplicates": result.duplicates,
                "files_recounted": result.files_checked,
                "problems": MetadataValue.json(result.problems[:50]),
            },
        )


# Dagster 1.13 prefers FreshnessPolicy on the asset, evaluated by its daemon; that is a
# freshness *state*, not an asset check. Freshness here is deliberately a check, like the
# others: it sits in the asset's Checks tab, has a history and a severity, and a run can
# read it. Its evaluation needs a sensor (`orchestration.lake.sensors`).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)
    RAW_FRESHNESS_CHECKS = build_last_update_freshness_checks(
        assets=RAW_KEYS, lower_bound_delta=RAW_FRESHNESS
    )
