from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from ingest.errors import ErrorCode, SourceError
from ingest.sources import RawStream, check_content, describe, discover, looks_like


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_all(path: Path) -> tuple[bytes, RawStream]:
    stream = RawStream(describe(path), block_size=64)
    return b"".join(stream.blocks()), stream


def test_discover_lists_closed_files_by_folder_and_skips_hidden_ones(tmp_path: Path) -> None:
    write(tmp_path / "click" / "w-1.jsonl", b"")
    write(tmp_path / "click" / ".w-2.jsonl.inprogress", b"")
    write(tmp_path / "bid" / "w-1.pb", b"")
    write(tmp_path / "stray.txt", b"")
    write(tmp_path / ".hidden" / "x.jsonl", b"")
    write(tmp_path / "click" / "nested" / "deep.jsonl", b"")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["bid/w-1.pb", "click/w-1.jsonl", "stray.txt"]


def test_discover_says_which_folder_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover(tmp_path / "nowhere")


def test_describe_reads_type_and_format_from_the_name(tmp_path: Path) -> None:
    source = describe(write(tmp_path / "click" / "w-20260105T00-000001.pb.gz", b""))
    assert (source.event_type, source.fmt, source.compressed, source.kind) == (
        "click",
        "protobuf",
        True,
        "pb.gz",
    )
    assert source.problem() is None
    unknown_type = describe(write(tmp_path / "clicks" / "a.jsonl", b""))
    assert unknown_type.problem().code is ErrorCode.UNKNOWN_EVENT_TYPE  # type: ignore[union-attr]
    unknown_format = describe(write(tmp_path / "click" / "a.csv", b""))
    assert unknown_format.problem().code is ErrorCode.UNKNOWN_FORMAT  # type: ignore[union-attr]


def test_looks_like() -> None:
    assert looks_like(b"") == "empty"
    assert looks_like(gzip.compress(b"x")) == "gzip"
    assert looks_like(b'{"a": 1}\n{"b": 2}\n') == "jsonl"
    assert looks_like(b'{"a": 1}\n<html>\n{"b": 2}\n') == "jsonl"  # some garbage lines
    assert looks_like(b"\x13\x0a\x11r-1:1\x10\x80\x80\x01\x0a\x04abcd") == "binary"


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("x.jsonl.gz", b'{"event_id": "a"}\n', "not gzip"),
        ("x.jsonl", gzip.compress(b'{"event_id": "a"}\n'), "gzip-compressed"),
        ("x.pb", b'{"event_id": "a"}\n{"event_id": "b"}\n', "JSON lines"),
        ("x.jsonl", b"\x13\x0a\x11r-1:1\x10\x80\x80\x01\x00\x0a\x04abcd", "binary"),
        ("x.pb.gz", gzip.compress(b'{"event_id": "a"}\n'), "after decompression"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused(
    tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    source = describe(write(tmp_path / "click" / name, data))
    stream = RawStream(source)
    blocks = stream.blocks()
    first = next(blocks, None)
    with pytest.raises(SourceError, match=says) as err:
        check_content(source, stream.first_bytes, first if source.compressed else None)
    assert err.value.code is ErrorCode.FORMAT_MISMATCH
    assert name in err.value.message


def test_gzip_stream_hashes_the_stored_bytes_and_reads_multi_member_files(tmp_path: Path) -> None:
    stored = gzip.compress(b"one\n") + gzip.compress(b"two\n")
    data, stream = read_all(write(tmp_path / "click" / "x.jsonl.gz", stored))
    assert data == b"one\ntwo\n"
    assert stream.fault is None
    assert stream.sha256 == hashlib.sha256(stored).hexdigest()


def test_truncated_gzip_yields_what_it_can_and_says_so(tmp_path: Path) -> None:
    payload = b"".join(b'{"n": %d}\n' % i for i in range(2000))
    stored = gzip.compress(payload)
    data, stream = read_all(write(tmp_path / "click" / "x.jsonl.gz", stored[: len(stored) // 2]))
    assert payload.startswith(data) and 0 < len(data) < len(payload)
    assert stream.fault is not None
    assert stream.fault.code is ErrorCode.TRUNCATED_RECORD
    assert "cut short" in stream.fault.message


def test_damaged_gzip_keeps_the_undecodable_rest_as_payload(tmp_path: Path) -> None:
    member = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(500)))
    stored = member + b"this is not gzip at all"
    data, stream = read_all(write(tmp_path / "click" / "x.jsonl.gz", stored))
    assert data == gzip.decompress(member)
    assert stream.fault is not None and stream.fault.code is ErrorCode.CORRUPT_STREAM
    assert stream.fault.payload.endswith(b"this is not gzip at all")
