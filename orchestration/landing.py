"""The landing folder as Dagster sees it: closed tracking-log files, grouped by hour.

A closed log file is `<landing>/<event_type>/<writer_id>-<YYYYMMDD>T<HH>-<seq>.<ext>`
(docs/interfaces.md); files being written start with "." and are never listed. The hour in the
name is the writer's hour, and it is what an hourly raw partition means to Dagster: "the
log files of that hour". The records inside still go to the lake partition of their own
event_time (ingest decides that), so a late event is never lost by this grouping.

`hour_of` says exactly which hour a file belongs to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from contract.landing_names import is_closed_log, parse_name
from orchestration.partitions import HOUR_KEY_FORMAT


def closed_log_files(landing: Path) -> Iterator[Path]:
    """Every closed log file below `landing/<event_type>/`, in name order per folder."""
    if not landing.is_dir():
        return
    for folder in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.iterdir()):
            if not is_closed_log(path):
                continue
            if path.is_file():
                yield path


def hour_of(path: Path) -> str:
    """The hourly partition key a log file belongs to: the hour in its name, but never
    later than the hour it landed (its modification time).

    The cap matters for writers that log ahead of the clock — the simulator writes the
    future conversions of a window's last clicks into files of their own (later) hours —
    because a partition key after the current hour does not exist yet. A file without a
    readable hour in its name (a foreign writer) is grouped by its modification time, so it
    is still ingested, and ingest reports what is wrong with it, if anything.
    """
    landed = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(
        minute=0, second=0, microsecond=0
    )
    named = _named_hour(path.name)
    moment = landed if named is None else min(named, landed)
    return moment.strftime(HOUR_KEY_FORMAT)


def _named_hour(name: str) -> datetime | None:
    parsed = parse_name(name)
    return parsed.hour_start if parsed else None


def by_hour(paths: Iterable[Path]) -> dict[str, list[Path]]:
    """Files grouped by hourly partition key, keys and files in order."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        groups[hour_of(path)].append(path)
    return {key: sorted(groups[key]) for key in sorted(groups)}


def files_in_hours(landing: Path, first_key: str, last_key: str) -> list[Path]:
    """The closed log files whose hour lies in `[first_key, last_key]` (inclusive keys)."""
    return [p for p in closed_log_files(landing) if first_key <= hour_of(p) <= last_key]
