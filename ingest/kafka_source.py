"""Kafka -> the raw lake: `bidlake ingest --kafka BOOTSTRAP --group G`, and `consume()`.

The event topics (`contract.kafka.TOPICS`) are read by a consumer group, in bounded
batches (`batch_messages` messages or `batch_seconds` seconds, whichever comes first). A
batch becomes *sources*, one per (topic, partition, value format), exactly as files are:
the same decoders, rules, quarantine, dedup by event_id and commit protocol
(`ingest.pipeline._Batch`, `ingest.ledger`). A source is named

    kafka:<cluster id>/<group>/<topic>/<partition>/<first offset>-<last offset>.<pb|jsonl>

and that name is its `path` in the ledger, the reports and the quarantine table (whose
`record_number` is then the message's offset), so the ledger records which offsets of
which partition each commit holds.

Offsets are committed to the group only after the lake commit that holds their messages
(synchronously, `_commit_offsets`). A crash between the two leaves the group's offset
behind the lake; the batch is then not read twice: on assignment, a ledger range of the
same cluster, group and partition that starts exactly at the committed offset is skipped
(and so is the one after it, and so on). Where that does not apply (the group had no
offset yet, offsets were reset, another group reads the same topics into the same lake)
messages are delivered again, and dedup by event_id drops them: a redelivered event sits
in its own hour partition, always within the dedup horizon. Either way every event is in
the lake once (effectively once).

`once=True` drains: it stops when every assigned partition has reported its end (or
`max_seconds` passed), committing what it read. `assign=True` takes every partition of
the topics directly, without joining the group (no rebalance wait: a join takes seconds,
a rejoin after a crash a session timeout), reading and committing the group's offsets:
for a single drainer such as a Dagster job; a group is either drained that way or run by
members, not both. `consume()` returns a `KafkaReport` (an `IngestReport` plus the Kafka
side), what a Dagster asset can record.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from bidlake.paths import Home
from contract.encoding import MAX_FRAME_BYTES, varint
from contract.events import columns as contract_columns
from contract.kafka import (
    TOPICS,
    client,
    consumer_config,
    event_type_of_topic,
    value_format,
)
from contract.landing_names import Format
from ingest import dedup, lake
from ingest.decoded import Checked, Reject
from ingest.errors import ErrorCode, SourceError
from ingest.jsonl import JsonlDecoder
from ingest.ledger import Ledger
from ingest.pipeline import (
    DEFAULT_WORKERS,
    IngestReport,
    SourceRead,
    SourceReport,
    _Batch,  # the seam: a batch of sources read, deduplicated and committed together
    _commit_id,  # a batch's id: from its sources' names and bytes
    _resolve_home,
)
from ingest.protobuf import CHUNK_MESSAGES, Job, ProtobufDecoder
from ingest.sources import Source

log = logging.getLogger("ingest.kafka")

DEFAULT_GROUP = "bidlake-ingest"
# A batch is one lake commit: one Parquet file per (event type, hour) it touches. Bigger
# batches mean fewer, larger files; its messages are held in memory (~2x their bytes).
DEFAULT_BATCH_MESSAGES = 500_000
DEFAULT_BATCH_SECONDS = 60.0
FETCH_MESSAGES = 10_000  # messages asked of the client per call
POLL_S = 0.5
_NAME = re.compile(
    r"^kafka:(?P<cluster>[^/]+)/(?P<group>[^/]+)/(?P<topic>[^/]+)/(?P<partition>\d+)/"
    r"(?P<first>\d+)-(?P<last>\d+)\.(?:pb|jsonl|unknown)$"
)
_KINDS: dict[Format | None, str] = {"protobuf": "pb", "jsonl": "jsonl", None: "unknown"}


@dataclass
class KafkaReport(IngestReport):
    """An `IngestReport` (one source per topic, partition and format of each batch) plus
    the Kafka side of the run."""

    bootstrap: str = ""
    group: str = ""
    messages: int = 0  # messages read (= records of the sources)
    caught_up: bool = False  # every assigned partition reached its end
    skipped: int = 0  # offsets skipped because the ledger already had them
    offset_commit_failures: int = 0  # the lake has them; redelivery is deduplicated
    partitions: list[str] = field(default_factory=list)  # "topic/partition" assigned

    def summary(self) -> str:
        totals = self.totals()
        rate = self.messages / self.seconds if self.seconds else 0.0
        state = "caught up" if self.caught_up else "not caught up"
        return (
            f"kafka {self.bootstrap} group {self.group}: {self.messages:,} messages in "
            f"{len(self.commits)} commit(s), {self.seconds:.1f}s ({rate:,.0f}/s), {state}; "
            f"raw {totals['raw']:,}, quarantined {totals['quarantined']:,}, "
            f"duplicates {totals['duplicates']:,}"
            + (f", {self.skipped:,} offsets already in the lake" if self.skipped else "")
            + (
                f", {self.offset_commit_failures} offset commit(s) failed"
                if self.offset_commit_failures
                else ""
            )
        )


@dataclass(frozen=True)
class KafkaRange:
    cluster: str
    group: str
    topic: str
    partition: int
    first: int
    last: int


def source_name(
    cluster: str,
    group: str,
    topic: str,
    partition: int,
    first: int,
    last: int,
    fmt: Format | None,
) -> str:
    """The ledger path of a batch's messages of one partition and value format (None: a
    content type not the contract's); see the module docstring."""
    return (
        f"kafka:{quote(cluster, safe='')}/{quote(group, safe='')}/{topic}/{partition}/"
        f"{first}-{last}.{_KINDS[fmt]}"
    )


def parse_source_name(name: str) -> KafkaRange | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return KafkaRange(
        unquote(match["cluster"]),
        unquote(match["group"]),
        match["topic"],
        int(match["partition"]),
        int(match["first"]),
        int(match["last"]),
    )


def _commit_offsets(consumer: Any, offsets: list[Any]) -> list[Any]:
    """Commit the group's offsets, synchronously. A module-level function on purpose:
    the crash tests replace it to kill the process between the lake commit and this."""
    return list(consumer.commit(offsets=offsets, asynchronous=False) or [])


# ---------------------------------------------------------------- messages -> sources


def _frames(values: Sequence[bytes]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The values as one length-delimited stream, with each message body's start and end."""
    parts: list[bytes] = []
    add = parts.append
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    prefix = np.ones(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        n = len(value)
        head = bytes((n,)) if n < 0x80 else varint(n)
        prefix[i] = len(head)
        add(head)
        add(value)
    ends = np.cumsum(prefix + lengths)
    return b"".join(parts), ends - lengths, ends


def _read(name: str, event_type: str, fmt: Format, messages: Sequence[Any]) -> SourceRead:
    """Decode and check one partition's messages of one format, as a file would be."""
    values = [m.value() or b"" for m in messages]
    offsets = [m.offset() for m in messages]
    last_ts = max((m.timestamp()[1] for m in messages), default=0)
    source = Source(
        path=Path(name),
        event_type=event_type,
        fmt=fmt,
        compressed=False,
        size=sum(len(v) for v in values),
        mtime_ns=max(last_ts, 0) * 1_000_000,
    )
    read = SourceRead(source, "ingested", records=0)
    read.decoded_bytes = source.size
    # A record the stream form cannot carry is refused before decoding: over the cap, or
    # (JSON) holding a newline, which the one-line JSON form never has.
    kept: list[int] = []
    early: list[Reject] = []
    for i, value in enumerate(values):
        if len(value) > MAX_FRAME_BYTES:
            message = f"message of {len(value)} bytes: over the {MAX_FRAME_BYTES} cap"
            early.append(Reject(offsets[i], 0, ErrorCode.RECORD_TOO_LONG, message, "", b""))
        elif fmt == "jsonl" and b"\n" in value:
            message = "a JSON value holds a newline (the contract's JSON form is one line)"
            early.append(Reject(offsets[i], 0, ErrorCode.MALFORMED_JSON, message, "", value))
        else:
            kept.append(i)
    digest = hashlib.sha256()
    cols = contract_columns(event_type)
    decoder: JsonlDecoder | ProtobufDecoder
    if fmt == "protobuf":
        data, starts, ends = _frames([values[i] for i in kept])
        decoder = ProtobufDecoder(event_type, cols)
        jobs: list[Any] = []
        for lo in range(0, len(kept), CHUNK_MESSAGES):
            hi = min(lo + CHUNK_MESSAGES, len(kept))
            begin = int(ends[lo - 1]) if lo else 0  # the first frame's length prefix
            stop = int(ends[hi - 1])
            jobs.append(
                Job(data[begin:stop], starts[lo:hi] - begin, ends[lo:hi] - begin, lo + 1, begin)
            )
    else:
        data = b"".join(values[i] + b"\n" for i in kept)
        decoder = JsonlDecoder(event_type, cols)
        jobs = list(decoder.jobs(iter([data]))) if data else []
    digest.update(data)
    read.sha256 = digest.hexdigest()
    try:
        checked: list[Checked] = [decoder.decode(job) for job in jobs]
    except SourceError as exc:  # not expected: the stream is built to be well-formed
        checked = []
        early += [Reject(offsets[i], 0, exc.code, exc.message, "", values[i]) for i in kept]
        kept = []
    index = np.asarray(kept, dtype=np.int64)
    for part in checked:
        read.records += part.records
        if part.valid.num_rows:
            read.tables.append(part.valid)
        for reject in part.rejects:
            # Record numbers count the stream's records from 1: make them Kafka offsets.
            number = offsets[int(index[reject.record - 1])] if reject.record else None
            read.rejects.append(replace(reject, record=number))
    read.records += len(early)
    read.rejects += early
    read.reject_bytes = sum(len(r.payload) for r in read.rejects)
    return read


# ---------------------------------------------------------------- the consumer


class _Run:
    def __init__(
        self,
        bootstrap: str,
        group: str,
        home: Home,
        *,
        batch_messages: int,
        batch_seconds: float,
        assign: bool,
        dedup_horizon_hours: int,
        config: dict[str, Any],
        pool: Executor,
    ) -> None:
        self.kafka = client()
        self.home = home
        self.group = group
        self.batch_messages = max(1, batch_messages)
        self.batch_seconds = batch_seconds
        self.horizon = dedup_horizon_hours
        self.pool = pool
        self.ledger = Ledger(home)
        self.report = KafkaReport(bootstrap=bootstrap, group=group)
        self.consumer = self.kafka.Consumer(consumer_config(bootstrap, group, **config))
        try:
            metadata = self.consumer.list_topics(timeout=30)
        except self.kafka.KafkaException:
            self.consumer.close()
            raise
        self.cluster = metadata.cluster_id or "unknown"
        self.assigned: set[tuple[str, int]] = set()
        self.eof: set[tuple[str, int]] = set()
        self.joined = False
        self.buffer: dict[tuple[str, int], list[Any]] = {}
        self.buffered = 0
        self.batch_started = 0.0
        self.to_commit: list[Any] = []  # offsets moved past ledger ranges, to commit
        if assign:
            partitions = [
                self.kafka.TopicPartition(topic, p)
                for topic in TOPICS.values()
                if topic in metadata.topics
                for p in sorted(metadata.topics[topic].partitions)
            ]
            self.consumer.assign(self._positions(partitions))
            self._assigned(partitions)
        else:
            self.consumer.subscribe(
                list(TOPICS.values()),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )

    # -- assignment

    def _assigned(self, partitions: list[Any]) -> None:
        self.joined = True
        self.assigned = {(tp.topic, tp.partition) for tp in partitions}
        self.eof &= self.assigned
        self.report.partitions = sorted(f"{t}/{p}" for t, p in self.assigned)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        consumer.assign(self._positions(partitions))
        self._assigned(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Messages read but not committed go back: whoever owns them next reads them again
        # from the committed offset. Not caught up until the next assignment.
        self.joined = False
        for tp in partitions:
            dropped = self.buffer.pop((tp.topic, tp.partition), [])
            self.buffered -= len(dropped)
            self.assigned.discard((tp.topic, tp.partition))
            self.eof.discard((tp.topic, tp.partition))

    def _positions(self, partitions: list[Any]) -> list[Any]:
        """The group's committed offsets, moved past ranges the ledger already holds."""
        if not partitions:
            return partitions
        committed = self.consumer.committed(partitions, timeout=30)
        ranges = self._ledger_ranges()
        for tp in committed:
            start = tp.offset
            if start < 0:
                continue  # no offset yet: auto.offset.reset (earliest); dedup covers it
            starts = ranges.get((tp.topic, tp.partition), {})
            position = start
            while position in starts:
                position = starts[position] + 1
            if position != start:
                log.info("%s/%d: offsets %d-%d are in the lake already", tp.topic, tp.partition,
                         start, position - 1)  # fmt: skip
                self.report.skipped += position - start
                tp.offset = position
                self.to_commit.append(self.kafka.TopicPartition(tp.topic, tp.partition, position))
        return list(committed)

    def _ledger_ranges(self) -> dict[tuple[str, int], dict[int, int]]:
        """(topic, partition) -> {first offset: last offset} this cluster and group committed."""
        out: dict[tuple[str, int], dict[int, int]] = {}
        for commit in self.ledger.commits():
            for src in commit.sources:
                got = parse_source_name(src.path)
                if got is not None and got.cluster == self.cluster and got.group == self.group:
                    starts = out.setdefault((got.topic, got.partition), {})
                    starts[got.first] = max(starts.get(got.first, got.last), got.last)
        return out

    # -- the loop

    @property
    def caught_up(self) -> bool:
        return self.joined and self.eof >= self.assigned

    def poll(self, timeout: float) -> None:
        room = max(1, min(FETCH_MESSAGES, self.batch_messages - self.buffered))
        messages = self.consumer.consume(room, timeout)
        eof_code = self.kafka.KafkaError._PARTITION_EOF
        unknown = {
            self.kafka.KafkaError.UNKNOWN_TOPIC_OR_PART,
            self.kafka.KafkaError._UNKNOWN_TOPIC,
        }
        for message in messages:
            error = message.error()
            key = (message.topic(), message.partition())
            if error is not None:
                if error.code() == eof_code:
                    self.eof.add(key)
                elif error.fatal():
                    raise self.kafka.KafkaException(error)
                elif error.code() not in unknown:  # a topic nobody wrote to yet: no news
                    log.warning("kafka: %s", error.str())
                continue
            if key not in self.assigned:
                continue  # a straggler of a partition revoked meanwhile
            self.eof.discard(key)
            if not self.buffered:
                self.batch_started = time.monotonic()
            self.buffer.setdefault(key, []).append(message)
            self.buffered += 1
        if self.to_commit:
            self._commit_offsets(self.to_commit)
            self.to_commit = []

    def batch_due(self) -> bool:
        if not self.buffered:
            return False
        return (
            self.buffered >= self.batch_messages
            or time.monotonic() - self.batch_started >= self.batch_seconds
            or self.caught_up
        )

    def commit_batch(self) -> None:
        """The buffered messages into the lake, then their offsets into the group."""
        buffer, self.buffer, self.buffered = self.buffer, {}, 0
        if not buffer:
            return
        tasks: list[tuple[str, str, Format, list[Any]]] = []
        reads: list[SourceRead] = []
        offsets = []
        for (topic, partition), messages in sorted(buffer.items()):
            event_type = event_type_of_topic(topic)
            assert event_type is not None
            first, last = messages[0].offset(), messages[-1].offset()
            by_format: dict[Format | None, list[Any]] = {}
            for message in messages:
                by_format.setdefault(value_format(message.headers()), []).append(message)
            unknown = by_format.pop(None, [])
            for fmt, group in sorted(by_format.items(), key=lambda kv: str(kv[0])):
                assert fmt is not None
                name = source_name(self.cluster, self.group, topic, partition, first, last, fmt)
                tasks.append((name, event_type, fmt, group))
            if unknown:
                name = source_name(self.cluster, self.group, topic, partition, first, last, None)
                reads.append(_unknown_format(name, event_type, unknown))
            offsets.append(self.kafka.TopicPartition(topic, partition, last + 1))
            self.report.messages += len(messages)
            self.report.bytes_read += sum(len(m.value() or b"") for m in messages)
        # Sources decode in parallel: the heavy parts run in pyarrow/numpy without the GIL.
        reads = [*self.pool.map(lambda task: _read(*task), tasks), *reads]
        with self.ledger.lock():
            self.report.recovered += self.ledger.recover()
            commit_id = _commit_id(reads)
            if (self.ledger.batches / f"{commit_id}.json").exists():
                # The very batch again (a crash before its offsets were committed, and the
                # same messages read again in the same batch): the ledger has it already.
                reports = [_already(read, commit_id) for read in reads]
                commit_id = ""
            else:
                batch = _Batch(self.home, self.ledger, {}, self.horizon, self.pool)
                for read in reads:
                    batch.add(read)
                commit_id, reports = batch.commit()
        self.report.sources += reports
        if commit_id:
            self.report.commits.append(commit_id)
        self._commit_offsets(offsets)

    def _commit_offsets(self, offsets: list[Any]) -> None:
        try:
            results = _commit_offsets(self.consumer, offsets)
        except self.kafka.KafkaException as exc:
            # The lake has the messages; whoever reads them again skips or dedups them.
            self.report.offset_commit_failures += 1
            log.warning("kafka: offset commit failed (%s); the lake has the batch", exc)
            return
        if any(tp.error is not None for tp in results):
            self.report.offset_commit_failures += 1
            log.warning("kafka: offset commit failed for some partitions: %s", results)

    def close(self) -> None:
        self.consumer.close()


def _already(read: SourceRead, commit_id: str) -> SourceReport:
    src = read.source
    return SourceReport(src.path, src.event_type, src.kind, "already_ingested", commit_id=commit_id)


def _unknown_format(name: str, event_type: str, messages: Sequence[Any]) -> SourceRead:
    """Messages whose content-type header is not the contract's: each refused."""
    values = [m.value() or b"" for m in messages]
    source = Source(Path(name), event_type, None, False, sum(map(len, values)), 0)
    headers = {str(m.headers()) for m in messages}
    why = f"content-type not jsonl or protobuf (headers {sorted(headers)[0]})"
    rejects = [
        Reject(m.offset(), 0, ErrorCode.UNKNOWN_FORMAT, why, "", v)
        for m, v in zip(messages, values, strict=True)
    ]
    digest = hashlib.sha256(b"".join(values)).hexdigest()
    return SourceRead(source, "ingested", digest, len(rejects), rejects=rejects)


def consume(
    bootstrap: str,
    group: str = DEFAULT_GROUP,
    home: Home | Path | str | None = None,
    *,
    once: bool = True,
    max_seconds: float | None = None,
    batch_messages: int = DEFAULT_BATCH_MESSAGES,
    batch_seconds: float = DEFAULT_BATCH_SECONDS,
    assign: bool = False,
    dedup_horizon_hours: int = dedup.DEFAULT_HORIZON_HOURS,
    workers: int = DEFAULT_WORKERS,
    config: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    on_batch: Callable[[KafkaReport], None] | None = None,
) -> KafkaReport:
    """Consume the event topics into the lake of `home` (see the module docstring).

    `once`: stop when caught up. `max_seconds`: stop then at the latest (what was read is
    committed first). `stop`: set it to stop after the current batch. `config`: librdkafka
    settings over `contract.kafka.CONSUMER_DEFAULTS` (e.g. `session.timeout.ms`). Raises
    `confluent_kafka.KafkaException` when no broker answers within 30 s, or on a fatal
    consumer error.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + max_seconds if max_seconds is not None else float("inf")
    resolved = _resolve_home(home)
    with lake.restricted_umask(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        run = _Run(
            bootstrap,
            group,
            resolved,
            batch_messages=batch_messages,
            batch_seconds=batch_seconds,
            assign=assign,
            dedup_horizon_hours=dedup_horizon_hours,
            config=config or {},
            pool=pool,
        )
        report = run.report
        try:
            while not (stop is not None and stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                run.poll(min(POLL_S, left))
                if run.batch_due():
                    commits = len(report.commits)
                    run.commit_batch()
                    if on_batch is not None and len(report.commits) > commits:
                        on_batch(report)
                if once and run.caught_up and not run.buffered:
                    break
            run.commit_batch()  # what was read before a stop or the deadline
            report.caught_up = run.caught_up and not run.buffered
        finally:
            run.close()
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------- the command line


def run_cli(args: argparse.Namespace, print_line: Callable[[str], None]) -> int:
    """`bidlake ingest --kafka ...` (options in `ingest.cli`): 0 when every message is
    accounted for, 1 otherwise (or when no broker answers)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        print_line("stopping after the current batch ...")
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    done = 0

    def progress(report: KafkaReport) -> None:
        nonlocal done
        new = report.sources[done:]
        done = len(report.sources)
        raw = sum(s.raw for s in new)
        bad = sum(s.quarantined for s in new)
        dup = sum(s.duplicates for s in new)
        print_line(
            f"{time.strftime('%H:%M:%S')} commit {report.commits[-1]}: "
            f"raw {raw:,}, quarantined {bad:,}, duplicates {dup:,}"
        )

    try:
        report = consume(
            args.kafka,
            args.group,
            once=args.once,
            max_seconds=args.max_seconds,
            batch_messages=args.batch_messages,
            batch_seconds=args.batch_seconds,
            assign=args.assign,
            dedup_horizon_hours=args.dedup_horizon_hours,
            stop=stop,
            on_batch=None if args.once else progress,
        )
    except client().KafkaException as exc:
        print_line(f"bidlake ingest --kafka: {exc}")
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print_line(report.summary())
    return report.exit_code
