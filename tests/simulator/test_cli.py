from __future__ import annotations

from pathlib import Path

import pytest

from bidlake import cli


def test_simulate_writes_to_the_home_landing_and_prints_a_summary(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["simulate", "--seed", "4", "--start", "2026-01-05T10", "--hours", "1", "--rate", "2"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "requests" in out and "clicks" in out and str(home / "landing") in out
    for event_type in ("bid_request", "bid", "impression"):
        files = list((home / "landing" / event_type).iterdir())
        assert files and all(f.name.startswith("sim-s4-20260105T10-") for f in files)
    assert list((home / "truth").glob("*.parquet"))


def test_simulate_to_an_explicit_folder_in_protobuf(tmp_path: Path, home: Path) -> None:
    out, truth = tmp_path / "out", tmp_path / "t"
    code = cli.main(
        [
            "simulate",
            "--out",
            str(out),
            "--truth",
            str(truth),
            "--hours",
            "1",
            "--rate",
            "1",
            "--format",
            "protobuf",
            "--gzip",
            "--duplicate-rate",
            "0.01",
            "--corrupt-rate",
            "0.01",
        ]
    )
    assert code == 0
    assert list((out / "bid_request").glob("*.pb.gz")) and list(truth.glob("*.parquet"))
    assert not (home / "landing").exists()


def test_bad_start_exits_2_with_a_reason(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--start", "2026-01-05T10:30"]) == 2
    assert "whole hour" in capsys.readouterr().err
    assert cli.main(["simulate", "--rate", "0"]) == 2
    assert "rate must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--corrupt-rate", "2"])


def test_simulate_first_price_share(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--hours", "1", "--rate", "1", "--first-price-share", "0.4"]
    assert cli.main(args) == 0
    assert "first-price auctions" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--first-price-share", "1.5"])
    assert "must be a number in [0, 1]" in capsys.readouterr().err
