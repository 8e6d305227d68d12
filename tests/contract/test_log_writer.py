from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format

from contract import events_pb2
from contract.encoding import read_varint_frames
from contract.landing_names import HOUR_MS, is_closed_log
from contract.log_writer import TrackingLogWriter

T0 = 1_767_571_200_000  # 2026-01-05T00:00Z


def click(i: int, t: int = T0) -> dict[str, object]:
    return {"event_id": f"c{i}", "event_time": t + i, "bid_id": f"b{i}", "campaign_id": "x"}


def test_jsonl_file_is_named_by_type_writer_and_hour(tmp_path: Path) -> None:
    with TrackingLogWriter(tmp_path, "w1") as writer:
        writer.write_many("click", [click(i) for i in range(3)])
    (path,) = writer.closed_files
    assert path == tmp_path / "click" / "w1-20260105T00-000000.jsonl"
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == ["c0", "c1", "c2"]


def test_open_file_is_hidden_until_closed(tmp_path: Path) -> None:
    writer = TrackingLogWriter(tmp_path, "w1")
    writer.write("click", click(1))
    visible = [p for p in (tmp_path / "click").iterdir() if is_closed_log(p)]
    assert visible == []
    writer.abandon()  # a crash: nothing is published
    assert [p for p in (tmp_path / "click").iterdir() if is_closed_log(p)] == []


def test_files_rotate_by_event_hour_and_close_when_the_hour_ended(tmp_path: Path) -> None:
    writer = TrackingLogWriter(tmp_path, "w1")
    writer.write("click", click(1, T0))
    writer.write("click", click(2, T0 + HOUR_MS))
    closed = writer.close_hours_before(T0 + HOUR_MS)
    assert [p.name for p in closed] == ["w1-20260105T00-000000.jsonl"]
    writer.close()
    assert len(writer.closed_files) == 2


def test_rotation_by_event_count_never_overwrites(tmp_path: Path) -> None:
    with TrackingLogWriter(tmp_path, "w1", max_events_per_file=2) as writer:
        writer.write_many("click", [click(i) for i in range(5)])
    assert len(writer.closed_files) == 3
    with TrackingLogWriter(tmp_path, "w1") as again:  # a restarted writer, same hour
        again.write("click", click(9))
    assert again.closed_files[0].name == "w1-20260105T00-000003.jsonl"


@pytest.mark.parametrize("compress", [False, True])
def test_protobuf_frames_parse_back(tmp_path: Path, compress: bool) -> None:
    with TrackingLogWriter(tmp_path, "w1", fmt="protobuf", compress=compress) as writer:
        writer.write_many("click", [click(i) for i in range(4)])
    (path,) = writer.closed_files
    data = path.read_bytes()
    if compress:
        assert path.name.endswith(".pb.gz")
        data = gzip.decompress(data)
    messages = [events_pb2.Click.FromString(body) for _, body in read_varint_frames(data)]
    assert [m.event_id for m in messages] == ["c0", "c1", "c2", "c3"]
    assert json_format.MessageToDict(messages[0], preserving_proto_field_name=True)["bid_id"]


def test_truncated_frame_is_reported_with_its_offset() -> None:
    with pytest.raises(ValueError, match="truncated message at byte 0"):
        list(read_varint_frames(b"\x05abc"))


def test_unknown_event_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        TrackingLogWriter(tmp_path, "w1").write("impressions", click(1))


def test_flush_makes_open_gzip_bytes_readable_without_publishing(tmp_path: Path) -> None:
    writer = TrackingLogWriter(tmp_path, "w1", compress=True)
    writer.write("click", click(1))
    writer.flush()
    (temp,) = (tmp_path / "click").iterdir()
    assert not is_closed_log(temp)
    decompressor = __import__("zlib").decompressobj(31)
    assert b'"event_id":"c1"' in decompressor.decompress(temp.read_bytes())
    writer.close()


@pytest.mark.parametrize("fmt", ["jsonl", "protobuf"])
def test_write_many_writes_the_same_files_as_write(tmp_path: Path, fmt: str) -> None:
    events = [click(i, T0 + (i // 4) * HOUR_MS) for i in range(11)]
    with TrackingLogWriter(tmp_path / "a", "w1", fmt=fmt, max_events_per_file=3) as one:  # type: ignore[arg-type]
        for event in events:
            one.write("click", event)
    with TrackingLogWriter(tmp_path / "b", "w1", fmt=fmt, max_events_per_file=3) as many:  # type: ignore[arg-type]
        many.write_many("click", events)
    assert [p.name for p in one.closed_files] == [p.name for p in many.closed_files]
    for a, b in zip(one.closed_files, many.closed_files, strict=True):
        assert a.read_bytes() == b.read_bytes()
