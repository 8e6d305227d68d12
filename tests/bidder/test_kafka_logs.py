"""bidder.kafka_logs against a Kafka cluster (librdkafka's mock, tests/support/kafka.py):
every event of every type reaches the lake exactly once, keys keep a bid's events on one
partition and in order, an outage spills and the spill is replayed exactly once (also the
spill of a writer killed mid-outage), and the bidder uses Kafka only when told to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from starlette.testclient import TestClient

from bidder.app import create_app
from bidder.kafka_logs import KafkaLogs
from bidder.settings import Settings, SettingsError
from contract.events import EVENT_TYPES
from contract.kafka import TOPICS, client
from ingest.kafka_source import consume
from tests.bidder.test_cases import BOOK
from tests.ingest.factories import event
from tests.support import kafka as kafka_support
from tests.support.kafka import FAST_CONSUMER, MockCluster, lake_counts
from tests.support.polling import eventually

pytestmark = pytest.mark.kafka
kafka_cluster = kafka_support.kafka_cluster
REPO = Path(__file__).resolve().parents[2]
N = 300  # events per type: a few hundred KB, far below the mock's 5 MB per partition
# An outage must be noticed in about a second, not in the production default's 10 s.
QUICK = {"message.timeout.ms": 1500, "linger.ms": 2}
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def every_type(n: int, start: int = 0) -> list[tuple[str, dict[str, object]]]:
    return [(t, event(t, i)) for t in EVENT_TYPES for i in range(start, start + n)]


def writer(cluster: MockCluster, home: Path, writer_id: str = "w1", **kw: Any) -> KafkaLogs:
    config = {**QUICK, **kw.pop("config", {})}
    logs = KafkaLogs(cluster.bootstrap, home / "spill", writer_id, config=config, **kw)
    logs.open()
    return logs


def drain(cluster: MockCluster, home: Path, group: str = "lake", **kw: Any) -> Any:
    kw.setdefault("assign", True)
    return consume(cluster.bootstrap, group, home, config=FAST_CONSUMER, batch_seconds=5, **kw)


@pytest.mark.parametrize(("fmt", "assign"), [("protobuf", False), ("jsonl", True)])
def test_every_event_reaches_the_lake_exactly_once(
    kafka_cluster: MockCluster, tmp_path: Path, fmt: str, assign: bool
) -> None:
    logs = writer(kafka_cluster, tmp_path, fmt=fmt)
    for event_type, e in every_type(N):
        logs.write(event_type, e)
    assert logs.flush(10) == 0  # all acknowledged (acks=all)
    logs.close()
    assert logs.spilled == 0 and logs.events == dict.fromkeys(EVENT_TYPES, N)
    report = drain(kafka_cluster, tmp_path, assign=assign)
    assert report.caught_up and report.exit_code == 0
    assert report.totals() == {"records": 5 * N, "raw": 5 * N, "quarantined": 0, "duplicates": 0}
    assert lake_counts(tmp_path) == dict.fromkeys(EVENT_TYPES, (N, N))


def test_a_bid_and_what_follows_it_share_a_partition_in_order(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    logs = writer(kafka_cluster, tmp_path)
    for i in range(40):
        bid = event("bid", i, event_id=f"b{i}")
        logs.write("bid", bid)
        for event_type in ("impression", "click", "conversion"):
            logs.write(event_type, event(event_type, i))  # bid_id b{i}
        # A retried win notice: same id, later; it must come after the original.
        logs.write("impression", event("impression", i, t=int(bid["event_time"]) + 5_000))  # type: ignore[call-overload]
    assert logs.flush(10) == 0
    logs.close()
    kafka = client()
    consumer = kafka.Consumer({"bootstrap.servers": kafka_cluster.bootstrap, "group.id": "peek"})
    topics = [TOPICS[t] for t in ("bid", "impression", "click", "conversion")]
    metadata = consumer.list_topics(timeout=10)
    consumer.assign(
        [
            kafka.TopicPartition(t, p, kafka.OFFSET_BEGINNING)
            for t in topics
            for p in metadata.topics[t].partitions
        ]
    )
    partitions: dict[bytes, set[int]] = defaultdict(set)
    impression_times: dict[bytes, list[int]] = defaultdict(list)
    seen = 0
    deadline = time.monotonic() + 20
    while seen < 40 * 5 and time.monotonic() < deadline:
        for message in consumer.consume(500, 0.5):
            if message.error():
                continue
            seen += 1
            partitions[message.key()].add(message.partition())
            if message.topic() == TOPICS["impression"]:
                value = kafka_value("impression", message.value())
                impression_times[message.key()].append(value.event_time)
    consumer.close()
    assert seen == 200
    assert all(len(p) == 1 for p in partitions.values())  # same partition in every topic
    assert len({min(p) for p in partitions.values()}) > 1  # and the bids spread out
    assert all(times[0] < times[1] for times in impression_times.values())


def kafka_value(event_type: str, value: bytes) -> Any:
    from contract.events import EVENT_MESSAGES

    return EVENT_MESSAGES[event_type].FromString(value)


def test_an_outage_spills_and_the_spill_is_replayed_exactly_once(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    # A small in-flight queue: the memory an outage may take is bounded, the rest spills.
    logs = writer(
        kafka_cluster, tmp_path, retry_s=0.2, config={"queue.buffering.max.messages": 200}
    )
    for event_type, e in every_type(20):  # delivered before the outage
        logs.write(event_type, e)
    assert logs.flush(10) == 0
    kafka_cluster.pause()
    try:
        for event_type, e in every_type(N, start=20):
            logs.write(event_type, e)
        assert logs.queue_full > 0  # the queue filled: those went straight to the spill
        # flush() returns once each event is acknowledged or durably spilled: here, once
        # the queued ones timed out and moved to the spill.
        assert logs.flush(10) == 0
        assert logs.spilled == 5 * N
        for _ in range(3):  # replay attempts while the cluster is still down change nothing
            logs.tick(0)
            time.sleep(0.3)
        assert logs.replayed == 0
        for event_type, e in every_type(10, start=20 + N):  # the spill stays a FIFO
            logs.write(event_type, e)
        assert logs.spilled == 5 * (N + 10)
    finally:
        kafka_cluster.resume()

    def drained() -> bool:
        logs.tick(0)
        return not logs._spilling

    eventually(drained, timeout=30, interval=0.2, what="the spill replayed")
    assert logs.replayed == logs.spilled == 5 * (N + 10)
    assert not list((tmp_path / "spill").glob("*.spill"))  # replayed segments are deleted
    for event_type, e in every_type(5, start=30 + N):  # straight to Kafka again
        logs.write(event_type, e)
    logs.close()
    assert logs.spilled == 5 * (N + 10)
    report = drain(kafka_cluster, tmp_path)
    total = 20 + N + 10 + 5
    assert report.exit_code == 0 and report.totals()["raw"] == 5 * total
    assert lake_counts(tmp_path) == dict.fromkeys(EVENT_TYPES, (total, total))


DOOMED_WRITER = """
import sys, time
from pathlib import Path
from bidder.kafka_logs import KafkaLogs
from contract.events import EVENT_TYPES
from tests.ingest.factories import event

logs = KafkaLogs(sys.argv[1], Path(sys.argv[2]), "doomed",
                 config={"message.timeout.ms": 1000, "queue.buffering.max.messages": 50})
logs.open()
for event_type in EVENT_TYPES:
    for i in range(int(sys.argv[3])):
        logs.write(event_type, event(event_type, i))
while logs.spilled < 5 * int(sys.argv[3]):  # the queued ones time out into the spill
    logs.tick(0)
    time.sleep(0.1)
logs.tick(0)  # the spill's buffer to the OS
print("spilled", logs.spilled, flush=True)
time.sleep(600)  # killed here, mid-outage, never closed
"""


def test_a_writer_killed_mid_outage_leaves_a_spill_another_writer_replays(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    kafka_cluster.pause()
    spill = str(tmp_path / "spill")
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED_WRITER, kafka_cluster.bootstrap, spill, str(N)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert doomed.stdout is not None
        assert doomed.stdout.readline().split() == ["spilled", str(5 * N)]
    finally:
        doomed.kill()
        doomed.wait(timeout=30)
        kafka_cluster.resume()
    heir = writer(kafka_cluster, tmp_path, "heir", retry_s=0.1)
    assert heir._spilling  # the dead writer's spill goes first

    def drained() -> bool:
        heir.tick(0)
        return not heir._spilling

    eventually(drained, timeout=30, interval=0.2, what="the dead writer's spill replayed")
    heir.close()
    assert heir.replayed == 5 * N
    assert not (tmp_path / "spill" / "doomed.lock").exists()
    assert lake_counts(tmp_path) == {} and drain(kafka_cluster, tmp_path).exit_code == 0
    assert lake_counts(tmp_path) == dict.fromkeys(EVENT_TYPES, (N, N))


def test_the_bidder_logs_to_kafka_when_told(
    kafka_cluster: MockCluster, settings: Settings, home: Path
) -> None:
    told = settings.with_overrides(
        campaigns=str(BOOK),
        events_to=f"kafka://{kafka_cluster.bootstrap}",
        log_format="protobuf",
    )
    app = create_app(told, clock=lambda: 1_767_614_400_000)
    with TestClient(app) as http:
        assert isinstance(app.bidder.logs, KafkaLogs)
        body = {
            "id": "r-kafka",
            "imp": [{"id": "1", "bidfloor": 0.5, "banner": {"w": 300, "h": 250}}],
            "site": {"domain": "news.example", "publisher": {"id": "p1"}},
            "device": {"ua": UA, "devicetype": 2, "geo": {"country": "USA"}},
            "user": {"id": "u-1"},
        }
        answer = http.post("/openrtb2/bid?exchange=adx", content=orjson.dumps(body))
        assert answer.status_code == 200, answer.text
        nurl = urlsplit(answer.json()["seatbid"][0]["bid"][0]["nurl"])
        win = http.get(f"{nurl.path}?{nurl.query}".replace("${AUCTION_PRICE}", "1.0"))
        assert win.status_code == 200
    # Leaving the client stopped the bidder: close() made every event durable in Kafka.
    assert not list((home / "bidder" / "kafka-spill").glob("*.spill"))
    report = drain(kafka_cluster, home)
    assert report.exit_code == 0, report.sources
    counts = lake_counts(home)
    assert counts == {"bid_request": (1, 1), "bid": (1, 1), "impression": (1, 1)}
    assert not (home / "landing" / "bid_request").exists()  # no tracking-log files


def test_events_to_takes_files_or_a_kafka_url() -> None:
    assert Settings(events_to="kafka://a:9092,b:9092").validated().events_to.startswith("kafka")
    for bad in ("kafka://", "kafka://nohost", "s3://bucket", "files2"):
        with pytest.raises(SettingsError, match="events_to"):
            Settings(events_to=bad).validated()


def test_the_kafka_client_is_loaded_only_when_kafka_is_configured() -> None:
    probe = (
        "import sys, bidder.app, bidder.service, bidder.cli, bidder.kafka_logs\n"
        "print('confluent_kafka' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_closing_with_the_cluster_down_leaves_every_event_in_the_spill(
    kafka_cluster: MockCluster, tmp_path: Path
) -> None:
    logs = writer(
        kafka_cluster, tmp_path, close_timeout_s=0.5, config={"message.timeout.ms": 60_000}
    )
    kafka_cluster.pause()
    try:
        for event_type, e in every_type(50):
            logs.write(event_type, e)
        logs.close()  # the queue is purged into the spill, fsynced
        assert logs.spilled == 5 * 50 and logs.unresolved_at_close == 0
    finally:
        kafka_cluster.resume()
    assert os.path.exists(tmp_path / "spill" / "w1.lock")  # left for the next writer
    heir = writer(kafka_cluster, tmp_path, "w1", retry_s=0.1)  # the same id, restarted
    eventually(lambda: (heir.tick(0), not heir._spilling)[1], timeout=30, what="replayed")
    heir.close()
    assert drain(kafka_cluster, tmp_path).exit_code == 0
    assert lake_counts(tmp_path) == dict.fromkeys(EVENT_TYPES, (50, 50))
