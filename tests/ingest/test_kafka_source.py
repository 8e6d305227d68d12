"""ingest.kafka_source against a Kafka cluster (librdkafka's mock, tests/support/kafka.py):
a consumer killed between its lake commit and its offset commit, then run again, leaves
every event in the lake exactly once (by dedup when the batch is delivered again, by the
ledger's offset ranges when the group had an offset); two consumers of one group share
the partitions through a rebalance without loss or duplicate; bad messages are quarantined
with their offsets, like bad lines of a file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bidder.kafka_logs import KafkaLogs
from bidlake.paths import Home
from contract.events import EVENT_TYPES
from contract.kafka import JSON_HEADERS, TOPICS, client, encode_value
from ingest.kafka_source import consume, parse_source_name
from ingest.ledger import Ledger
from tests.ingest.factories import event
from tests.support import kafka as kafka_support
from tests.support.kafka import FAST_CONSUMER, MockCluster, lake_counts
from tests.support.polling import eventually

pytestmark = pytest.mark.kafka
kafka_cluster = kafka_support.kafka_cluster
REPO = Path(__file__).resolve().parents[2]
N = 200

# Replaces the offset commit by SIGKILL: the process dies after its lake commit and
# before the group learns the offsets, the one moment that makes Kafka deliver again.
CRASHING_CONSUMER = """
import os, signal, sys
import ingest.kafka_source as kafka_source

def die(consumer, offsets):
    print("lake committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

kafka_source._commit_offsets = die
kafka_source.consume(sys.argv[1], "lake", sys.argv[2], assign=True, batch_seconds=5,
                     config={"session.timeout.ms": 6000})
"""


def produce(cluster: MockCluster, tmp_path: Path, start: int, n: int) -> None:
    logs = KafkaLogs(cluster.bootstrap, tmp_path / "spill", "producer")
    logs.open()
    for event_type in EVENT_TYPES:
        for i in range(start, start + n):
            logs.write(event_type, event(event_type, i))
    assert logs.flush(10) == 0
    logs.close()


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "BIDLAKE_HOME": str(home), "PYTHONPATH": str(REPO)}


def crash(cluster: MockCluster, home: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", CRASHING_CONSUMER, cluster.bootstrap, str(home)],
        cwd=REPO,
        env=env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.stdout.strip() == "lake committed"


def committed(cluster: MockCluster, group: str) -> list[int]:
    kafka = client()
    consumer = kafka.Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group})
    try:
        partitions = [kafka.TopicPartition(TOPICS[t], p) for t in EVENT_TYPES for p in range(4)]
        return [tp.offset for tp in consumer.committed(partitions, timeout=10)]
    finally:
        consumer.close()


def test_a_consumer_killed_between_lake_and_offset_commit_loses_and_repeats_nothing(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    produce(kafka_cluster, tmp_path, 0, N)
    # 1. A fresh group: killed after its first lake commit, before any offset commit.
    crash(kafka_cluster, home)
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (N, N))
    assert set(committed(kafka_cluster, "lake")) == {-1001}  # the group knows no offset
    # Run again: Kafka delivers the batch again. In other batches (smaller ones here) it is
    # other sources, a new commit, and dedup by event_id drops every event of it.
    again = consume(
        kafka_cluster.bootstrap, "lake", home, assign=True, config=FAST_CONSUMER, batch_messages=300
    )
    assert again.messages == 5 * N and again.totals()["duplicates"] == 5 * N
    assert again.totals()["raw"] == 0 and again.exit_code == 0
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (N, N))
    # 2. The group has offsets now: killed again after committing the next batch.
    produce(kafka_cluster, tmp_path, N, N)
    crash(kafka_cluster, home)
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (2 * N, 2 * N))
    # Run again, as an operator would: the ledger's ranges start at the group's offsets,
    # so the batch in the lake is skipped unread, and its offsets committed.
    again_cli = ["ingest", "--kafka", kafka_cluster.bootstrap, "--group", "lake", "--once"]
    cli = subprocess.run(
        [sys.executable, "-m", "bidlake.cli", *again_cli, "--assign"],
        cwd=REPO,
        env=env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"{5 * N:,} offsets already in the lake" in cli.stdout
    assert "0 messages" in cli.stdout
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (2 * N, 2 * N))
    assert sum(committed(kafka_cluster, "lake")) == 5 * 2 * N  # 20 partitions, at the end
    # The ledger names every offset range it holds.
    ranges = [parse_source_name(s.path) for c in Ledger(Home(home)).commits() for s in c.sources]
    assert all(r is not None and r.group == "lake" for r in ranges)
    covered = sum(r.last - r.first + 1 for r in ranges if r is not None)
    assert covered == 5 * N * 3  # batch 1 twice (crash, redelivery), batch 2 once


def test_two_consumers_of_one_group_share_the_partitions(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    command = [sys.executable, "-m", "bidlake.cli", "ingest", "--kafka", kafka_cluster.bootstrap,
               "--group", "lake", "--batch-seconds", "0.5", "--batch-messages", "300"]  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str) -> None:
        with logs[name].open("wb") as out:
            processes[name] = subprocess.Popen(
                command,
                cwd=REPO,
                env={**env(home), "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def raw_of(name: str) -> int:
        """Events a consumer put into the lake: its commit lines say `raw N`."""
        found = re.findall(r" commit i\w+: raw ([\d,]+)", logs[name].read_text())
        return sum(int(n.replace(",", "")) for n in found)

    writer = KafkaLogs(kafka_cluster.bootstrap, tmp_path / "spill", "producer")
    writer.open()
    produced = 0

    def wave(n: int = 20) -> None:
        nonlocal produced
        for event_type in EVENT_TYPES:
            for i in range(produced, produced + n):
                writer.write(event_type, event(event_type, i))
        produced += n
        assert writer.flush(10) == 0

    try:
        start("a")
        wave()
        eventually(lambda: raw_of("a") > 0, timeout=40, interval=0.2, what="a consuming")
        start("b")  # joins: the group rebalances, and a gives up some partitions
        deadline = time.monotonic() + 60
        a_before = raw_of("a")
        while not (raw_of("b") > 0 and raw_of("a") > a_before):
            assert time.monotonic() < deadline, "both consumers never consumed after the join"
            wave()
            time.sleep(0.3)
        wave()

        def all_in() -> bool:
            return lake_counts(home) == dict.fromkeys(EVENT_TYPES, (produced, produced))

        eventually(all_in, timeout=40, interval=0.3, what="every event in the lake")
    finally:
        writer.close()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=60)
    assert [p.returncode for p in processes.values()] == [0, 0]
    assert raw_of("a") > 0 and raw_of("b") > 0 and raw_of("a") + raw_of("b") == 5 * produced
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (produced, produced))


def test_bad_messages_are_quarantined_with_their_offsets(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    kafka = client()
    producer = kafka.Producer({"bootstrap.servers": kafka_cluster.bootstrap})
    topic = TOPICS["click"]
    good = event("click", 1)
    messages: list[tuple[bytes, Any]] = [
        (encode_value("click", good, "protobuf"), None),  # 0: valid
        (b"\xff\xff\xff", None),  # 1: not protobuf
        (b"", None),  # 2: an empty message: no event_id
        (encode_value("click", event("click", 2), "jsonl"), JSON_HEADERS),  # 3: valid JSON
        (b'{"event_id":\n"x"}', JSON_HEADERS),  # 4: a newline in a JSON value
        (b"{not json", JSON_HEADERS),  # 5
        (encode_value("click", event("click", 3), "protobuf"), [("content-type", b"text/csv")]),
        (encode_value("click", good, "protobuf"), None),  # 7: a duplicate of 0
    ]
    for value, headers in messages:
        producer.produce(topic, value, b"k", partition=0, headers=headers)
    assert producer.flush(10) == 0
    home = tmp_path / "home"
    report = consume(kafka_cluster.bootstrap, "lake", home, assign=True, config=FAST_CONSUMER)
    assert report.exit_code == 0 and report.messages == 8
    assert report.totals() == {"records": 8, "raw": 2, "quarantined": 5, "duplicates": 1}
    assert sorted(s.kind for s in report.sources) == ["?", "jsonl", "pb"]
    rows = duckdb.sql(
        f"select source_path, record_number, error_code from "
        f"read_parquet('{home}/lake/quarantine/records/*.parquet') order by record_number"
    ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [
        (1, "malformed_protobuf"),
        (2, "missing_required"),
        (4, "malformed_json"),
        (5, "malformed_json"),
        (6, "unknown_format"),
    ]
    assert all(r[0].startswith("kafka:") and f"/{topic}/0/0-7." in r[0] for r in rows)
    assert lake_counts(home) == {"click": (2, 2)}


class Died(Exception):
    pass


def test_the_same_batch_read_again_is_recognised_by_its_commit(
    kafka_cluster: MockCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import kafka_source

    produce(kafka_cluster, tmp_path, 0, 50)
    home = tmp_path / "home"

    def die(consumer: Any, offsets: list[Any]) -> list[Any]:
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr(kafka_source, "_commit_offsets", die)
        with pytest.raises(Died):
            consume(kafka_cluster.bootstrap, "lake", home, assign=True, config=FAST_CONSUMER)
    (first,) = Ledger(Home(home)).commits()
    # Read again in one batch: the same sources and bytes, so the same commit id, which
    # the ledger holds: nothing is decoded into the lake twice, nothing counted twice.
    again = consume(kafka_cluster.bootstrap, "lake", home, assign=True, config=FAST_CONSUMER)
    assert again.exit_code == 0 and again.messages == 5 * 50 and again.commits == []
    assert {s.status for s in again.sources} == {"already_ingested"}
    assert {s.commit_id for s in again.sources} == {first.commit_id}
    assert lake_counts(home) == dict.fromkeys(EVENT_TYPES, (50, 50))
    assert sum(committed(kafka_cluster, "lake")) == 5 * 50
