from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bidlake.paths import Home
from ingest import lake
from ingest.errors import ErrorCode
from ingest.ledger import Ledger, Output
from ingest.pipeline import ingest
from tests.ingest.factories import HOUR, T0, event, events, lake_table, land, quarantine_table

REPO = Path(__file__).resolve().parents[2]


def snapshot(home: Path) -> dict[str, object]:
    """Everything a reader or the next run can see, minus wall-clock times."""
    h = Home(home)
    raw = {
        p.relative_to(h.raw).as_posix(): pq.read_table(p).to_pylist()
        for p in sorted(h.raw.rglob("*"))
        if p.is_file()
    }
    q = quarantine_table(h)
    quarantined = sorted(
        (r["source_path"], r["record_number"], r["error_code"], r["payload"])
        for r in (q.drop(["ingested_at"]).to_pylist() if q.num_rows else [])
    )
    commits = []
    for c in Ledger(h).commits():
        commits.append(
            (
                c.commit_id,
                [(s.path, s.records, s.raw, s.quarantined, s.duplicates) for s in c.sources],
            )
        )
    manifest = lake.read_manifest(h)["files"]
    leftovers = (
        [p for p in (h.lake / "_staging").rglob("*") if p.is_file()]
        if (h.lake / "_staging").exists()
        else []
    )
    return {
        "raw": raw,
        "quarantine": quarantined,
        "commits": commits,
        "manifest": manifest,
        "staging": leftovers,
    }


def test_every_record_is_accounted_for(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for k, (fmt, compress) in enumerate(
        [("jsonl", False), ("jsonl", True), ("protobuf", False), ("protobuf", True)]
    ):
        good = events("bid", 40, start=100 * k)
        dup = dict(good[3])
        garbage = b"<html>502</html>" if fmt == "jsonl" else b"\x00\x01\x02"
        land(landing, "bid", [*good[:20], garbage, dup, *good[20:]], fmt, compress, f"w{k}")
    land(landing, "click", [*events("click", 10), event("click", 99, bid_id="")])

    report = ingest(landing)
    assert report.accounted and report.exit_code == 0
    by_name = {s.path.name: s for s in report.sources}
    for source in report.sources:
        assert source.records == source.raw + source.quarantined + source.duplicates
    bid_sources = [s for s in report.sources if s.event_type == "bid"]
    assert [(s.records, s.raw, s.quarantined, s.duplicates) for s in bid_sources] == [
        (42, 40, 1, 1)
    ] * 4
    assert by_name["w1-20260105T00-000000.jsonl"].kind == "jsonl"
    assert report.totals() == {"records": 179, "raw": 170, "quarantined": 5, "duplicates": 4}
    assert lake_table(home, "bid").num_rows == 160
    assert lake_table(home, "click").num_rows == 10
    q = quarantine_table(home)
    assert q.num_rows == 5
    assert sorted(set(q["error_code"].to_pylist())) == [
        "malformed_json",
        "malformed_protobuf",
        "missing_required",
    ]
    (commit,) = Ledger(Home(home)).commits()
    assert sum(s.records for s in commit.sources) == 179
    assert all(s.records == s.raw + s.quarantined + s.duplicates for s in commit.sources)


def test_raw_files_have_the_contract_schema_and_hive_layout(home: Path, tmp_path: Path) -> None:
    from ingest.lake_schema import arrow_schema

    land(tmp_path / "landing", "impression", events("impression", 5), "protobuf")
    ingest(tmp_path / "landing")
    (path,) = lake.live_files("impression", Home(home))
    assert path.parent.as_posix().endswith("raw/impression/event_date=2026-01-05/event_hour=00")
    assert pq.read_schema(path).remove_metadata().equals(arrow_schema("impression"))
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_same_file_twice_and_a_copy_of_it_change_nothing(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (path,) = land(landing, "click", events("click", 30))
    first = ingest(landing)
    before = snapshot(home)
    again = ingest(landing)
    assert [s.status for s in again.sources] == ["already_ingested"]
    assert again.commits == []
    shutil.copy(path, path.with_name("copy-" + path.name))
    copied = ingest(landing)
    statuses = {s.path.name: s.status for s in copied.sources}
    assert statuses == {path.name: "already_ingested", "copy-" + path.name: "same_content"}
    after = snapshot(home)
    assert after["raw"] == before["raw"] and after["quarantine"] == before["quarantine"]
    assert first.totals()["raw"] == lake_table(home, "click").num_rows == 30


CRASH_SCRIPT = """
import os, sys
from ingest import lake, ledger, pipeline
point = sys.argv[2]
if point == "before_intent":       # outputs written to staging, nothing durable yet
    ledger.Ledger.prepare = lambda self, commit: os._exit(17)
elif point == "before_rename":     # intent written, nothing renamed into the lake
    ledger.Ledger.publish = lambda self, commit: os._exit(17)
elif point == "mid_rename":        # one output renamed into the lake, the other not
    real = os.replace
    outputs = []
    def replace(src, dst):
        if "_ledger" not in str(dst):  # not the intent, a ledger entry or the manifest
            outputs.append(dst)
            if len(outputs) == 2:  # the first output renamed, the second not
                os._exit(17)
        real(src, dst)
    lake.os.replace = replace
elif point == "before_ledger":     # every file renamed, the ledger not written
    ledger.Ledger.record = lambda self, commit: os._exit(17)
pipeline.ingest(sys.argv[1], batch_bytes=int(sys.argv[3]))
os._exit(0)
"""


@pytest.mark.parametrize("point", ["before_intent", "before_rename", "mid_rename", "before_ledger"])
def test_a_crash_at_any_point_ends_as_one_clean_run(
    tmp_path: Path, point: str, monkeypatch
) -> None:
    landing = tmp_path / "landing"
    land(landing, "bid", [*events("bid", 50), b"garbage"], writer_id="w1")
    land(landing, "bid", events("bid", 50, start=25, t=T0 + 2 * HOUR), writer_id="w2")
    land(landing, "click", events("click", 20), "protobuf", True)

    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    for h in (clean, crashed):
        h.mkdir()
    monkeypatch.setenv("BIDLAKE_HOME", str(clean))
    ingest(landing, batch_bytes=1)  # one batch per file: crash in a later batch too

    env = {**os.environ, "BIDLAKE_HOME": str(crashed), "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(landing), point, "1"], env=env, check=False
    )
    assert run.returncode == 17
    published = [p for p in (crashed / "lake").rglob("*.parquet") if "_staging" not in p.parts]
    if point in ("before_intent", "before_rename"):
        assert published == []  # nothing half-visible
    else:
        assert published and Ledger(Home(crashed)).commits() == []
    monkeypatch.setenv("BIDLAKE_HOME", str(crashed))
    report = ingest(landing, batch_bytes=1)
    if point in ("before_rename", "mid_rename", "before_ledger"):
        assert len(report.recovered) == 1
    assert snapshot(crashed) == snapshot(clean)


def test_duplicates_are_dropped_within_and_across_batches(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", [*events("click", 10), event("click", 3)], writer_id="a")
    first = ingest(landing)
    assert first.totals() == {"records": 11, "raw": 10, "quarantined": 0, "duplicates": 1}
    land(landing, "click", events("click", 10, start=5), writer_id="b")
    land(landing, "click", events("click", 10, start=10), writer_id="c")
    second = ingest(landing, batch_bytes=1)  # b and c in separate batches
    counts = {
        s.path.name[0]: (s.raw, s.duplicates) for s in second.sources if s.status == "ingested"
    }
    assert counts == {"b": (5, 5), "c": (5, 5)}
    ids = lake_table(home, "click")["event_id"].to_pylist()
    assert sorted(ids) == sorted(f"cl-{i}" for i in range(20))


def test_the_dedup_horizon_bounds_the_lookup(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", [event("click", 1, t=T0)], writer_id="a")
    ingest(landing)
    near = event("click", 1, t=T0 + HOUR)  # same id, next hour: a retry across the hour
    far = event("click", 1, t=T0 + 5 * HOUR)  # same id, five hours later
    land(landing, "click", [near], writer_id="b")
    land(landing, "click", [far], writer_id="c")
    report = ingest(landing, dedup_horizon_hours=1, batch_bytes=1)
    counts = {
        s.path.name[0]: (s.raw, s.duplicates) for s in report.sources if s.status == "ingested"
    }
    assert counts == {"b": (0, 1), "c": (1, 0)}


def test_late_events_go_to_their_own_hour(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, "impression", events("impression", 5, t=T0 + 10 * HOUR), writer_id="a")
    ingest(landing)
    # A file written later, holding events of hour 10, of hour 2 (late) and of the day before.
    late = [
        event("impression", 100, t=T0 + 10 * HOUR),
        event("impression", 101, t=T0 + 2 * HOUR),
        event("impression", 102, t=T0 - 20 * HOUR),
    ]
    path = tmp_path / "late" / "impression" / "w-late.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in late))
    report = ingest(path.parent.parent)
    assert report.totals()["raw"] == 3
    partitions = sorted(
        {
            p.parent.relative_to(Home(home).raw).as_posix()
            for p in lake.live_files("impression", Home(home))
        }
    )
    assert partitions == [
        "impression/event_date=2026-01-04/event_hour=04",
        "impression/event_date=2026-01-05/event_hour=02",
        "impression/event_date=2026-01-05/event_hour=10",
    ]


def test_a_missing_folder_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-landing"):
        ingest(tmp_path / "no-such-landing")
    assert ingest(None).sources == []  # the default landing not made yet: nothing to do


def test_an_unreadable_file_is_reported_and_retried_while_the_rest_goes_on(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import sources as ingest_sources

    landing = tmp_path / "landing"
    (good,) = land(landing, "click", events("click", 5))
    broken = landing / "click" / "w9-20260105T00-000000.jsonl"
    broken.write_bytes(orjson.dumps(event("click", 50)) + b"\n")
    # Tests run as root, which ignores permissions: the OS's refusal is simulated.
    opener = ingest_sources.open_regular

    def refuse(path: Path) -> object:
        if path == broken:
            raise PermissionError(13, "Permission denied", str(path))
        return opener(path)

    monkeypatch.setattr(ingest_sources, "open_regular", refuse)
    report = ingest([good, broken])
    status = {s.path.name: (s.status, s.error_code) for s in report.sources}
    assert status[broken.name] == ("failed", "unreadable")
    assert "Permission denied" in report.sources[1].message
    assert status[good.name] == ("ingested", "")
    assert not report.accounted and report.exit_code == 1
    monkeypatch.setattr(ingest_sources, "open_regular", opener)
    retry = ingest([good, broken])
    assert {s.path.name: s.status for s in retry.sources} == {
        good.name: "already_ingested",
        broken.name: "ingested",
    }
    assert retry.exit_code == 0


def test_misnamed_and_misplaced_files_are_quarantined_whole(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", events("click", 3))
    body = b"".join(orjson.dumps(e) + b"\n" for e in events("click", 3, start=10))
    misnamed = landing / "click" / "w2-20260105T00-000000.jsonl.gz"
    misnamed.write_bytes(body)  # plain JSON named .gz
    misplaced = landing / "clicks" / "w3-20260105T00-000000.jsonl"
    misplaced.parent.mkdir()
    misplaced.write_bytes(body)
    report = ingest(landing)
    assert report.exit_code == 0
    by_name = {s.path.name: s for s in report.sources}
    assert by_name[misnamed.name].status == "file_quarantined"
    assert by_name[misnamed.name].error_code == ErrorCode.FORMAT_MISMATCH
    assert "not gzip" in by_name[misnamed.name].message
    assert by_name[misplaced.name].error_code == ErrorCode.UNKNOWN_EVENT_TYPE
    q = quarantine_table(home).to_pylist()
    stored = {r["error_code"]: r["stored_file"] for r in q}
    assert set(stored) == {"format_mismatch", "unknown_event_type"}
    for rel in stored.values():
        assert (Home(home).lake / rel).read_bytes() == body
    assert lake_table(home, "click").num_rows == 3


def test_truncated_gzip_keeps_the_good_part_and_quarantines_the_cut_record(
    home: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    body = b"".join(orjson.dumps(e) + b"\n" for e in events("click", 400))
    stored = gzip.compress(body)
    path = landing / "click" / "w1-20260105T00-000000.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(stored[: len(stored) * 2 // 3])
    report = ingest(landing)
    (source,) = report.sources
    assert source.status == "ingested" and source.accounted and report.exit_code == 0
    assert 0 < source.raw < 400
    assert source.quarantined == 1
    assert any("cut short" in w for w in source.warnings)
    (row,) = quarantine_table(home).to_pylist()
    assert row["error_code"] == "truncated_record"
    assert body[row["byte_offset"] :].startswith(row["payload"])


def test_ledger_entries_are_plain_json_with_counts(home: Path, tmp_path: Path) -> None:
    land(tmp_path / "landing", "conversion", events("conversion", 4))
    report = ingest(tmp_path / "landing")
    (commit_id,) = report.commits
    entry = json.loads((Home(home).ledger / "batches" / f"{commit_id}.json").read_text())
    (source,) = entry["sources"]
    assert {k: source[k] for k in ("records", "raw", "quarantined", "duplicates")} == {
        "records": 4,
        "raw": 4,
        "quarantined": 0,
        "duplicates": 0,
    }
    assert len(source["sha256"]) == 64


def test_every_error_code_is_reachable_and_lands_in_quarantine(home: Path, tmp_path: Path) -> None:
    from ingest.errors import FILE_CODES, RECORD_CODES

    landing = tmp_path / "landing"
    click = orjson.dumps(event("click", 1))
    land(
        landing,
        "click",
        [
            b"<html>502</html>",  # malformed_json
            b"[1, 2]",  # not_an_object
            b'{"event_id": "\xff"}',  # invalid_utf8
            orjson.dumps(event("click", 2, referrer="x")),  # unknown_field
            orjson.dumps(event("click", 3, bid_id=5)),  # wrong_type
            orjson.dumps(event("click", 4, bid_id="")),  # missing_required
            orjson.dumps(event("click", 5, event_time=1_767_571_200)),  # bad_event_time
        ],
    )
    late = orjson.dumps(event("click", 6, t=T0 - 30 * HOUR))  # event_time_outside_window
    (landing / "click" / "w11-20260105T00-000000.jsonl").write_bytes(late + b"\n")
    (landing / "click" / "w12-20260105T00-000000.jsonl").write_bytes(b"{}\n" * 10_001)
    (landing / "click" / "w13-20260105T00-000000.jsonl").write_bytes(b" " * (2 << 20))
    (landing / "click" / "w16-20260105T00-000000.jsonl").write_bytes(b" " * (4 << 20))
    spread = [orjson.dumps(event("click", 100 + k, t=T0 + k * HOUR)) for k in range(171)]
    (landing / "click" / "w14.jsonl").write_bytes(b"\n".join(spread))  # too_many_partitions
    land(landing, "bid", [event("bid", 1, pctr=2.0)], writer_id="w2")  # out_of_range
    land(
        landing, "bid_request", [event("bid_request", 1, os="beos")], writer_id="w3"
    )  # unknown_value
    land(landing, "impression", [b"\x00garbage"], "protobuf", writer_id="w4")  # malformed_protobuf
    cut = landing / "click" / "w5-20260105T00-000000.jsonl"
    cut.write_bytes(click + b"\n" + click[:20])  # truncated_record
    damaged = landing / "click" / "w6-20260105T00-000000.jsonl.gz"
    damaged.write_bytes(gzip.compress(click + b"\n") + b"not gzip")  # corrupt_stream
    (landing / "click" / "w7-20260105T00-000000.pb").write_bytes(click + b"\n")  # format_mismatch
    (landing / "clicks").mkdir()
    (landing / "clicks" / "w8.jsonl").write_bytes(click + b"\n")  # unknown_event_type
    (landing / "click" / "w9.csv").write_bytes(b"a,b\n")  # unknown_format
    (landing / "click" / "w10.jsonl").symlink_to(tmp_path / "nothing")  # not_a_regular_file
    gone = landing / "click" / "w15-20260105T00-000000.jsonl"  # unreadable: vanished

    report = ingest([landing, gone], max_file_bytes=3 << 20)  # file_too_large: w16
    codes = set(quarantine_table(home)["error_code"].to_pylist())
    assert codes == {str(c) for c in RECORD_CODES | FILE_CODES} - {"unreadable"}
    (failed,) = [s for s in report.sources if s.status == "failed"]
    assert failed.error_code == "unreadable" and gone.name in failed.message
    assert all(s.accounted for s in report.sources if s.status != "failed")
    # The good line of w5 and of w6 is the same event: one raw row, one duplicate.
    assert lake_table(home, "click").num_rows == 1
    assert report.totals()["duplicates"] == 1


def test_the_commit_plan_says_what_a_batch_will_write() -> None:
    """`plan_commit` alone: no lake, no disk; the dedup verdict is given."""
    from contract.events import columns
    from ingest.decoded import Reject, rows_to_table
    from ingest.errors import SourceError
    from ingest.pipeline import SourceRead, plan_commit
    from ingest.sources import Source

    def click_file(name: str, rows: list[dict[str, object]], **read: object) -> SourceRead:
        path = Path("/landing/click") / name
        table = rows_to_table(rows, columns("click"))
        source = Source(path, "click", "jsonl", False, 1000, 1)
        return SourceRead(source, "ingested", tables=[table], **read)  # type: ignore[arg-type]

    a = click_file(  # cl-0..cl-2 in hour 0, cl-3 and cl-4 in hour 1, and a garbage line
        "a.jsonl",
        [*events("click", 3), *events("click", 2, start=3, t=T0 + HOUR)],
        sha256="aa",
        records=6,
        rejects=[Reject(6, 700, ErrorCode.MALFORMED_JSON, "not JSON", "", b"<html>")],
    )
    b = click_file("b.jsonl", [event("click", 1), event("click", 9)], sha256="bb", records=2)
    misplaced = SourceRead(
        Source(Path("/landing/nope/c.jsonl"), None, "jsonl", False, 10, 1),
        "file_quarantined",
        error=SourceError(ErrorCode.UNKNOWN_EVENT_TYPE, "nope is not an event type"),
    )

    def keep(event_type: str, table: pa.Table, commit_id: str) -> np.ndarray:
        ids = table["event_id"].to_pylist()  # cl-1 twice in the batch, cl-4 in the lake
        return np.array([i != "cl-4" and i not in ids[:k] for k, i in enumerate(ids)])

    plan = plan_commit([a, b, misplaced], keep, now_ms=T0, dedup_horizon_hours=1)
    cid = plan.commit_id
    assert plan_commit([misplaced, b, a], keep, T0, 1).commit_id == cid  # order-free
    hour = "raw/click/event_date=2026-01-05/event_hour="
    assert [(f.path, f.table["event_id"].to_pylist()) for f in plan.tables[:2]] == [
        (f"{hour}00/part-{cid}.parquet", ["cl-0", "cl-1", "cl-2", "cl-9"]),
        (f"{hour}01/part-{cid}.parquet", ["cl-3"]),
    ]
    quarantined = plan.tables[2]
    assert quarantined.path == f"quarantine/records/{cid}.parquet"
    assert quarantined.table.select(["error_code", "stored_file"]).to_pylist() == [
        {"error_code": "malformed_json", "stored_file": None},
        {"error_code": "unknown_event_type", "stored_file": f"quarantine/files/{cid}/nope/c.jsonl"},
    ]
    assert [(c.source.name, c.path) for c in plan.copies] == [
        ("c.jsonl", f"quarantine/files/{cid}/nope/c.jsonl")
    ]
    counts = [(s.records, s.raw, s.quarantined, s.duplicates, s.status) for s in plan.sources]
    assert counts == [
        (6, 4, 1, 1, "ingested"),
        (2, 1, 0, 1, "ingested"),
        (0, 0, 0, 0, "file_quarantined"),
    ]
    assert [(r.path.name, r.commit_id, r.accounted) for r in plan.reports()] == [
        ("a.jsonl", cid, True),
        ("b.jsonl", cid, True),
        ("c.jsonl", cid, True),
    ]
    # After staging: the outputs and the hash of the copied file go into the ledger entry.
    commit = plan.commit([Output("z", 1, 1), Output("a", 1, 1)], {"/landing/nope/c.jsonl": "cc"})
    assert [o.path for o in commit.outputs] == ["a", "z"]
    assert [s.sha256 for s in commit.sources] == ["aa", "bb", "cc"]
    assert (commit.commit_id, commit.created_at_ms, commit.dedup_horizon_hours) == (cid, T0, 1)
