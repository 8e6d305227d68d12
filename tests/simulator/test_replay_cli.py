from __future__ import annotations

from pathlib import Path

import pytest

from bidlake import cli
from tests.simulator.conftest import ConstantBidder, serve


def test_replay_command(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bidder = ConstantBidder()
    with serve(bidder.app()) as url:
        code = cli.main(["replay", "--bidder", url, "--rate", "0.05", "--start", "2026-01-05T14"])
    assert code == 0
    out = capsys.readouterr().out
    assert "requests" in out and "latency" in out and bidder.requests
    assert cli.main(["replay", "--bidder", "http://192.0.2.1:80"]) == 2


def test_a_bad_window_exits_2_naming_the_field(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "--bidder", "http://127.0.0.1:9", "--hours", "0"]) == 2
    assert "hours must be" in capsys.readouterr().err


def test_replay_pacing_flags(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bidder = ConstantBidder()
    base = ["replay", "--bidder", "", "--rate", "0.05", "--start", "2026-01-05T14"]
    with serve(bidder.app()) as url:
        base[2] = url
        assert cli.main([*base, "--speed", "2000", "--first-price-share", "0.5"]) == 0
        out = " ".join(capsys.readouterr().out.split())  # rich wraps at 80 columns
        assert "open loop at 2,000x" in out and "behind schedule" in out
        assert "first-price auctions" in out
        assert {r["at"] for r in bidder.requests} == {1, 2}
        assert cli.main([*base, "--closed-loop"]) == 0
        assert "closed loop, 16 in flight" in " ".join(capsys.readouterr().out.split())
    for bad in (["--speed", "0"], ["--speed", "x"], ["--closed-loop", "--speed", "3"]):
        with pytest.raises(SystemExit):
            cli.main([*base, *bad])
