from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from contract.events import EVENT_MESSAGES, EVENT_TYPES, columns
from simulator.run import simulate
from simulator.run_types import SimulationSummary
from tests.simulator.conftest import START, records, small_config


def run(tmp: Path, **overrides) -> SimulationSummary:
    return simulate(small_config(tmp, **overrides))


def parse(event_type: str, record: bytes, fmt: str) -> Message | None:
    """The record as a contract message, or None when the contract rejects it."""
    try:
        if fmt == "jsonl":
            return json_format.Parse(record, EVENT_MESSAGES[event_type]())
        return EVENT_MESSAGES[event_type].FromString(record)
    except (json_format.ParseError, DecodeError):
        return None


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = run(tmp_path / "a", rate=5.0)
    run(tmp_path / "b", rate=5.0)
    run(tmp_path / "c", rate=5.0, seed=2)
    assert a.files and a.truth_files
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    # nothing half-written is left behind
    assert not [p for p in (tmp_path / "a").rglob("*") if p.name.startswith(".")]


@pytest.mark.parametrize(("fmt", "compress"), [("jsonl", False), ("protobuf", True)])
def test_every_event_validates_against_the_contract(
    tmp_path: Path, fmt: str, compress: bool
) -> None:
    summary = run(tmp_path, fmt=fmt, compress=compress, rate=3.0)
    vocab = {c.name: c.vocabulary for t in EVENT_TYPES for c in columns(t) if c.vocabulary}
    seen: dict[str, list[Message]] = {}
    for event_type in EVENT_TYPES:
        messages = [parse(event_type, r, fmt) for r in records(tmp_path / "landing", event_type)]
        assert None not in messages, event_type
        seen[event_type] = messages  # type: ignore[assignment]
        for message in messages:
            for name, allowed in vocab.items():
                if name in message.DESCRIPTOR.fields_by_name:
                    assert getattr(message, name) in allowed, (event_type, name)
        assert summary.events_written[event_type] == len(messages)
    requests = {m.request_id for m in seen["bid_request"]}
    bids = {m.event_id: m for m in seen["bid"]}
    assert {m.request_id for m in bids.values()} <= requests
    no_bid = {m.request_id for m in seen["bid_request"] if m.no_bid_reason}
    assert not no_bid & {m.request_id for m in bids.values()}
    impressions = {m.bid_id: m for m in seen["impression"]}
    assert set(impressions) <= set(bids)
    for bid_id, imp in impressions.items():
        assert 0 < imp.clearing_price_micros <= bids[bid_id].bid_price_micros
        assert imp.event_time > bids[bid_id].event_time
    assert {m.bid_id for m in seen["click"]} <= set(impressions)
    known = [m for m in seen["conversion"] if m.bid_id]
    assert {m.bid_id for m in known} <= {m.bid_id for m in seen["click"]}
    assert summary.conversions == len(seen["conversion"]) > 0


def test_realized_ctr_matches_the_truth(tmp_path: Path) -> None:
    summary = run(tmp_path, rate=40.0)
    assert summary.impressions > 20_000 and summary.clicks > 50
    realized_ctr = summary.clicks / summary.impressions
    z = (realized_ctr - summary.mean_p_click) / summary.ctr_standard_error
    assert abs(z) < 4, (realized_ctr, summary.mean_p_click, z)
    assert 0.001 < summary.mean_p_click < 0.01  # display CTR, 0.1-1 %
    truth = pq.read_table(tmp_path / "truth").to_pydict()
    impression_bids = {
        orjson.loads(r)["bid_id"] for r in records(tmp_path / "landing", "impression")
    }
    assert set(truth["bid_id"]) == impression_bids
    assert len(truth["bid_id"]) == summary.impressions
    assert all(0 < p < 1 for p in truth["p_click"] + truth["p_conversion"])
    assert sum(truth["p_click"]) == pytest.approx(summary.sum_p_click)


def test_duplicates_and_garbage_appear_at_the_asked_rates(tmp_path: Path) -> None:
    summary = run(tmp_path, rate=5.0, duplicate_rate=0.04, corrupt_rate=0.02)
    total_valid = total_dup = total_garbage = 0
    for event_type in EVENT_TYPES:
        raw = records(tmp_path / "landing", event_type)
        messages = [parse(event_type, r, "jsonl") for r in raw]
        valid = [m for m in messages if m is not None]
        garbage = len(messages) - len(valid)
        ids = Counter(m.event_id for m in valid)
        dups = sum(n - 1 for n in ids.values())
        assert max(ids.values()) <= 2
        # a duplicate is the whole event again
        by_id: dict[str, Message] = {}
        for m in valid:
            assert by_id.setdefault(m.event_id, m) == m
        assert dups == summary.duplicates[event_type]
        assert garbage == summary.garbage[event_type]
        total_valid += len(ids)
        total_dup += dups
        total_garbage += garbage
    # binomial: n ~ 37k events; 0.04 ± 0.001 and 0.02 ± 0.0007 (s.e.), 4 s.e. allowed
    assert total_dup / total_valid == pytest.approx(0.04, abs=0.004)
    assert total_garbage / total_valid == pytest.approx(0.02, abs=0.003)


def test_windows_compose(tmp_path: Path) -> None:
    """Two consecutive one-hour windows write the same events as one two-hour window."""
    whole = run(tmp_path / "one", hours=2, rate=3.0)
    run(tmp_path / "two", hours=1, rate=3.0)
    run(tmp_path / "two", hours=1, rate=3.0, start=START.replace(hour=15))

    for event_type in EVENT_TYPES:
        one = Counter(records(tmp_path / "one" / "landing", event_type))
        two = Counter(records(tmp_path / "two" / "landing", event_type))
        # Equal and not trivially so: every event type was written, each event once.
        assert sum(one.values()) == whole.events_written[event_type] > 0, event_type
        assert set(one.values()) == {1}, event_type
        assert one == two, event_type


def test_late_events_land_in_their_own_hours(tmp_path: Path) -> None:
    summary = run(tmp_path, rate=20.0)
    hours = {p.name.split("-")[-2] for p in (tmp_path / "landing" / "conversion").iterdir()}
    assert len(hours) > 1  # conversions up to 7 days later
    for event_type in EVENT_TYPES:
        for path in (tmp_path / "landing" / event_type).iterdir():
            stamp = path.name.split("-")[-2]
            hours_in_file = {orjson.loads(r)["event_time"] // 3_600_000 for r in records_of(path)}
            assert hours_in_file == {
                int(datetime.strptime(stamp, "%Y%m%dT%H").replace(tzinfo=UTC).timestamp()) // 3600
            }
    assert summary.files and all(p.exists() for p in summary.files)


def records_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole hour"):
        run(tmp_path, start=START.replace(minute=30))
    with pytest.raises(ValueError, match="duplicate_rate"):
        run(tmp_path, duplicate_rate=1.5)
    with pytest.raises(ValueError, match="fmt"):
        run(tmp_path, fmt="csv")
    assert not (tmp_path / "landing").exists()


def _logged(landing: Path, event_type: str) -> list[dict]:
    return [orjson.loads(r) for r in records(landing, event_type)]


def test_first_price_winners_pay_their_bid(tmp_path: Path) -> None:
    share = 0.3
    summary = run(tmp_path, rate=5.0, first_price_share=share)
    landing = tmp_path / "landing"
    at = {r["request_id"]: r["auction_type"] for r in _logged(landing, "bid_request")}
    assert set(at.values()) == {1, 2}
    first = sum(1 for v in at.values() if v == 1)
    assert first == summary.first_price_requests
    n = len(at)  # ~18k requests: 4 standard errors of a binomial share
    assert abs(first / n - share) < 4 * (share * (1 - share) / n) ** 0.5
    bids = {b["event_id"]: b for b in _logged(landing, "bid")}
    paid = {1: 0, 2: 0}
    for imp in _logged(landing, "impression"):
        bid = bids[imp["bid_id"]]
        if at[imp["request_id"]] == 1:
            assert imp["clearing_price_micros"] == bid["bid_price_micros"]
        else:
            assert imp["clearing_price_micros"] <= bid["bid_price_micros"]
        paid[at[imp["request_id"]]] += imp["clearing_price_micros"] < bid["bid_price_micros"]
    assert paid[1] == 0 and paid[2] > 0  # second price usually pays less than the bid


def test_first_price_wins_more_and_pays_more_per_win(tmp_path: Path) -> None:
    """The competitors shade in first price, and the default policy does not."""
    second = run(tmp_path / "second", rate=5.0)
    first = run(tmp_path / "first", rate=5.0, first_price_share=1.0)
    assert first.requests == second.requests and first.bids == second.bids
    assert first.impressions > 1.1 * second.impressions
    spend = sum(first.spend_micros.values()) / first.impressions
    assert spend > 1.2 * sum(second.spend_micros.values()) / second.impressions


def test_a_share_of_zero_changes_no_byte(tmp_path: Path) -> None:
    """At the default share (0) every auction is second price and nothing is drawn for
    first price; a share just above 0 draws from its own stream, so the traffic and every
    other draw are those of share 0: the same bytes, unless a first-price auction occurs."""
    run(tmp_path / "zero", rate=3.0)
    run(tmp_path / "tiny", rate=3.0, first_price_share=1e-12)
    assert digest(tmp_path / "zero") == digest(tmp_path / "tiny")
    logged = _logged(tmp_path / "zero" / "landing", "bid_request")
    assert logged and {r["auction_type"] for r in logged} == {2}
    with pytest.raises(ValueError, match="first_price_share"):
        run(tmp_path / "bad", first_price_share=1.5)
