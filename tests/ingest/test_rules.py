from __future__ import annotations

import pytest

from contract import events as contract
from ingest.decoded import rows_to_table
from ingest.errors import ErrorCode
from ingest.rules import check, explain
from tests.ingest.factories import event


@pytest.mark.parametrize("event_type", contract.EVENT_TYPES)
def test_factory_events_are_valid(event_type: str) -> None:
    columns = contract.columns(event_type)
    full = {c.name: ([] if c.repeated else c.python_type()) for c in columns}
    rows = [full | event(event_type, i) for i in range(5)]
    assert check(rows_to_table(rows, columns), event_type, columns).all_valid


@pytest.mark.parametrize(
    ("event_type", "override", "code", "field"),
    [
        ("click", {"event_id": ""}, ErrorCode.MISSING_REQUIRED, "event_id"),
        ("click", {"bid_id": ""}, ErrorCode.MISSING_REQUIRED, "bid_id"),
        ("bid", {"creative_id": ""}, ErrorCode.MISSING_REQUIRED, "creative_id"),
        ("click", {"event_time": 0}, ErrorCode.BAD_EVENT_TIME, "event_time"),
        ("click", {"event_time": 1_767_571_200}, ErrorCode.BAD_EVENT_TIME, "event_time"),
        ("click", {"event_time": 1_767_571_200_000_000}, ErrorCode.BAD_EVENT_TIME, "event_time"),
        ("bid", {"pctr": 1.5}, ErrorCode.OUT_OF_RANGE, "pctr"),
        ("bid", {"pcvr": float("nan")}, ErrorCode.OUT_OF_RANGE, "pcvr"),
        ("bid", {"bid_price_micros": -1}, ErrorCode.OUT_OF_RANGE, "bid_price_micros"),
        (
            "impression",
            {"clearing_price_micros": -5},
            ErrorCode.OUT_OF_RANGE,
            "clearing_price_micros",
        ),
        ("bid_request", {"user_hour": 24}, ErrorCode.OUT_OF_RANGE, "user_hour"),
        ("bid_request", {"device_type": "toaster"}, ErrorCode.UNKNOWN_VALUE, "device_type"),
        ("conversion", {"conversion_type": "refund"}, ErrorCode.UNKNOWN_VALUE, "conversion_type"),
    ],
)
def test_each_rule(event_type: str, override: dict, code: ErrorCode, field: str) -> None:
    columns = contract.columns(event_type)
    full = {c.name: ([] if c.repeated else c.python_type()) for c in columns}
    rows = [full | event(event_type, 0), full | event(event_type, 1, **override)]
    verdict = check(rows_to_table(rows, columns), event_type, columns)
    assert verdict.valid.tolist() == [True, False]
    assert verdict.code(1) is code
    assert columns[int(verdict.fields[1])].name == field
    error = explain(rows[1], code, field, event_type, columns)
    assert error.code is code and field in error.message


def test_first_rule_in_precedence_wins() -> None:
    columns = contract.columns("bid")
    full = {c.name: ([] if c.repeated else c.python_type()) for c in columns}
    row = full | event("bid", 0, campaign_id="", pctr=7.0)
    verdict = check(rows_to_table([row], columns), "bid", columns)
    assert verdict.code(0) is ErrorCode.MISSING_REQUIRED


def test_bad_event_time_message_hints_at_the_unit() -> None:
    columns = contract.columns("click")
    error = explain(
        {"event_time": 1_767_571_200}, ErrorCode.BAD_EVENT_TIME, "event_time", "click", columns
    )
    assert "seconds" in error.message


def test_int64_beyond_2_to_the_53_is_range_checked_without_raising() -> None:
    # Compared with a float bound, pyarrow refused to cast 2**53 + 1 and the run died.
    columns = contract.columns("conversion")
    full = {c.name: ([] if c.repeated else c.python_type()) for c in columns}
    rows = [full | event("conversion", 1, conversion_value_micros=v) for v in (2**53 + 1, -1)]
    verdict = check(rows_to_table(rows, columns), "conversion", columns)
    assert verdict.valid.tolist() == [True, False]
    assert verdict.code(1) is ErrorCode.OUT_OF_RANGE


def test_the_file_window_depends_on_the_event_type() -> None:
    from ingest.rules import LOOKAHEAD_HOURS, file_window, widest_window_hours

    hour = 1_767_571_200_000 // 3_600_000
    windows = {t: file_window(t, hour) for t in contract.EVENT_TYPES}
    assert all(w is not None for w in windows.values())
    spans = {t: w.hours for t, w in windows.items() if w is not None}
    assert spans == {
        "bid_request": 1 + LOOKAHEAD_HOURS,
        "bid": 1 + LOOKAHEAD_HOURS,
        "impression": 24 + LOOKAHEAD_HOURS,
        "click": 24 + LOOKAHEAD_HOURS,
        "conversion": 7 * 24 + LOOKAHEAD_HOURS,
    }
    assert widest_window_hours() == 170 == max(spans.values())
    assert file_window("no_such_type", hour) is None
