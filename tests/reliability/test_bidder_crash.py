"""The bidder killed (SIGKILL) under load, then restarted on the same landing folder.

A bounded loop of OpenRTB requests runs on loopback against `bidlake serve` (one worker,
log files published every second, buffers flushed every second); at a random moment the
bidder is killed. Promises checked (bidder/README.md, "Tracking logs"):
- every log file closed before the kill decodes fully (ingest's own readers: nothing
  quarantined);
- the restarted bidder publishes what the dead one had flushed, cut at the last complete
  record, so after it stops every file is closed and decodes fully;
- what is lost is at most the events of the last flush interval: every bid (and bid
  request) the bidder answered is in the logs unless it was answered within that interval
  before the kill; nothing is logged that was not answered.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pyarrow.parquet as pq

from bidlake.paths import Home
from contract.landing_names import INPROGRESS_SUFFIX, is_closed_log
from ingest.lake import live_files
from ingest.pipeline import ingest
from ml import registry
from ml.artifact import new_document, signing_key, write_artifact
from ml.features import default_spec
from tests.reliability.support import REPO, stop
from tests.support.polling import eventually

FLUSH_S = 1.0
ROTATE_S = 2.0  # longer than a flush: some ticks only flush, others also publish
# The upkeep task flushes on a one-second tick: allow one scheduling hiccup on top of the
# flush interval (a loaded CI machine), nothing more.
SLACK_S = 0.3
BOOK = REPO / "bidlake" / "campaigns.json"
SECRET = "reliability-test-secret"


def _models(home: Home) -> None:
    """A CTR and a CVR model, signed with the home's model-signing key (as ml exports)."""
    root, key = home.models, signing_key(home.root)
    for name, intercept in (("ctr", -5.8), ("cvr", -2.9)):
        doc = new_document(
            name=name,
            version=f"{name}-v1",
            created_at_ms=1_767_571_200_000,
            feature_spec=default_spec(hash_bits=16).to_dict(),
            intercept=intercept,
            weights={},
        )
        with registry.staging(name, f"{name}-v1", root) as folder:
            write_artifact(doc, folder / registry.MODEL_FILE, key)
        registry.set_current(name, f"{name}-v1", root)


def _body(i: int) -> bytes:
    """A bid request most campaigns of the shared book can bid on (distinct user per
    request, so no frequency cap interferes)."""
    return orjson.dumps(
        {
            "id": f"req-{i}",
            "tmax": 200,
            "imp": [{"id": "1", "bidfloor": 0.05, "banner": {"w": 300, "h": 250, "pos": 1}}],
            "site": {"domain": f"news-{i % 40}.example", "publisher": {"id": f"p{i % 9}"}},
            "device": {
                "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                "like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "devicetype": 2,
                "geo": {"country": "USA"},
            },
            "user": {"id": f"user-{i}"},
        }
    )


class Bidder:
    def __init__(self, home: Home, port: int, writer: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = home.root / f"serve-{writer}.log"
        command = [sys.executable, "-m", "bidlake.cli", "serve", "--port", str(port)]
        command += ["--campaigns", str(BOOK), "--writer-id", writer]
        command += ["--log-rotate-s", str(ROTATE_S), "--log-flush-s", str(FLUSH_S)]
        env = {**os.environ, "BIDLAKE_HOME": str(home.root), "BIDLAKE_BIDDER_SECRET": SECRET}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        eventually(
            lambda: httpx.get(self.url + "/readyz", timeout=1).status_code == 200,
            timeout=60,
            what=f"bidlake serve ready ({self.log.read_text(errors='replace')[-2000:]})",
            alive=lambda: self.process.poll() is None,
        )


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _closed_and_open(landing: Path) -> tuple[list[Path], list[Path]]:
    files = [p for p in landing.glob("*/*") if p.is_file() and p.parent.name != ".writers"]
    return (
        [p for p in files if is_closed_log(p)],
        [p for p in files if p.name.endswith(INPROGRESS_SUFFIX)],
    )


def _decode_fully(home: Home, files: list[Path]) -> dict[str, int]:
    """Ingest `files` into a scratch lake; every record must be valid. Returns the events
    per type."""
    report = ingest(files, home=home)
    assert report.accounted
    totals = report.totals()
    assert totals["quarantined"] == 0, [
        (s.path.name, s.error_code, s.message) for s in report.sources if s.quarantined
    ]
    counts: dict[str, int] = {}
    for s in report.sources:
        counts[s.event_type or "?"] = counts.get(s.event_type or "?", 0) + s.raw + s.duplicates
    return counts


def test_killed_bidder_loses_at_most_its_last_flush_interval(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)  # the kill's phase against the bidder's 1 s tick
    rng = random.Random(seed)
    home = Home(tmp_path / "home")
    _models(home)
    first = Bidder(home, _port(), "bidder-a")
    answered: list[tuple[float, str, list[str]]] = []  # (answered at, request id, bid ids)
    failures: list[str] = []
    stop_load = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=first.url, timeout=2) as client:
            for i in range(20_000):  # bounded: ~6 s at the most this loop reaches
                if stop_load.is_set():
                    return
                try:
                    response = client.post("/openrtb2/bid?exchange=adx", content=_body(i))
                except httpx.HTTPError:
                    return  # the bidder is gone
                at = time.monotonic()
                if response.status_code == 200:
                    bids = response.json()["seatbid"][0]["bid"]
                    answered.append((at, f"req-{i}", [b["id"] for b in bids]))
                elif response.status_code == 204:
                    answered.append((at, f"req-{i}", []))
                else:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    loader = threading.Thread(target=load, name="load")
    try:
        loader.start()
        time.sleep(rng.uniform(2.5, 4.5))  # a few rotations and flushes into the load
        closed_before, _ = _closed_and_open(home.landing)
        first.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert first.process.wait(timeout=30) == -signal.SIGKILL
        loader.join(timeout=30)
    finally:
        stop_load.set()
        stop(first.process)
    assert not failures, failures[:5]
    assert len(answered) > 300 and sum(len(b) for _, _, b in answered) > 100

    # What the dead bidder had closed is whole, before anyone touches its leftovers.
    closed, in_progress = _closed_and_open(home.landing)
    assert set(closed_before) <= set(closed) and closed_before
    assert in_progress, "the killed bidder left no in-progress file to salvage"
    _decode_fully(Home(tmp_path / "scratch-before"), closed)

    second = Bidder(home, _port(), "bidder-b")
    try:
        assert "salvaged" in second.log.read_text(errors="replace")
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=60) == 0
    finally:
        stop(second.process)
    closed, in_progress = _closed_and_open(home.landing)
    assert in_progress == []
    scratch = Home(tmp_path / "scratch-after")
    _decode_fully(scratch, closed)

    def logged(event_type: str, column: str) -> set[str]:
        files = live_files(event_type, scratch)
        return {v for f in files for v in pq.read_table(f, columns=[column])[column].to_pylist()}

    bid_ids, request_ids = logged("bid", "event_id"), logged("bid_request", "request_id")
    answered_bids = {b for _, _, bids in answered for b in bids}
    answered_requests = {rid for _, rid, _ in answered}
    assert bid_ids <= answered_bids  # nothing logged that was not answered
    assert request_ids <= answered_requests
    window = FLUSH_S + SLACK_S
    for at, rid, bids in answered:
        if at < killed_at - window:
            assert rid in request_ids, (
                f"seed {seed}: {rid} lost, answered {killed_at - at:.2f} s before the kill"
            )
            assert set(bids) <= bid_ids, f"seed {seed}: bids of {rid} lost ({killed_at - at:.2f} s)"
    lost = [killed_at - at for at, rid, _ in answered if rid not in request_ids]
    print(
        f"answered {len(answered)} requests / {len(answered_bids)} bids; lost "
        f"{len(lost)} requests, {len(answered_bids - bid_ids)} bids, the oldest answered "
        f"{max(lost, default=0):.2f} s before the kill (bound {window:g} s)"
    )
