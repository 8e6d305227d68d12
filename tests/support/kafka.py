"""A Kafka cluster for tests: librdkafka's mock cluster, hosted by a subprocess.

No broker package is installed here, but a confluent-kafka client created with
`test.mock.num.brokers` hosts a mock cluster that speaks the real Kafka protocol on
loopback ports; other clients, in other processes too, reach it through the broker
addresses its metadata reports, for as long as the hosting client lives. The host runs in
its own process so the cluster outlives every client a test starts, kills and restarts.

What the mock does differently from a real cluster (measured with confluent-kafka 2.16):
topics are created on first use with 4 partitions; a partition keeps about its last 5 MB
(older messages are dropped, so tests stay well below that); `session.timeout.ms` below
6000 is refused; a first join of a group takes ~3 s and a rejoin after a member was
killed ~11 s; offsets committed without membership (`assign()`) are refused once a group
has had members. `pause()`/`resume()` SIGSTOP/SIGCONT the host: an outage with the
brokers' addresses unchanged, what a producer sees when its cluster stops answering.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# A client that gives up quickly: tests want failures in seconds, not minutes.
SESSION_TIMEOUT_MS = 6000  # the mock's minimum
FAST_CONSUMER = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 1000}

_HOST = """
import sys
from confluent_kafka import Producer
host = Producer({"test.mock.num.brokers": 3, "log_level": 0})
metadata = host.list_topics(timeout=30)
brokers = ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())
print(brokers, metadata.cluster_id, flush=True)
sys.stdin.read()  # until the test closes our stdin (or kills us)
"""


@dataclass
class MockCluster:
    process: subprocess.Popen[str]
    bootstrap: str
    cluster_id: str

    def pause(self) -> None:
        """Stop answering (SIGSTOP): connections stay open, nothing is served."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def mock_cluster() -> Iterator[MockCluster]:
    """A running mock cluster (3 brokers) for the duration of the block."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError("the mock Kafka cluster did not start")
        cluster = MockCluster(process, line[0], line[1])
        yield cluster
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def kafka_cluster() -> Iterator[MockCluster]:
    """A fresh mock cluster per test (`.bootstrap` is its bootstrap string). Use it with
    `from tests.support.kafka import kafka_cluster` in the test module."""
    with mock_cluster() as cluster:
        yield cluster


def lake_counts(home: Path) -> dict[str, tuple[int, int]]:
    """Per event type: (rows, distinct event_ids) over the lake's live files (the manifest),
    counted by DuckDB; types with no live file are left out."""
    import duckdb

    from bidlake.paths import Home
    from contract.events import EVENT_TYPES
    from ingest.lake import live_files

    out = {}
    for event_type in EVENT_TYPES:
        files = [str(f) for f in live_files(event_type, Home(home))]
        if files:
            sql = "select count(*), count(distinct event_id) from read_parquet(?)"
            ((rows, ids),) = duckdb.execute(sql, [files]).fetchall()
            out[event_type] = (int(rows), int(ids))
    return out
