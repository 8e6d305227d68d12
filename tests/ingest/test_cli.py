from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bidlake.cli import main
from bidlake.paths import Home
from ingest import lake
from ingest.cli import add_arguments
from tests.ingest.factories import events, land
from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[2]


def test_ingest_prints_a_summary_and_exits_0(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    land(Home(home).landing, "click", [*events("click", 5), b"<html>"])
    assert main(["ingest"]) == 0
    out = capsys.readouterr().out
    assert "1 new file(s)" in out and "click" in out and "quarantined records" in out
    assert main(["ingest"]) == 0
    assert "1 already ingested" in capsys.readouterr().out


def test_missing_folder_exits_2_with_its_name(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(home / "nope")]) == 2
    assert "nope does not exist" in capsys.readouterr().out


def test_default_landing_not_there_yet_is_nothing_to_do(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest"]) == 0
    assert "nothing to ingest" in capsys.readouterr().out


def test_unreadable_file_exits_1(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import sources as ingest_sources

    landing = tmp_path / "landing"
    land(landing, "click", events("click", 2))
    (bad,) = land(landing, "click", events("click", 2, start=5), writer_id="w2")
    # A log file the OS cannot open (tests run as root, which ignores permissions, so the
    # refusal is simulated).
    opener = ingest_sources.open_regular

    def refuse(path: Path) -> object:
        if path == bad:
            raise PermissionError(13, "Permission denied", str(path))
        return opener(path)

    monkeypatch.setattr(ingest_sources, "open_regular", refuse)
    assert main(["ingest", str(landing)]) == 1
    out = capsys.readouterr().out
    assert "unreadable" in out and "not accounted for" in out
    assert lake.live_files("click", Home(home))  # the readable file went in


def test_a_symlink_is_refused_and_said_so_with_exit_0(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", events("click", 2))
    (landing / "click" / "w2-20260105T00-000000.jsonl").symlink_to(tmp_path / "gone")
    assert main(["ingest", str(landing)]) == 0
    out = capsys.readouterr().out
    assert "refused not_a_regular_file" in out and "symbolic link" in out


def test_the_reject_cap_flag_reaches_ingest(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.pipeline import DEFAULT_MAX_REJECTS_PER_FILE

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).max_rejects_per_file == DEFAULT_MAX_REJECTS_PER_FILE
    land(Home(home).landing, "click", [*events("click", 2), b"<html>", b"<html>"])
    assert main(["ingest", "--max-rejects-per-file", "1"]) == 0
    assert "file_quarantined too_many_rejects" in capsys.readouterr().out


def test_compact_flag_merges_small_files(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for k in range(3):
        land(Home(home).landing, "click", events("click", 4, start=10 * k), writer_id=f"w{k}")
    assert main(["ingest", "--batch-mb", "0"]) == 0
    assert len(lake.live_files("click", Home(home))) == 3
    assert main(["ingest", "--compact"]) == 0
    assert "3 file(s) in 1 partition(s) -> 1 file(s)" in capsys.readouterr().out
    assert len(lake.live_files("click", Home(home))) == 1


def test_watch_ingests_files_as_they_appear_and_stops_on_sigterm(home: Path) -> None:
    landing = Home(home).landing
    land(landing, "click", events("click", 3), writer_id="a")
    env = {**os.environ, "PYTHONPATH": str(REPO), "BIDLAKE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bidlake.cli", "ingest", "--watch", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )

    def running() -> bool:
        return proc.poll() is None

    try:
        # polling the lake, which the child writes: there is no event to wait on
        eventually(
            lambda: lake.live_files("click", Home(home)),
            timeout=60,
            what="the first file ingested",
            alive=running,
        )
        land(landing, "click", events("click", 3, start=50), writer_id="b")
        eventually(
            lambda: len(lake.live_files("click", Home(home))) == 2,
            timeout=60,
            what="the file landed later ingested",
            alive=running,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert len(lake.live_files("click", Home(home))) == 2
    assert "watching" in out
