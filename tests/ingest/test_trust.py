"""Issue 11 "Trust": hostile or broken landing files must not take ingest down.

Each test here reproduces one finding (a gzip bomb, an absurd length prefix, symlinks, a
FIFO, event times anywhere in [2010, 2100)) and pins the behaviour that replaced it. The
memory tests run ingest in a subprocess, under an address-space limit (so a regression
fails the test instead of exhausting the machine), and read its peak RSS with
`resource.getrusage(RUSAGE_CHILDREN)` in a small launcher process: a child's own
`ru_maxrss` would include the RSS of the (big) pytest process it was forked from.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bidlake.paths import Home
from contract.encoding import MAX_FRAME_BYTES, MAX_LINE_BYTES, frame, varint
from ingest import lake
from ingest.errors import ErrorCode
from ingest.pipeline import DEFAULT_MAX_HOURS_PER_FILE, ingest
from ingest.rules import file_window
from tests.ingest.factories import HOUR, T0, event, events, lake_table, land, quarantine_table

REPO = Path(__file__).resolve().parents[2]
RSS_BOUND_MB = 300  # documented in ingest/README.md ("Limits")
NAME = "w1-20260105T00-000000"  # the hour of T0

_RUNNER = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # fail, don't swamp the machine
from ingest.pipeline import ingest
report = ingest(sys.argv[1], sys.argv[2])
print(json.dumps({
    "sources": {
        s.path.name: [s.status, s.error_code, s.records, s.raw, s.quarantined]
        for s in report.sources
    },
}))
"""


_LAUNCHER = r"""
import json, resource, subprocess, sys
runner, landing, home, timeout = sys.argv[1:]
proc = subprocess.run(  # on timeout, the child is killed and this raises: exit 1
    [sys.executable, "-c", runner, landing, home],
    capture_output=True, text=True, timeout=float(timeout),
)
if proc.returncode:
    sys.exit(proc.stderr[-3000:] or f"exit {proc.returncode}")
out = json.loads(proc.stdout.splitlines()[-1])
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_ingest(landing: Path, home: Path, timeout: float = 120) -> dict:
    """`ingest(landing, home)` in a fresh interpreter: its report and peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "BIDLAKE_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, _RUNNER, str(landing), str(home), str(timeout)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def gzip_repeat(unit: bytes, total: int, head: bytes = b"", member: int = 64 << 20) -> bytes:
    """A multi-member gzip of `head`, then `unit` repeated, to `total` bytes: small on
    disk, huge inflated."""
    member = min(member, total)
    one = gzip.compress(unit * (member // len(unit)), compresslevel=9)
    first = gzip.compress(head + unit * ((member - len(head)) // len(unit)), compresslevel=9)
    return first + one * (total // member - 1)


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- memory


def test_a_3_kb_gzip_of_empty_lines_is_refused_whole_in_bounded_memory(tmp_path: Path) -> None:
    # Finding: 2.9 KB of gzip (3M empty lines) grew ingest to 1.6 GB RSS, one reject each.
    landing = tmp_path / "landing"
    put(landing / "click" / f"{NAME}.jsonl.gz", gzip.compress(b"\n" * 3_000_000, 9))
    got = run_ingest(landing, tmp_path / "home")
    status, code, *_ = got["sources"][f"{NAME}.jsonl.gz"]
    assert (status, code) == ("file_quarantined", ErrorCode.TOO_MANY_REJECTS)
    assert got["maxrss_mb"] < RSS_BOUND_MB


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        (b"\n", ErrorCode.TOO_MANY_REJECTS),  # 4 GiB of empty lines
        (b"a", ErrorCode.RECORD_TOO_LONG),  # one line of 4 GiB
    ],
    ids=["empty-lines", "one-enormous-line"],
)
def test_a_gzip_bomb_of_gigabytes_stays_under_the_rss_bound(
    tmp_path: Path, unit: bytes, code: ErrorCode
) -> None:
    landing = tmp_path / "landing"
    bomb = gzip_repeat(unit, 4 << 30, head=b"" if unit == b"\n" else b'{"event_id": "')
    assert len(bomb) < 8 << 20  # a few MB on disk
    put(landing / "bid" / f"{NAME}.jsonl.gz", bomb)
    got = run_ingest(landing, tmp_path / "home")
    status, error_code, *_ = got["sources"][f"{NAME}.jsonl.gz"]
    assert (status, error_code) == ("file_quarantined", code)
    assert got["maxrss_mb"] < RSS_BOUND_MB
    stored = tmp_path / "home" / "lake" / "quarantine" / "files"
    (copy,) = stored.rglob(f"{NAME}.jsonl.gz")
    assert copy.read_bytes() == bomb  # refused whole, byte for byte


@pytest.mark.parametrize("compress", [False, True], ids=["pb", "pb.gz"])
def test_a_huge_protobuf_length_prefix_is_refused_before_anything_is_allocated(
    tmp_path: Path, compress: bool
) -> None:
    # Finding: a length prefix of 2**40 grew ingest to 1.0 GB.
    good = frame(b"\x0a\x01x")  # a frame with one field: event_id "x"
    # Before: the reader waited for the announced 1 TB, carrying the rest of the file
    # (240 MB inflated here) in memory, then quarantined it as one record: 1.56 GB RSS.
    rest = b"\x0a\x03abc" * ((48 if compress else 4) << 20)
    body = good * 3 + varint(1 << 40) + rest
    ext = "pb.gz" if compress else "pb"
    landing = tmp_path / "landing"
    put(landing / "click" / f"{NAME}.{ext}", gzip.compress(body) if compress else body)
    got = run_ingest(landing, tmp_path / "home")
    status, code, *_ = got["sources"][f"{NAME}.{ext}"]
    assert (status, code) == ("file_quarantined", ErrorCode.RECORD_TOO_LONG)
    assert got["maxrss_mb"] < RSS_BOUND_MB


def test_frames_and_lines_at_the_cap_are_records_one_byte_more_refuses_the_file(
    home: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    at_cap_pb = put(landing / "click" / "a-20260105T00-000000.pb", frame(b"\x00" * MAX_FRAME_BYTES))
    over = MAX_FRAME_BYTES + 1  # `frame` refuses to write it: framed by hand
    over_pb = put(landing / "click" / "b-20260105T00-000000.pb", varint(over) + b"\x00" * over)
    at_cap_json = put(
        landing / "click" / "c-20260105T00-000000.jsonl", b" " * MAX_LINE_BYTES + b"\n"
    )
    over_json = put(
        landing / "click" / "d-20260105T00-000000.jsonl", b" " * (MAX_LINE_BYTES + 1) + b"\n"
    )
    by_name = {s.path.name: s for s in ingest(landing).sources}
    assert (by_name[at_cap_pb.name].status, by_name[at_cap_pb.name].quarantined) == ("ingested", 1)
    assert (by_name[at_cap_json.name].status, by_name[at_cap_json.name].quarantined) == (
        "ingested",
        1,
    )
    for over in (over_pb, over_json):
        assert by_name[over.name].status == "file_quarantined"
        assert by_name[over.name].error_code == ErrorCode.RECORD_TOO_LONG
        assert str(MAX_FRAME_BYTES) in by_name[over.name].message


def test_too_many_rejects_quarantines_the_file_whole(home: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (mostly_bad,) = land(landing, "click", [*events("click", 3), *[b"{}"] * 6], writer_id="a")
    (fine,) = land(landing, "click", [*events("click", 3, start=10), b"{}"], writer_id="b")
    report = ingest(landing, max_rejects_per_file=5)
    by_name = {s.path.name: s for s in report.sources}
    bad = by_name[mostly_bad.name]
    assert (bad.status, bad.error_code, bad.records, bad.raw) == (
        "file_quarantined",
        ErrorCode.TOO_MANY_REJECTS,
        0,
        0,
    )
    assert "more than 5" in bad.message
    assert (by_name[fine.name].raw, by_name[fine.name].quarantined) == (3, 1)
    assert report.exit_code == 0
    rows = {r["error_code"]: r for r in quarantine_table(home).to_pylist()}
    stored = Home(home).lake / rows["too_many_rejects"]["stored_file"]
    assert stored.read_bytes() == mostly_bad.read_bytes()


# ---------------------------------------------------------------- what a source may be


def test_symlinks_are_refused_and_their_targets_never_copied(home: Path, tmp_path: Path) -> None:
    # Finding: a symlink in landing was followed, its target copied into the quarantine.
    secret = put(tmp_path / "outside" / "secret.txt", b"root:x:0:0:secret\n")
    valid = put(tmp_path / "outside" / "events.jsonl", orjson.dumps(event("click", 7)) + b"\n")
    other = tmp_path / "outside" / "folder"
    put(other / f"{NAME}.jsonl", orjson.dumps(event("click", 8)) + b"\n")
    landing = tmp_path / "landing"
    land(landing, "click", events("click", 2))
    links = {
        landing / "clicks" / "x.jsonl": secret,  # folder no event type: was copied whole
        landing / "click" / "x.csv": secret,  # unknown extension: was copied whole
        landing / "click" / f"w2-{NAME[3:]}.jsonl": valid,  # was ingested
        landing / "bid": other,  # a symlinked event-type folder: was walked
    }
    for link, target in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    report = ingest(landing)
    by_path = {s.path: s for s in report.sources}
    for link in links:
        assert (by_path[link].status, by_path[link].error_code) == (
            "refused",
            ErrorCode.NOT_A_REGULAR_FILE,
        )
        assert "symbolic link" in by_path[link].message
    assert report.accounted and report.exit_code == 0
    copies = list((Home(home).quarantine / "files").rglob("*"))
    assert not [p for p in copies if p.is_file()]  # nothing copied at all
    for path in Home(home).lake.rglob("*"):
        if path.is_file():
            assert b"secret" not in path.read_bytes()
    assert lake_table(home, "click")["event_id"].to_pylist() == ["cl-0", "cl-1"]
    q = [r for r in quarantine_table(home).to_pylist() if r["error_code"] == "not_a_regular_file"]
    assert len(q) == 4 and all(r["stored_file"] is None and r["payload"] is None for r in q)
    # The ledger has them: the next run does not look at them again.
    again = ingest(landing)
    assert {s.status for s in again.sources} == {"already_ingested"}


def test_a_fifo_or_a_symlink_to_one_is_refused_without_blocking(tmp_path: Path) -> None:
    # Finding: a symlink to a FIFO hung ingest (open() waits for a writer) with the lock held.
    landing = tmp_path / "landing"
    (landing / "click").mkdir(parents=True)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (landing / "click" / f"{NAME}.jsonl").symlink_to(fifo)
    os.mkfifo(landing / "click" / "w2-20260105T00-000000.jsonl")
    got = run_ingest(landing, tmp_path / "home", timeout=60)
    assert got["sources"] == {
        f"{NAME}.jsonl": ["refused", "not_a_regular_file", 0, 0, 0],
        "w2-20260105T00-000000.jsonl": ["refused", "not_a_regular_file", 0, 0, 0],
    }


def test_a_source_swapped_for_a_symlink_after_listing_is_not_followed(
    home: Path, tmp_path: Path
) -> None:
    """The check is made on the opened file (O_NOFOLLOW, fstat), not only on the listing."""
    from ingest.sources import RawStream, describe

    landing = tmp_path / "landing"
    (path,) = land(landing, "click", events("click", 2))
    source = describe(path)
    path.unlink()
    path.symlink_to(put(tmp_path / "secret", b'{"event_id": "stolen"}\n'))
    with pytest.raises(Exception) as err:
        b"".join(RawStream(source).blocks())
    assert getattr(err.value, "code", None) is ErrorCode.NOT_A_REGULAR_FILE


# ---------------------------------------------------------------- event-time window


def test_event_times_far_from_the_file_hour_are_quarantined(home: Path, tmp_path: Path) -> None:
    # Finding: any event_time in [2010, 2100) was accepted: 500 events made 502 partitions.
    landing = tmp_path / "landing"
    near = [event("bid_request", i, t=T0 + 60_000 * i) for i in range(10)]
    far = [event("bid_request", 1000 + k, t=T0 + (k - 245) * 37 * HOUR) for k in range(490)]
    path = put(
        landing / "bid_request" / f"{NAME}.jsonl",
        b"".join(orjson.dumps(e) + b"\n" for e in [*near, *far]),
    )
    report = ingest(landing)
    (source,) = report.sources
    assert (source.records, source.raw, source.quarantined) == (500, 11, 489)  # k=245 is T0
    partitions = {p.parent for p in lake.live_files("bid_request", Home(home))}
    assert len(partitions) == 1
    q = quarantine_table(home).to_pylist()
    assert {r["error_code"] for r in q} == {"event_time_outside_window"}
    assert all(r["source_path"] == str(path) for r in q)
    assert "2026-01-05T00:00" in q[0]["error_message"]  # names the file's hour


@pytest.mark.parametrize(
    ("event_type", "back_hours", "accepted"),
    [
        ("bid_request", 1, True),
        ("bid_request", 2, False),
        ("click", 24, True),
        ("click", 25, False),
        ("conversion", 7 * 24, True),  # postbacks report the conversion's own time, late
        ("conversion", 7 * 24 + 1, False),
        ("impression", -1, True),  # the hour after: clock skew
        ("impression", -2, False),
    ],
)
def test_each_event_type_has_its_own_window(
    home: Path, tmp_path: Path, event_type: str, back_hours: int, accepted: bool
) -> None:
    window = file_window(event_type, T0 // HOUR)
    assert window is not None
    t = T0 - back_hours * HOUR
    landing = tmp_path / "landing"
    put(landing / event_type / f"{NAME}.jsonl", orjson.dumps(event(event_type, 1, t=t)) + b"\n")
    (source,) = ingest(landing).sources
    assert source.raw == int(accepted)
    assert window.start_ms <= t < window.end_ms if accepted else True


def test_an_unnamed_file_spreading_over_too_many_hours_is_refused_whole(
    home: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    spread = [event("click", k, t=T0 + k * HOUR) for k in range(DEFAULT_MAX_HOURS_PER_FILE + 1)]
    path = put(
        landing / "click" / "export.jsonl", b"".join(orjson.dumps(e) + b"\n" for e in spread)
    )
    fits = put(
        landing / "click" / "export2.jsonl",
        b"".join(orjson.dumps(e) + b"\n" for e in spread[:-1]),
    )
    by_name = {s.path.name: s for s in ingest(landing).sources}
    assert (by_name[path.name].status, by_name[path.name].error_code) == (
        "file_quarantined",
        ErrorCode.TOO_MANY_PARTITIONS,
    )
    assert by_name[fits.name].raw == DEFAULT_MAX_HOURS_PER_FILE


# ---------------------------------------------------------------- permissions


def test_lake_quarantine_and_ledger_are_written_with_a_restrictive_umask(
    home: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", [*events("click", 3), b"<html>"])
    put(landing / "clicks" / "x.jsonl", b"{}\n")  # copied whole into the quarantine
    previous = os.umask(0o022)
    try:
        ingest(landing)
        assert os.umask(0o022) == 0o022  # the caller's umask is back afterwards
    finally:
        os.umask(previous)
    seen = set()
    for path in [Home(home).lake, *Home(home).lake.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o027 == 0, f"{path} is {oct(mode)}"
        seen.add(path.relative_to(Home(home).lake).parts[:1])
    assert {("raw",), ("quarantine",), ("_ledger",)} <= seen
