"""A projection worker: one member of a consumer group, applying the events topic to every projection.

Each poll batch is applied in ONE read-model transaction together with the next offset of each of
its partitions and the applied version of each aggregate; the transaction commits before the next
poll, and a rebalance happens only inside poll, so a revoked partition never leaves anything
half-done. On assignment the worker seeks to the offsets stored in the database (Kafka's committed
offsets are informational). Offsets read again under the write lock guard against a worker that lost
a partition while it was busy: records below the stored offset are skipped, and offsets only move forward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import structlog
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from consumers import kafka_state
from consumers.dlq import dead_letter_message
from consumers.kafka_topics import Backoff, KafkaUnavailable, Topics, consumer, ensure_topic, kafka_errors, producer
from consumers.runner import lock_tracking
from consumers.sequencer import DeadLetter, Record, Sequencer, parse
from consumers.wire import Incoming, NewerSchemaError
from projections.base import Projection, tracking_metadata

log = structlog.get_logger("voronka.worker")
PROGRESS_EVERY = 10.0  # seconds between progress lines


class StoredVersions:
    """Applied versions and parked events in the read-model database, within one batch's transaction."""

    def __init__(self, conn: Connection, aggregate_ids: set) -> None:
        self.conn = conn
        self.versions = kafka_state.applied_versions(conn, aggregate_ids)
        self.changed: dict = {}
        self.parked_ids = kafka_state.parked_aggregates(conn)

    def applied(self, aggregate_id) -> int:
        return self.versions.get(aggregate_id, 0)

    def set_applied(self, aggregate_id, version: int) -> None:
        self.versions[aggregate_id] = self.changed[aggregate_id] = version

    def park(self, incoming: Incoming, record: Record) -> None:
        kafka_state.park(self.conn, incoming.aggregate_id, incoming.version, record.partition, record.offset, record.value)
        self.parked_ids.add(incoming.aggregate_id)
        log.info("event_parked", aggregate_id=str(incoming.aggregate_id), version=incoming.version,
                 applied=self.applied(incoming.aggregate_id), partition=record.partition, offset=record.offset)  # fmt: skip

    def parked(self, aggregate_id) -> list[tuple[int, int, int, bytes]]:
        return kafka_state.parked_events(self.conn, aggregate_id) if aggregate_id in self.parked_ids else []

    def unpark(self, aggregate_id, up_to_version: int) -> None:
        if aggregate_id in self.parked_ids:
            kafka_state.unpark(self.conn, aggregate_id, up_to_version)

    def save(self) -> None:
        kafka_state.save_applied(self.conn, self.changed)


class SeekToStoredOffsets(ConsumerRebalanceListener):
    def __init__(self, worker: KafkaWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked):
        log.info("partitions_revoked", worker=self.worker.name, partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        self.worker.assigned_ever.update(tp.partition for tp in assigned)
        self.worker.seek_to_stored(list(assigned))


class KafkaWorker:
    def __init__(self, engine: Engine, projections: Sequence[Projection], topics: Topics, name: str = "worker",
                 max_records: int = 2000, static: bool = False) -> None:  # fmt: skip
        """`static`: the name is a stable group member id, so a restarted worker takes its place (and partitions)
        at once instead of after a rebalance; a stopped one keeps them for the session timeout."""
        self.engine, self.projections, self.topics, self.name = engine, projections, topics, name
        self.max_records, self.static = max_records, static
        self.consumer = None
        self.dlq = None
        self.assigned_ever: set[int] = set()
        self.sequencer = Sequencer(projections, self._dead_letter, topics.events)
        self.pending_dead: list[DeadLetter] = []
        self.last_report = time.monotonic()
        for metadata in (tracking_metadata, kafka_state.metadata, *(p.metadata for p in projections)):
            metadata.create_all(engine)

    # --- lifecycle ---

    def run(self, stop: threading.Event) -> None:
        """Consume until stopped. Raises NewerSchemaError (the worker must stop) and nothing else."""
        backoff = Backoff()
        try:
            while not stop.is_set():
                try:
                    if self.consumer is None:
                        self.connect()
                    self.poll_once()
                    backoff.reset()
                except NewerSchemaError:
                    raise
                except (KafkaUnavailable, KafkaError) as exc:
                    wait = backoff.wait()
                    log.warning("worker_kafka_unavailable", worker=self.name, error=str(exc), retry_in=wait)
                    self.rewind()
                    stop.wait(wait)
                except Exception:  # the read-model database: nothing was committed, read the batch again later
                    wait = backoff.wait()
                    log.exception("worker_batch_failed", worker=self.name, retry_in=wait)
                    self.rewind()
                    stop.wait(wait)
        finally:
            self.close()

    def connect(self) -> None:
        ensure_topic(self.topics.bootstrap, self.topics.events, self.topics.partitions)
        ensure_topic(self.topics.bootstrap, self.topics.dlq, 1)
        self.dlq = producer(self.topics.bootstrap)
        self.consumer = consumer(self.topics.bootstrap, group_id=self.topics.group, client_id=self.name,
                                 group_instance_id=self.name if self.static else None,
                                 auto_offset_reset="earliest", max_poll_records=self.max_records,
                                 session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
                                 max_partition_fetch_bytes=4 * 1024 * 1024)  # fmt: skip
        self.consumer.subscribe([self.topics.events], listener=SeekToStoredOffsets(self))
        log.info("worker_started", worker=self.name, topic=self.topics.events, group=self.topics.group)

    def close(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()  # leaves the group: the others take its partitions at once
            except Exception:  # noqa: BLE001
                pass
            self.consumer = None
        if self.dlq is not None:
            self.dlq.close(timeout=5)
            self.dlq = None

    def seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        with self.engine.connect() as conn:
            stored = kafka_state.stored_offsets(conn, self.topics.group, self.topics.events)
        for tp in partitions:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
            else:
                self.consumer.seek_to_beginning(tp)
        log.info("partitions_assigned", worker=self.name, offsets={tp.partition: stored.get(tp.partition, 0) for tp in partitions})

    def rewind(self) -> None:
        """After a batch that did not commit, read again from the stored offsets."""
        if self.consumer is not None:
            try:
                self.seek_to_stored(list(self.consumer.assignment()))
            except Exception:  # noqa: BLE001 - the next connect seeks anyway
                self.close()

    # --- one batch ---

    def poll_once(self, timeout_ms: int = 200) -> int:
        with kafka_errors("polling"):
            batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        records = [Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                   for rs in batch.values() for r in rs]  # fmt: skip
        if records:
            self.apply(records)
            try:
                self.consumer.commit_async()  # informational only: the database holds the real offsets
            except KafkaError:
                pass
        if time.monotonic() - self.last_report > PROGRESS_EVERY:
            counts = self.sequencer.counts
            log.info("worker_progress", worker=self.name, applied=counts.applied, repeated=counts.repeated,
                     parked=counts.parked, dead_letters=counts.dead,
                     partitions=sorted(tp.partition for tp in self.consumer.assignment()))  # fmt: skip
            self.last_report = time.monotonic()
        return len(records)

    def apply(self, records: list[Record]) -> None:
        """Apply a batch in one transaction; if the database refuses a statement, one record per transaction."""
        try:
            self._with_lock_retry(records)
        except (IntegrityError, DataError) as exc:
            if len(records) == 1:
                self._with_lock_retry(records, failed=exc)
                return
            log.warning("batch_refused_by_database", worker=self.name, error=str(exc.orig), records=len(records))
            for record in records:
                self.apply([record])

    def _with_lock_retry(self, records: list[Record], failed: IntegrityError | DataError | None = None) -> None:
        for attempt in range(1, 100):
            try:
                self._transaction(records, failed)
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or attempt == 99:
                    raise
                self.pending_dead.clear()
                time.sleep(min(0.01 * attempt, 0.2))

    def _transaction(self, records: list[Record], failed: IntegrityError | DataError | None) -> None:
        self.pending_dead.clear()
        self.sequencer.discard()
        with self.engine.begin() as conn:
            lock_tracking(conn)
            stored = kafka_state.stored_offsets(conn, self.topics.group, self.topics.events)
            fresh = [r for r in records if r.offset >= stored.get(r.partition, 0)]
            parsed = [parse(r) for r in fresh]
            versions = StoredVersions(conn, {p.aggregate_id for p in parsed if isinstance(p, Incoming)})
            for record, incoming in zip(fresh, parsed, strict=True):
                if failed is not None:  # the database refused this record's statements: a dead letter
                    self._dead_letter(DeadLetter(record, f"database refused: {failed.orig}", *identity(incoming)))
                else:
                    self.sequencer.handle(conn, versions, record, incoming)
            self.sequencer.flush(conn)
            versions.save()
            ends = {}
            for record in fresh:
                ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
            kafka_state.save_offsets(conn, self.topics.group, self.topics.events, ends)
            self._send_dead_letters()  # acknowledged before the offsets commit: a dead letter is never lost
        if fresh:
            log.debug("worker_batch_applied", worker=self.name, records=len(fresh), offsets=ends)

    def _dead_letter(self, dead: DeadLetter) -> None:
        self.pending_dead.append(dead)
        log.warning("dead_letter", worker=self.name, error=dead.error, aggregate_id=str(dead.aggregate_id or ""),
                    version=dead.version, partition=dead.record.partition, offset=dead.record.offset)  # fmt: skip

    def _send_dead_letters(self) -> None:
        if not self.pending_dead:
            return
        with kafka_errors(f"publishing dead letters to {self.topics.dlq}"):
            futures = []
            for dead in self.pending_dead:
                message = dead_letter_message(dead)
                futures.append(self.dlq.send(self.topics.dlq, key=message.key, value=message.value, headers=message.headers))
            self.dlq.flush(timeout=30)
            for future in futures:
                future.get(timeout=0)
        self.pending_dead.clear()


def identity(parsed) -> tuple:
    return (parsed.aggregate_id, parsed.version) if isinstance(parsed, Incoming) else (None, None)
