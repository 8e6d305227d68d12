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
