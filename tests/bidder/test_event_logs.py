"""The bidder's tracking logs: rotation, locks, and salvage of what a crashed writer left —
complete records published, the torn tail dropped, never half a line in a closed file."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest

from bidder.event_logs import LOCK_DIR, BidderLogs, salvage_file
from contract import events_pb2
from contract.encoding import read_varint_frames
from contract.landing_names import INPROGRESS_SUFFIX, is_closed_log
from tests.bidder.conftest import iso_ms

T0 = iso_ms("2026-01-05T10:15:00Z")


def click(i: int, t: int = T0) -> dict[str, object]:
    return {"event_id": f"c{i}", "event_time": t, "bid_id": f"b{i}", "campaign_id": "cmp"}


def published(landing: Path, event_type: str = "click") -> list[Path]:
    folder = landing / event_type
    return sorted(p for p in folder.iterdir() if is_closed_log(p)) if folder.exists() else []


def in_progress(landing: Path, event_type: str = "click") -> list[Path]:
    return sorted((landing / event_type).glob(f".*{INPROGRESS_SUFFIX}"))


def test_files_are_published_every_rotation_interval_and_when_the_hour_changes(
    tmp_path: Path,
) -> None:
    logs = BidderLogs(tmp_path, "w1", rotate_s=60)
    logs.open(now_ms=T0)
    logs.write("click", click(1))
    assert logs.tick(T0 + 30_000) is None
    retired = logs.tick(T0 + 61_000)
    assert retired is not None and retired is not logs.writer
    logs.write("click", click(2, T0 + 61_500))  # the new generation takes writes at once
    assert published(tmp_path) == []  # the retired writer's files wait for retire()
    assert [p.name for p in logs.retire(retired)] == ["w1.1-20260105T10-000000.jsonl"]
    retired = logs.tick(iso_ms("2026-01-05T11:00:00Z"))  # the hour changed before 60 s
    assert retired is not None
    logs.retire(retired)
    assert [p.name for p in published(tmp_path)] == [
        "w1.1-20260105T10-000000.jsonl",
        "w1.2-20260105T10-000000.jsonl",
    ]
    assert logs.files_published == 2
    logs.close()


def test_flush_hands_events_to_the_os_before_the_file_is_closed(tmp_path: Path) -> None:
    logs = BidderLogs(tmp_path, "w1", rotate_s=3600, flush_s=1)
    logs.open(now_ms=T0)
    logs.write("click", click(1))
    (temp,) = in_progress(tmp_path)
    assert temp.read_bytes() == b""  # still in the 1 MiB userspace buffer
    logs.tick(T0 + 1_000)
    assert orjson.loads(temp.read_bytes())["event_id"] == "c1"
    logs.close()


def test_a_live_writer_id_cannot_be_opened_twice(tmp_path: Path) -> None:
    first = BidderLogs(tmp_path, "w1")
    first.open()
    with pytest.raises(RuntimeError, match="in use by a live process"):
        BidderLogs(tmp_path, "w1").open()
    first.close()
    assert not (tmp_path / LOCK_DIR / "w1.lock").exists()


CRASHING_WRITER = """
import os, signal, sys
from bidder.event_logs import BidderLogs
landing, t0, writer_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logs = BidderLogs(landing, writer_id, rotate_s=3600)
logs.open(now_ms=t0)
for i in range(3):
    logs.write("click", {"event_id": f"c{i}", "event_time": t0, "bid_id": "b", "campaign_id": "x"})
logs.tick(t0 + 1_000)  # the periodic flush: these three reach the OS
logs.write("click", {"event_id": "c99", "event_time": t0, "bid_id": "b", "campaign_id": "x"})
os.kill(os.getpid(), signal.SIGKILL)  # c99 is still in the userspace buffer
"""


def crash_a_writer(landing: Path, writer_id: str) -> None:
    """Run CRASHING_WRITER as `writer_id`: three events reach the OS, then SIGKILL."""
    crash = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(landing), str(T0), writer_id]
    )
    assert crash.returncode == -signal.SIGKILL


def test_a_crashed_writers_files_are_salvaged_by_the_next_bidder(tmp_path: Path) -> None:
    alive = BidderLogs(tmp_path, "w-alive")
    alive.open(now_ms=T0)
    alive.write("click", click(50))
    alive.tick(T0 + 1_000)
    crash_a_writer(tmp_path, "w-dead")
    (temp,) = [p for p in in_progress(tmp_path) if "w-dead" in p.name]
    with temp.open("ab") as fh:
        fh.write(b'{"event_id": "torn", "event_ti')  # as if it died in the middle of a line

    restarted = BidderLogs(tmp_path, "w-new")
    restarted.open(now_ms=T0)
    (salvaged,) = restarted.salvaged
    assert salvaged.records == 3  # c99 was lost with the process: less than flush_s of events
    assert salvaged.dropped_bytes == len(b'{"event_id": "torn", "event_ti')
    assert salvaged.published is not None
    assert salvaged.published.name == "w-dead.1-20260105T10-000000.jsonl"
    lines = salvaged.published.read_bytes().splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == ["c0", "c1", "c2"]
    assert not (tmp_path / LOCK_DIR / "w-dead.lock").exists()
    # The live writer's in-progress file was not touched.
    assert [p for p in in_progress(tmp_path) if "w-alive" in p.name]
    alive.close()
    restarted.close()
    assert in_progress(tmp_path) == []


def test_a_restart_under_the_same_writer_id_salvages_before_reusing_names(tmp_path: Path) -> None:
    crash_a_writer(tmp_path, "w1")
    again = BidderLogs(tmp_path, "w1")  # a reused pid gives the same default writer id
    again.open(now_ms=T0)
    assert [s.records for s in again.salvaged] == [3]
    again.write("click", click(2))
    again.close()
    names = [p.name for p in published(tmp_path)]
    assert names == ["w1.1-20260105T10-000000.jsonl", "w1.1-20260105T10-000001.jsonl"]


def _frame(message: bytes) -> bytes:
    from google.protobuf.internal.encoder import _VarintBytes  # type: ignore[attr-defined]

    return bytes(_VarintBytes(len(message))) + message


@pytest.mark.parametrize("ext", ["jsonl", "jsonl.gz", "pb", "pb.gz"])
def test_salvage_cuts_every_format_at_its_last_complete_record(tmp_path: Path, ext: str) -> None:
    messages = [events_pb2.Click(event_id=f"c{i}", event_time=T0, bid_id=f"b{i}") for i in range(4)]
    if ext.startswith("jsonl"):
        whole = b"".join(orjson.dumps({"event_id": m.event_id}) + b"\n" for m in messages[:3])
        torn = b'{"event_id": "c3"'
    else:
        whole = b"".join(_frame(m.SerializeToString()) for m in messages[:3])
        torn = _frame(messages[3].SerializeToString())[:-2]
    data = whole + torn
    if ext.endswith(".gz"):
        # What a killed gzip writer leaves: sync-flushed deflate data, no trailer.
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    path = tmp_path / f".w9-20260105T10-000004.{ext}{INPROGRESS_SUFFIX}"
    path.write_bytes(data)

    result = salvage_file(path)
    assert result.records == 3
    assert result.dropped_bytes == len(torn)
    assert result.published == tmp_path / f"w9-20260105T10-000004.{ext}"
    assert not path.exists()
    body = result.published.read_bytes()
    if ext.endswith(".gz"):
        body = gzip.decompress(body)  # a complete gzip file again, trailer and all
    assert body == whole
    if ext.startswith("pb"):
        assert [events_pb2.Click.FromString(b).event_id for _, b in read_varint_frames(body)] == [
            "c0",
            "c1",
            "c2",
        ]


def test_salvage_of_an_empty_file_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / f".w9-20260105T10-000000.jsonl{INPROGRESS_SUFFIX}"
    path.write_bytes(b'{"half')
    result = salvage_file(path)
    assert (result.published, result.records, result.dropped_bytes) == (None, 0, 6)
    assert list(tmp_path.iterdir()) == []
