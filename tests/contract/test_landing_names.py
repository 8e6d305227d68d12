"""The landing-file name grammar: one format/parse pair, round-tripping every extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.landing_names import (
    EXTENSIONS,
    HOUR_MS,
    LogFileName,
    extension,
    format_name,
    is_closed_log,
    parse_in_progress_name,
    parse_name,
    split_extension,
)

HOUR = 1_767_225_600_000 // HOUR_MS  # 2026-01-01T00 UTC


@pytest.mark.parametrize("ext", list(EXTENSIONS))
def test_format_and_parse_round_trip(ext: str) -> None:
    name = format_name("bidder-a.3", HOUR + 13, 7, ext)
    assert name == f"bidder-a.3-20260101T13-000007.{ext}"
    parsed = parse_name(name)
    assert parsed == LogFileName("bidder-a.3", HOUR + 13, 7, ext)
    assert parsed.final() == name
    assert parse_in_progress_name(parsed.in_progress()) == parsed
    assert split_extension(name) == (parsed.fmt, parsed.compressed)
    assert extension(parsed.fmt, parsed.compressed) == ext


def test_writer_ids_with_dashes_keep_their_dashes() -> None:
    parsed = parse_name("sim-2-w1-20260101T00-000000.jsonl")
    assert parsed is not None and parsed.writer_id == "sim-2-w1" and parsed.seq == 0


@pytest.mark.parametrize(
    "name",
    [
        "foo.jsonl",  # no hour, no sequence
        "w-20261301T00-000000.jsonl",  # month 13
        "w-20260101T00-000000.csv",  # not a log extension
        "w-20260101T00-12.jsonl",  # sequence too short
    ],
)
def test_names_outside_the_grammar_do_not_parse(name: str) -> None:
    assert parse_name(name) is None


def test_closed_and_in_progress_names_are_told_apart() -> None:
    name = LogFileName("w", HOUR, 0, "pb.gz")
    assert is_closed_log(name.final()) and is_closed_log(Path("/x/click") / name.final())
    assert not is_closed_log(name.in_progress())
    assert not is_closed_log(".hidden.jsonl")
    assert parse_in_progress_name(name.final()) is None


@pytest.mark.parametrize("writer_id", ["", "a/b", ".hidden"])
def test_invalid_writer_ids_are_refused(writer_id: str) -> None:
    with pytest.raises(ValueError, match="invalid writer_id"):
        format_name(writer_id, HOUR, 0, "jsonl")


def test_unknown_extension_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tracking-log extension"):
        format_name("w", HOUR, 0, "csv")
