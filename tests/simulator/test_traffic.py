from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulator.traffic import TrafficWindow, parse_start

START = datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_parse_start() -> None:
    assert parse_start("2026-01-05T07") == datetime(2026, 1, 5, 7, tzinfo=UTC)
    assert parse_start("2026-01-05T09:00+02:00") == datetime(2026, 1, 5, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"start: not an ISO date-hour like 2026-01-05T00"):
        parse_start("yesterday")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": datetime(2026, 1, 5, 14)}, "start must be a UTC datetime"),
        (
            {"start": datetime(2026, 1, 5, 14, tzinfo=timezone(timedelta(hours=1)))},
            "start must be a UTC datetime",
        ),
        ({"start": START.replace(minute=30)}, "start must be a whole hour"),
        ({"hours": 0}, "hours must be a whole number >= 1"),
        ({"hours": 1.5}, "hours must be a whole number >= 1"),
        ({"rate": 0.0}, "rate must be a number > 0"),
        ({"rate": float("nan")}, "rate must be a number > 0"),
        ({"rate": float("inf")}, "rate must be a number > 0"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"seed": True}, "seed must be a whole number >= 0"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficWindow(**({"start": START} | fields))


def test_parse_checks_like_the_constructor() -> None:
    window = TrafficWindow.parse("2026-01-05T14", hours=2, rate=5, seed=7)
    assert window == TrafficWindow(START, hours=2, rate=5, seed=7)
    with pytest.raises(ValueError, match="whole hour"):
        TrafficWindow.parse("2026-01-05T14:30")


def test_minutes_and_end() -> None:
    window = TrafficWindow(START, hours=3)
    assert window.first_minute * 60 == int(START.timestamp())
    assert window.minutes == 180
    assert window.end == START + timedelta(hours=3)


def test_split_into_consecutive_whole_hours() -> None:
    window = TrafficWindow(START, hours=5, rate=2.0, seed=3)
    parts = window.split(2)
    assert [(p.start, p.hours) for p in parts] == [(START, 3), (START + timedelta(hours=3), 2)]
    assert {(p.rate, p.seed) for p in parts} == {(2.0, 3)}
    assert [p.hours for p in window.split(8)] == [1] * 5
    assert window.split(1) == [window]
