"""The semantic rules a well-typed event must also pass, checked column-wise.

Types are the decoders' business (`ingest.jsonl`, `ingest.protobuf`); this module owns
what comes after: required keys, the event_time window, ranges and vocabularies. The rules
are written once and evaluated vectorized over a whole Arrow table (a few passes of
pyarrow compute per column), so the fast path and the per-record slow path agree by
construction: both hand their rows to `check`.

Ranges are keyed by column name, not by event type, so a field added to the contract
later (say `floor_price_micros` on a new type) gets the rule of its name for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contract.events import Column
from ingest.errors import ErrorCode, RecordError

# The plausible window for event_time (epoch ms, UTC). Fixed rather than "now ± x" so that
# validating a file gives the same answer today and on a re-run next year (idempotency).
# It catches the usual unit mistakes: seconds (1.7e9 -> 1970) and microseconds (-> year
# 55000), and zero (a missing event_time).
EVENT_TIME_MIN_MS = 1_262_304_000_000  # 2010-01-01T00:00Z, before OpenRTB existed
EVENT_TIME_MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00Z, exclusive

# The window relative to the file: a landing file is named by the UTC hour its events
# belong to (`contract.landing_names`; the log writer files each event by its own
# event_time), so an event far from that hour is a writer's bug or forged, and accepting
# it would let one file scatter rows over thousands of hour partitions. Accepted:
# [hour start - lookback, hour start + LOOKAHEAD_HOURS), i.e. the file's hour, one hour of
# clock skew after it, and a lookback per type for events stamped before they were logged:
# - bid_request, bid: 1 h. The bidder stamps and logs them in the same call; 1 h covers
#   skew and a writer that names files by the hour it flushes.
# - impression, click: 24 h. Win notices and click redirects can be stamped upstream and
#   forwarded late (an exchange's delayed notices, a tracker replaying after an outage).
# - conversion: 7 days. Postbacks and offline uploads report the conversion's own time and
#   legitimately arrive days later; 7 days is the attribution window (an older conversion
#   could not be credited to a click anyway).
# Relative to the file, not to "now", so a re-run or a backfill gives the same answer.
LOOKBACK_HOURS: dict[str, int] = {
    "bid_request": 1,
    "bid": 1,
    "impression": 24,
    "click": 24,
    "conversion": 7 * 24,
}
LOOKAHEAD_HOURS = 2
_HOUR_MS = 3_600_000

# Keys without which an event cannot be joined into the request -> bid -> impression ->
# click -> conversion chain (event_id is required of every type). A conversion's bid_id
# is optional by contract: attribution falls back to user and campaign.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "bid_request": ("request_id", "imp_id", "exchange"),
    "bid": ("request_id", "imp_id", "campaign_id", "creative_id"),
    "impression": ("bid_id", "campaign_id"),
    "click": ("bid_id", "campaign_id"),
    "conversion": ("campaign_id",),
}
UNIT_INTERVAL = frozenset({"pctr", "pcvr", "pacing_factor"})  # probabilities, multipliers
NON_NEGATIVE = frozenset({"ad_width", "ad_height", "tmax_ms"})  # plus every *_micros
BOUNDED: dict[str, tuple[int, int]] = {"user_hour": (0, 23)}  # inclusive


@dataclass(frozen=True)
class TimeWindow:
    """The event times a file may hold: [start_ms, end_ms), from the hour in its name."""

    file_hour: int  # hours since the epoch (the landing name's hour)
    start_ms: int
    end_ms: int  # exclusive
    lookback_hours: int

    @property
    def hours(self) -> int:
        """How many hour partitions the window spans."""
        return (self.end_ms - self.start_ms) // _HOUR_MS

    def describe(self) -> str:
        hour = _iso(self.file_hour * _HOUR_MS)
        return (
            f"[{_iso(self.start_ms)}, {_iso(self.end_ms)}): {self.lookback_hours} h before "
            f"to {LOOKAHEAD_HOURS} h after the start of the file's hour {hour}"
        )


def file_window(event_type: str, file_hour: int) -> TimeWindow | None:
    """The window of a file of `event_type` named for `file_hour`; None for unknown types."""
    back = LOOKBACK_HOURS.get(event_type)
    if back is None:
        return None
    start = file_hour * _HOUR_MS
    return TimeWindow(file_hour, start - back * _HOUR_MS, start + LOOKAHEAD_HOURS * _HOUR_MS, back)


def widest_window_hours() -> int:
    """Hour partitions the widest window spans (conversions: 7 days + 2 h = 170)."""
    return max(LOOKBACK_HOURS.values()) + LOOKAHEAD_HOURS


def required_keys(event_type: str) -> tuple[str, ...]:
    return ("event_id", *REQUIRED_KEYS.get(event_type, ()))


def _range_of(name: str) -> tuple[float, float] | None:
    if name in UNIT_INTERVAL:
        return (0.0, 1.0)
    if name in BOUNDED:
        low, high = BOUNDED[name]
        return (float(low), float(high))
    if name in NON_NEGATIVE or name.endswith("_micros"):
        return (0.0, float("inf"))
    return None


# Precedence when a record breaks several rules: the first listed wins (one code per row).
_ORDER = (
    ErrorCode.MISSING_REQUIRED,
    ErrorCode.BAD_EVENT_TIME,
    ErrorCode.EVENT_TIME_OUTSIDE_WINDOW,
    ErrorCode.OUT_OF_RANGE,
    ErrorCode.UNKNOWN_VALUE,
)
_CODE_INDEX = {code: i + 1 for i, code in enumerate(_ORDER)}  # 0 = valid


@dataclass(frozen=True)
class Verdict:
    """Per row: 0 when valid, else an index into the rule codes, and the field to blame."""

    codes: np.ndarray  # uint8
    fields: np.ndarray  # int16 index into the columns, -1 for none

    @property
    def valid(self) -> np.ndarray:
        return self.codes == 0

    @property
    def all_valid(self) -> bool:
        return not self.codes.any()

    def code(self, row: int) -> ErrorCode:
        return _ORDER[int(self.codes[row]) - 1]


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow result as a numpy bool array (nulls count as False)."""
    filled = pc.fill_null(values, False)
    if isinstance(filled, pa.ChunkedArray):
        if filled.num_chunks == 0:
            return np.zeros(0, dtype=bool)
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def check(
    table: pa.Table,
    event_type: str,
    columns: Sequence[Column],
    window: TimeWindow | None = None,
) -> Verdict:
    """Evaluate every rule on `table` (contract columns, defaults filled, no nulls).

    `window`: the file's event-time window (`file_window`); None when the file's name
    carries no hour (then only the fixed plausibility window applies).
    """
    n = table.num_rows
    codes = np.zeros(n, dtype=np.uint8)
    fields = np.full(n, -1, dtype=np.int16)
    index = {c.name: i for i, c in enumerate(columns)}

    def flag(mask: np.ndarray, code: ErrorCode, field: str) -> None:
        if mask.any():
            hit = mask & (codes == 0)
            codes[hit] = _CODE_INDEX[code]
            fields[hit] = index[field]

    for name in required_keys(event_type):
        if name in index:
            flag(_mask(pc.equal(table[name], "")), ErrorCode.MISSING_REQUIRED, name)
    if "event_time" in index:
        t = table["event_time"]
        outside = pc.or_(pc.less(t, EVENT_TIME_MIN_MS), pc.greater_equal(t, EVENT_TIME_MAX_MS))
        flag(_mask(outside), ErrorCode.BAD_EVENT_TIME, "event_time")
        if window is not None:
            away = pc.or_(pc.less(t, window.start_ms), pc.greater_equal(t, window.end_ms))
            flag(_mask(away), ErrorCode.EVENT_TIME_OUTSIDE_WINDOW, "event_time")
    for column in columns:
        bounds = None if column.repeated else _range_of(column.name)
        if bounds is None:
            continue
        low, high = bounds
        values = table[column.name]
        if pa.types.is_integer(values.type):
            # Compared as integers: an int64 beyond 2**53 cannot be cast to a double
            # safely, and pyarrow raises instead of comparing (a valid record took the
            # whole run down).
            inside = pc.greater_equal(values, int(low))
            if high != float("inf"):
                inside = pc.and_(inside, pc.less_equal(values, int(high)))
        else:
            # NaN compares false both ways, so "not (low <= v <= high)" also rejects NaN.
            inside = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
        flag(~_mask(inside), ErrorCode.OUT_OF_RANGE, column.name)
    for column in columns:
        if column.vocabulary is None or column.repeated:
            continue
        allowed = pa.array(sorted(column.vocabulary), type=pa.string())
        flag(
            ~_mask(pc.is_in(table[column.name], value_set=allowed)),
            ErrorCode.UNKNOWN_VALUE,
            column.name,
        )
    return Verdict(codes, fields)


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError, OSError):
        return "not a representable date"


def explain(
    row: dict[str, object],
    code: ErrorCode,
    field: str,
    event_type: str,
    columns: Sequence[Column],
    window: TimeWindow | None = None,
) -> RecordError:
    """The message for a row `check` rejected (built only for rejected rows: cheap).

    `row` needs only the blamed field."""
    value = row.get(field)
    if code is ErrorCode.MISSING_REQUIRED:
        what = "empty" if field in row else "missing"
        return RecordError(
            code, f"{field} is required for {event_type} events but is {what}", field
        )
    if code is ErrorCode.BAD_EVENT_TIME:
        ms = int(value)  # type: ignore[call-overload]
        hint = ""
        if 0 < ms < EVENT_TIME_MIN_MS // 100:
            hint = " (looks like seconds, not milliseconds)"
        elif ms >= EVENT_TIME_MAX_MS:
            hint = " (looks like microseconds or nanoseconds, not milliseconds)"
        elif ms == 0:
            hint = " (missing)"
        return RecordError(
            code,
            f"event_time {ms} = {_iso(ms)} is outside the plausible window "
            f"[2010-01-01, 2100-01-01) of epoch milliseconds{hint}",
            field,
        )
    if code is ErrorCode.EVENT_TIME_OUTSIDE_WINDOW:
        ms = int(value)  # type: ignore[call-overload]
        where = window.describe() if window is not None else "the file's window"
        return RecordError(
            code,
            f"event_time {ms} = {_iso(ms)} is outside the window of this {event_type} file {where}",
            field,
        )
    if code is ErrorCode.OUT_OF_RANGE:
        bounds = _range_of(field)
        low, high = bounds if bounds else (float("-inf"), float("inf"))
        unbounded = high == float("inf")
        want = f"must be >= {low:g}" if unbounded else f"must be in [{low:g}, {high:g}]"
        return RecordError(code, f"{field} = {value!r} {want}", field)
    if code is ErrorCode.UNKNOWN_VALUE:
        vocabulary = next(c.vocabulary for c in columns if c.name == field) or frozenset()
        allowed = ", ".join(repr(v) for v in sorted(vocabulary))
        return RecordError(code, f"{field} = {value!r} is not one of {allowed}", field)
    raise ValueError(f"not a rule code: {code}")
