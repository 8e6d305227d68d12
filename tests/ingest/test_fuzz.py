"""A bounded atheris run of the decoder fuzzer (`fuzz_decoders.py`) inside the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED_INPUTS = [
    b"\x00\x01\x02\x03\x04\x00" + b'{"event_id": "a", "event_time": 1767571200000}\n',
    b"\x02\x01\x02\x03\x04\x02" + b"\x0a\x01x" * 4,
    b"\x04\x05\x00\x00\x02\x01" + b'{"event_id": "\xff"}\n{}\n\n[]',
]


def test_a_bounded_fuzzing_run_of_the_decoders_finds_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for k, seed in enumerate(SEED_INPUTS):
        (corpus / f"seed{k}").write_bytes(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.ingest.fuzz_decoders",
            "-runs=1500",
            "-seed=1",
            "-max_len=512",
            "-rss_limit_mb=1024",
            str(corpus),
        ],
        cwd=tmp_path,  # where a crash-<sha1> input would be written
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done 1500 runs" in proc.stderr
    assert not list(tmp_path.glob("crash-*"))
