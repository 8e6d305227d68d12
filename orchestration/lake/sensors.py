"""The lake's sensors: the landing sensor, and the one that evaluates raw freshness.

The landing sensor: new closed log files start an ingest run, one per hour of files.

Every 30 s (while the daemon runs: `bidlake ui`) the sensor lists the closed log files in
`<home>/landing` and drops the ones the ingest ledger already has (same path, size and
mtime) and the ones an earlier tick already requested. What is left, grouped by hour
(`orchestration.landing.hour_of`), becomes one `ingest_job` run per hour, for exactly
those files. Its run key is a digest of the hour, the file list and the attempt, so
Dagster never starts the same request twice, even if the cursor were lost.

The cursor holds only the files requested but not yet in the ledger (a run queued or
running); once the ledger has them they leave the cursor, so it stays as small as the
backlog, not as large as the landing folder's history. A run that failed leaves its
files unknown to the ledger; after `RETRY_AFTER` they are requested again, under a new
run key (the attempt is the time of the re-request).

`raw_freshness_sensor` evaluates the raw tables' freshness checks
(`orchestration.lake.checks`) every 30 s while the daemon runs.
"""

import hashlib
import json
import time
import warnings
from collections.abc import Iterator

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    SupersessionWarning,
    build_sensor_for_freshness_checks,
    sensor,
)

from orchestration.lake.assets import INGEST_OP
from orchestration.lake.checks import RAW_FRESHNESS_CHECKS
from orchestration.lake.jobs import INGEST
from orchestration.landing import by_hour, closed_log_files
from orchestration.resources import PlatformResource

INTERVAL_SECONDS = 30
RETRY_AFTER = 15 * 60.0  # seconds a requested file may stay un-ingested before re-request
MAX_FILES_PER_RUN = 500  # bounds one run's work (and its run config) after a long outage


def _read_cursor(raw: str | None) -> dict[str, float]:
    """path -> when it was requested (epoch seconds)."""
    if not raw:
        return {}
    data = json.loads(raw)
    return {str(k): float(v) for k, v in data.items()}


def plan(
    platform: PlatformResource, cursor: str | None, now: float
) -> tuple[list[RunRequest], str]:
    """The run requests for the current landing folder, and the new cursor."""
    from ingest.ledger import Ledger

    home = platform.home
    requested = _read_cursor(cursor)
    known = Ledger(home).index().by_identity
    new = []
    still_pending: dict[str, float] = {}
    for path in closed_log_files(home.landing):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed between listing and stat
        if (str(path), stat.st_size, stat.st_mtime_ns) in known:
            continue
        since = requested.get(str(path))
        if since is not None and now - since < RETRY_AFTER:
            still_pending[str(path)] = since
            continue
        new.append(path)
    requests = []
    for hour, files in by_hour(new).items():
        for start in range(0, len(files), MAX_FILES_PER_RUN):
            chunk = [str(f) for f in files[start : start + MAX_FILES_PER_RUN]]
            digest = hashlib.sha256("\n".join([hour, *chunk]).encode()).hexdigest()[:16]
            # First request: attempt 0, so a lost cursor cannot start the same files twice.
            # A re-request (the earlier run failed) needs a new key: the time it is made.
            attempt = int(now) if any(f in requested for f in chunk) else 0
            requests.append(
                RunRequest(
                    run_key=f"landing-{hour}-{digest}-{attempt}",
                    partition_key=hour,
                    run_config={"ops": {INGEST_OP: {"config": {"files": chunk}}}},
                    tags={"bidlake/trigger": "landing_sensor", "bidlake/files": str(len(chunk))},
                )
            )
            for f in chunk:
                still_pending[f] = now
    return requests, json.dumps(still_pending, sort_keys=True)


@sensor(
    job_name=INGEST,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts ingest_job for new closed tracking-log files in the landing folder.",
)
def landing_sensor(
    context: SensorEvaluationContext, platform: PlatformResource
) -> Iterator[RunRequest | SkipReason]:
    requests, cursor = plan(platform, context.cursor, time.time())
    context.update_cursor(cursor)
    if not requests:
        yield SkipReason(f"no new closed log files in {platform.home.landing}")
        return
    yield from requests


with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)  # see orchestration.lake.checks
    raw_freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=RAW_FRESHNESS_CHECKS, name="raw_freshness_sensor"
    )
