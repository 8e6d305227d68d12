from __future__ import annotations

from collections import Counter
from pathlib import Path

from contract.events import EVENT_TYPES
from simulator.parallel import split
from simulator.run import simulate
from tests.simulator.conftest import START, records, small_config


def test_parallel_workers_write_the_same_records(tmp_path: Path) -> None:
    one = simulate(small_config(tmp_path / "one", hours=3, rate=2.0))
    two = simulate(small_config(tmp_path / "two", hours=3, rate=2.0), workers=2)
    for event_type in EVENT_TYPES:
        a = Counter(records(tmp_path / "one" / "landing", event_type))
        b = Counter(records(tmp_path / "two" / "landing", event_type))
        # Equal and not trivially so: what one process wrote, all of it, in both.
        assert sum(a.values()) == one.events_written[event_type] > 0, event_type
        assert a == b, event_type
    assert (one.requests, one.impressions, one.clicks) == (
        two.requests,
        two.impressions,
        two.clicks,
    )
    assert one.impressions > 0 and one.clicks > 0
    assert len(two.truth_files) == 3
    assert {p.name.split("-")[2] for p in two.files} == {"20260105T14", "20260105T16"}


def test_split_into_consecutive_windows(tmp_path: Path) -> None:
    config = small_config(tmp_path, hours=5)
    parts = split(config, 2)
    assert [(p.window.start.hour, p.window.hours) for p in parts] == [(14, 3), (17, 2)]
    assert all(p.window.rate == config.window.rate and p.landing == config.landing for p in parts)
    assert [p.window.hours for p in split(config, 8)] == [1] * 5
    assert parts[0].window.start == START
