"""The bidder's events to Kafka, with a local spill file for what Kafka cannot take.

`KafkaLogs` has the surface of `bidder.event_logs.BidderLogs` (`open`, `write`, `tick`,
`close`, the `events` counts), so `bidder.service` uses either; `--events-to kafka://...`
picks this one. Topics, keys and values are the contract's (`contract.kafka`): one topic
per event type, keyed by the id whose events must stay in order, values in `--log-format`.
The producer runs with acks=all and idempotence, so a retry never duplicates or reorders
an event within a partition.

What is guaranteed, and when:

- `write()` hands the event to librdkafka's in-memory queue, or appends it to the spill.
  Nothing is durable yet (as with the file logs, whose `write` fills a buffer).
- `flush(timeout)` returns 0 once every event written before it is durable: acknowledged
  by Kafka (written by every in-sync replica) or in a spill file that is fsynced. It
  returns the number still in flight when the timeout ran out (those are neither yet).
- `close()` makes every event ever written durable in one of the two places: it waits up
  to `close_timeout_s` for the queue, then purges what is left into the spill and fsyncs
  it. An event purged while in flight may also have reached Kafka; it is then delivered
  twice, and ingest's dedup by event_id keeps one.
- A SIGKILLed bidder loses what librdkafka held unacknowledged: normally the last
  `linger.ms` plus a round trip; in an outage, at most the queue's bound
  (`queue.buffering.max.kbytes`, 64 MiB) or `message.timeout.ms` (10 s) of events, since
  a failed delivery moves its event to the spill. What reached the spill survives a
  process crash once flushed to the OS (every `tick`, about once a second).

The spill (`<spill_dir>/<ms>-<seq>.<writer_id>.spill`, `contract.kafka.spill_record`
frames) takes every event the producer cannot deliver: the queue is full (`BufferError`)
or a delivery failed for good (timed out, brokers down). From the first such event on,
*every* new event goes to the spill too, so the spill is a FIFO in front of Kafka and the
order of a key survives an outage. A replay thread, started by `tick` once `retry_s` has
passed since the last failure, checks that a broker answers, then produces the spill
segments oldest first in chunks, waiting for each chunk's delivery reports; a segment is
deleted when all of it was acknowledged. When the spill is empty again, writes go straight
to Kafka. A chunk with a failure stops the replay (retried later from that chunk; its
acknowledged part is then sent twice and deduplicated by ingest). Events Kafka refuses
for good (too large, invalid) are kept in `rejected/<writer_id>.spill` and counted, never
retried. Segments are at most `SEGMENT_BYTES`; each writer holds an flock on
`<writer_id>.lock`, and a writer that finds a lock nobody holds (a dead bidder) adopts
and replays its segments.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from contract.kafka import (
    bootstrap_of,
    client,
    encode,
    headers_for,
    producer_config,
    read_spill,
    spill_record,
)
from contract.landing_names import Format, check_writer_id

if TYPE_CHECKING:
    from bidder.settings import Settings

log = logging.getLogger("bidder.kafka_logs")

SEGMENT_BYTES = 64 << 20  # a spill segment is sealed (fsynced, closed) at this size
REPLAY_CHUNK = 5_000  # spilled events produced before waiting for their reports
POLL_EVERY = 1_000  # writes between two polls of the producer's event queue
ADOPT_EVERY_S = 60.0  # how often `tick` looks for spill segments of dead writers
SPILL_BUFFER = 1 << 20
_SEGMENT = re.compile(r"^(?P<ms>\d{13})-(?P<seq>\d{6})\.(?P<writer>.+)\.spill$")
# Delivery errors that no retry can fix: the event is set aside, not spilled again.
_PERMANENT = (
    "MSG_SIZE_TOO_LARGE",
    "_MSG_SIZE_TOO_LARGE",
    "INVALID_RECORD",
    "CORRUPT_MESSAGE",
    "RECORD_LIST_TOO_LARGE",
    "TOPIC_EXCEPTION",
    "_INVALID_ARG",
)


class KafkaLogs:
    """Tracking events to Kafka (see the module docstring). `write` and `tick` belong to
    the event loop's thread; the replay thread and delivery reports share the spill under
    a lock."""

    def __init__(
        self,
        bootstrap: str,
        spill_dir: Path,
        writer_id: str,
        *,
        fmt: Format = "protobuf",
        retry_s: float = 5.0,
        close_timeout_s: float = 10.0,
        config: dict[str, Any] | None = None,
    ) -> None:
        if fmt not in ("jsonl", "protobuf"):
            raise ValueError(f"unknown event format {fmt!r}: jsonl or protobuf")
        self.bootstrap = bootstrap_of(bootstrap)
        self.spill_dir = Path(spill_dir)
        self.writer_id = check_writer_id(writer_id)
        self.fmt: Format = fmt
        self.headers = headers_for(fmt)
        self.retry_s = retry_s
        self.close_timeout_s = close_timeout_s
        self.config = dict(config or {})
        self.events: dict[str, int] = {}
        self.spilled = 0  # events written to the spill
        self.replayed = 0  # spilled events Kafka acknowledged on replay
        self.rejected = 0  # events Kafka refused for good (in rejected/)
        self.failures = 0  # failed delivery reports
        self.queue_full = 0  # writes that found the in-flight queue full
        self.unresolved_at_close = 0
        self.files_published = 0  # BidderLogs' counter; nothing is published here
        self._producer: Any = None
        self._kafka_errors: tuple[type[BaseException], ...] = ()
        self._fatal: object = None
        self._permanent_codes: frozenset[int] | None = None
        self._unpolled = 0
        self._lock = threading.Lock()
        self._spilling = False
        self._last_failure = 0.0  # time.monotonic() of the last failure
        self._active: IO[bytes] | None = None
        self._active_path: Path | None = None
        self._active_bytes = 0
        self._seq = 0
        self._held: dict[str, IO[bytes]] = {}  # writer id -> its lock file (ours, adopted)
        self._replayer: threading.Thread | None = None
        self._closing = threading.Event()
        self._resume: dict[Path, int] = {}  # segment -> records acknowledged so far
        self._last_adopt = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaLogs:
        from bidlake.paths import home

        return cls(
            settings.events_to,
            home().root / "bidder" / "kafka-spill",
            settings.resolved_writer_id(),
            fmt=settings.log_format,  # type: ignore[arg-type]
        )

    # ---- lifecycle

    def open(self, now_ms: int | None = None) -> None:
        """Take this writer's lock, adopt dead writers' spills, create the producer."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        if not self._take_lock(self.writer_id):
            raise RuntimeError(
                f"event writer id {self.writer_id!r} is in use by a live process "
                f"({self.spill_dir / (self.writer_id + '.lock')}); give each bidder process "
                "its own writer id"
            )
        self._producer = self._new_producer()
        self._adopt_dead()
        self._last_adopt = time.monotonic()
        if self._segments():
            log.warning("unsent events in %s: replaying them before new ones", self.spill_dir)
            self._spilling = True  # the spill stays a FIFO in front of Kafka

    def _new_producer(self) -> Any:
        kafka = client()
        self._kafka_errors = (kafka.KafkaException,)
        conf = producer_config(
            self.bootstrap,
            on_delivery=self._on_delivery,
            error_cb=self._on_error,
            **self.config,
        )
        return kafka.Producer(conf)

    def write(self, event_type: str, event: dict[str, object]) -> None:
        topic, key, value = encode(event_type, event, self.fmt)
        self.events[event_type] = self.events.get(event_type, 0) + 1
        self._send(topic, key, value)

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        if not self._spilling:
            try:
                self._producer.produce(topic, value, key, headers=self.headers)
            except BufferError:
                self.queue_full += 1
                self._spill(topic, key, value, "the in-flight queue is full")
            except self._kafka_errors as exc:
                self._reject(topic, key, value, self.fmt, exc)
            else:
                self._unpolled += 1
                if self._unpolled >= POLL_EVERY:
                    self._unpolled = 0
                    self._producer.poll(0)
            return
        with self._lock:
            if self._spilling:
                self._append(topic, key, value, self.fmt)
                return
        self._send(topic, key, value)  # the replay drained the spill meanwhile

    def tick(self, now_ms: int) -> None:
        """Periodic upkeep (about once a second): serve delivery reports, hand the spill's
        buffer to the OS, replace a producer with a fatal error, start a replay."""
        self._producer.poll(0)
        with self._lock:
            if self._active is not None:
                self._active.flush()
        replaying = self._replayer is not None and self._replayer.is_alive()
        if self._fatal is not None and not replaying:
            self._restart_producer()
        now = time.monotonic()
        if now - self._last_adopt >= ADOPT_EVERY_S:
            self._last_adopt = now
            with self._lock:
                if self._adopt_dead():
                    self._spilling = True
        if self._spilling and not replaying and now - self._last_failure >= self.retry_s:
            self._replayer = threading.Thread(
                target=self._replay, name=f"kafka-replay-{self.writer_id}", daemon=True
            )
            self._replayer.start()

    def retire(self, writer: object) -> list[Path]:
        """BidderLogs rotates files; `tick` here never returns anything to retire."""
        return []

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every event written so far is acknowledged by Kafka or in the fsynced
        spill; returns how many are still in flight after `timeout` (0: all durable)."""
        left = int(self._producer.flush(timeout))
        with self._lock:
            if self._active is not None:
                self._active.flush()
                os.fsync(self._active.fileno())
        return left

    def close(self) -> None:
        """Make every event durable (Kafka or the spill), then release the locks."""
        self._closing.set()
        if self._replayer is not None:
            self._replayer.join()
        producer = self._producer
        if producer is not None:
            left = int(producer.flush(self.close_timeout_s))
            if left:
                # Still unacknowledged: purge them; their reports move them to the spill.
                log.warning("%d events unacknowledged at close: moving them to the spill", left)
                producer.purge(in_queue=True, in_flight=True)
                deadline = time.monotonic() + 5.0
                while len(producer) and time.monotonic() < deadline:
                    producer.poll(0.05)
                self.unresolved_at_close = len(producer)
            self._producer = None
        with self._lock:
            self._seal()
            for writer_id in list(self._held):
                self._release(writer_id, keep_file=bool(self._segments_of(writer_id)))

    # ---- delivery reports, errors

    def _permanent(self, err: Any) -> bool:
        if self._permanent_codes is None:
            error = client().KafkaError
            self._permanent_codes = frozenset(
                getattr(error, name) for name in _PERMANENT if hasattr(error, name)
            )
        return err.code() in self._permanent_codes

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            return
        self.failures += 1
        topic, key, value = msg.topic(), msg.key() or b"", msg.value() or b""
        if self._permanent(err):
            self._reject(topic, key, value, self.fmt, err)
            return
        self._spill(topic, key, value, f"delivery failed: {err.str()}")

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            log.error("Kafka producer error, fatal: %s; a new producer replaces it", err.str())
            self._fatal = err
        else:
            log.warning("Kafka producer error: %s", err.str())

    def _restart_producer(self) -> None:
        old, self._fatal = self._producer, None
        with contextlib.suppress(*self._kafka_errors):
            old.purge(in_queue=True, in_flight=True)
            deadline = time.monotonic() + 5.0
            while len(old) and time.monotonic() < deadline:
                old.poll(0.05)  # the purged events' reports move them to the spill
        self._producer = self._new_producer()

    # ---- the spill

    def _spill(self, topic: str, key: bytes, value: bytes, why: str) -> None:
        with self._lock:
            if not self._spilling:
                log.warning("Kafka cannot take events (%s): spilling to %s", why, self.spill_dir)
            self._spilling = True
            self._last_failure = time.monotonic()
            self._append(topic, key, value, self.fmt)

    def _append(self, topic: str, key: bytes, value: bytes, fmt: Format) -> None:
        """Append one record to the active segment (lock held)."""
        if self._active is None:
            self._seq += 1
            name = f"{time.time_ns() // 1_000_000:013d}-{self._seq:06d}.{self.writer_id}.spill"
            self._active_path = self.spill_dir / name
            self._active = open(self._active_path, "ab", buffering=SPILL_BUFFER)  # noqa: SIM115
            self._active_bytes = 0
        record = spill_record(topic, key, value, fmt)
        self._active.write(record)
        self._active_bytes += len(record)
        self.spilled += 1
        if self._active_bytes >= SEGMENT_BYTES:
            self._seal()

    def _seal(self) -> None:
        """Flush, fsync and close the active segment (lock held)."""
        if self._active is None:
            return
        self._active.flush()
        os.fsync(self._active.fileno())
        self._active.close()
        self._active = None
        self._active_path = None

    def _reject(self, topic: str, key: bytes, value: bytes, fmt: Format, why: object) -> None:
        self.rejected += 1
        log.error("Kafka refused an event on %s for good (%s): kept in rejected/", topic, why)
        folder = self.spill_dir / "rejected"
        folder.mkdir(exist_ok=True)
        with self._lock, open(folder / f"{self.writer_id}.spill", "ab") as out:
            out.write(spill_record(topic, key, value, fmt))

    def _segments_of(self, writer_id: str) -> list[Path]:
        return sorted(
            p
            for p in self.spill_dir.glob("*.spill")
            if (m := _SEGMENT.match(p.name)) and m["writer"] == writer_id
        )

    def _segments(self) -> list[Path]:
        """Closed segments of this writer and the writers it adopted, oldest first."""
        found = [p for w in self._held for p in self._segments_of(w) if p != self._active_path]
        return sorted(found, key=lambda p: p.name)

    # ---- locks: one per writer id, held for the writer's life

    def _take_lock(self, writer_id: str) -> bool:
        handle = open(self.spill_dir / f"{writer_id}.lock", "ab")  # noqa: SIM115 - held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._held[writer_id] = handle
        return True

    def _release(self, writer_id: str, keep_file: bool) -> None:
        handle = self._held.pop(writer_id)
        if not keep_file:
            with contextlib.suppress(FileNotFoundError):
                (self.spill_dir / f"{writer_id}.lock").unlink()
        handle.close()

    def _adopt_dead(self) -> bool:
        """Take the locks of writers that died with spill segments; True if any found."""
        ids = {p.name[: -len(".lock")] for p in self.spill_dir.glob("*.lock")}
        ids |= {
            m["writer"] for p in self.spill_dir.glob("*.spill") if (m := _SEGMENT.match(p.name))
        }
        adopted = False
        for writer_id in sorted(ids - set(self._held)):
            if not self._take_lock(writer_id):
                continue  # alive
            if self._segments_of(writer_id):
                log.warning("adopting the unsent events of dead writer %s", writer_id)
                adopted = True
            else:
                self._release(writer_id, keep_file=False)
        return adopted

    # ---- replay (its own thread)

    def _replay(self) -> None:
        try:
            self._producer.list_topics(timeout=min(5.0, max(self.retry_s, 1.0)))
        except self._kafka_errors as exc:
            log.info("Kafka still unreachable (%s): keeping the spill", exc)
            self._last_failure = time.monotonic()
            return
        while not self._closing.is_set():
            with self._lock:
                segments = self._segments()
                if not segments and self._active is not None:
                    self._seal()
                    segments = self._segments()
                if not segments:
                    self._spilling = False
                    for writer_id in [w for w in self._held if w != self.writer_id]:
                        self._release(writer_id, keep_file=False)
                    log.info("spill drained: %d events replayed so far", self.replayed)
                    return
            for segment in segments:
                if not self._replay_segment(segment):
                    self._last_failure = time.monotonic()
                    return

    def _replay_segment(self, path: Path) -> bool:
        """Produce one segment; delete it when all of it is acknowledged."""
        data = path.read_bytes()
        records, end = read_spill(data)
        if end < len(data):
            log.warning(
                "%s: %d bytes after the last complete record dropped", path, len(data) - end
            )
        producer = self._producer
        done = self._resume.get(path, 0)
        while done < len(records):
            if self._closing.is_set():
                return False
            chunk = records[done : done + REPLAY_CHUNK]
            failed: list[str] = []
            formats: tuple[Format, ...] = ("jsonl", "protobuf")
            reports = {fmt: self._chunk_report(failed, fmt) for fmt in formats}
            for topic, key, value, fmt in chunk:
                while True:
                    try:
                        producer.produce(
                            topic, value, key, headers=headers_for(fmt), on_delivery=reports[fmt]
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
                    except self._kafka_errors as exc:
                        self._reject(topic, key, value, fmt, exc)
                        break
            # Every message gets its report within message.timeout.ms.
            while producer.flush(1.0) > 0:
                if self._closing.is_set():
                    return False
            if failed:
                log.warning("replay of %s stopped: %s", path.name, failed[0])
                return False
            done += len(chunk)
            self._resume[path] = done
            self.replayed += len(chunk)
        with self._lock:
            path.unlink()
        self._resume.pop(path, None)
        return True

    def _chunk_report(self, failed: list[str], fmt: Format) -> Callable[[Any, Any], None]:
        def report(err: Any, msg: Any) -> None:
            if err is None:
                return
            if self._permanent(err):
                self._reject(msg.topic(), msg.key() or b"", msg.value() or b"", fmt, err)
            else:
                failed.append(err.str())

        return report
