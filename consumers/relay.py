"""The relay: follows the event store's log in order and publishes every event to the events topic.

A batch's position is recorded only after the broker acknowledged every message of it, so a crash
(or an outage) can publish an event twice but never skip one; consumers drop repeats by
(aggregate_id, aggregate_version). Only one relay is active at a time (a lease); commands never wait
for it: while Kafka is down they keep writing the store, and the relay catches up when it returns.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from consumers import kafka_state
from consumers.kafka_topics import (
    Backoff,
    KafkaUnavailable,
    RememberingPartitioner,
    Topics,
    consumer,
    end_offsets,
    ensure_topic,
    kafka_errors,
    producer,
)
from consumers.lease import Lease
from consumers.runner import ReadBatch
from consumers.wire import Message, to_message

log = structlog.get_logger("voronka.relay")

# Measured (bench/relay.py): big record batches (linger, batch size) cut the per-message cost of the
# sender; a short delivery timeout turns an outage into a retry from the saved position in seconds.
PRODUCER_TUNING = {"linger_ms": 20, "batch_size": 512 * 1024, "max_request_size": 4 * 1024 * 1024,
                   "delivery_timeout_ms": 30_000, "request_timeout_ms": 10_000, "partitioner": RememberingPartitioner()}  # fmt: skip
FLUSH_TIMEOUT = 60.0
ReadMessages = Callable[[int, int], Sequence[tuple[int, Message]]]  # (after position, limit) -> messages in log order


def messages_of(read_batch: ReadBatch) -> ReadMessages:
    """The messages of the store's events, through the full decoding (the wiring passes a faster reader)."""
    return lambda after, limit: [(position, to_message(event, position)) for position, event in read_batch(after, limit)]


class Relay:
    """Publishes batch after batch without waiting in between: while the broker acknowledges one batch, the
    next is read and sent (at most two in flight); a batch's position is saved once all of it is acknowledged."""

    def __init__(self, read_messages: ReadMessages, engine: Engine, topics: Topics, data_dir: Path,
                 batch_size: int = 5000, idle_wait: float = 0.02) -> None:  # fmt: skip
        self.read_messages, self.engine, self.topics = read_messages, engine, topics
        self.batch_size, self.idle_wait = batch_size, idle_wait
        self.lease = Lease(engine, data_dir, f"relay.{topics.events}")
        self.producer = None
        self.position = 0  # acknowledged and saved
        self.sent = 0  # handed to the producer
        self.in_flight: deque[tuple[int, int, list]] = deque()  # (first, last position, futures) per batch
        self.behind = True
        kafka_state.metadata.create_all(engine)

    def run(self, stop: threading.Event) -> None:
        """Wait for the lease, then publish until stopped; Kafka outages are retried with back-off."""
        if not self.lease.acquire(stop):
            return
        backoff = Backoff()
        last_lease_check = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() - last_lease_check > 5.0:
                    if not self.lease.held() and not self.lease.acquire(stop):
                        return
                    last_lease_check = time.monotonic()
                try:
                    published = self.publish_once()
                    backoff.reset()
                except KafkaUnavailable as exc:
                    self.disconnect()
                    wait = backoff.wait()
                    log.warning("relay_kafka_unavailable", error=str(exc), position=self.position, retry_in=wait)
                    stop.wait(wait)
                    continue
                except Exception:  # the store or the read-model database; try again after a pause
                    self.disconnect()
                    wait = backoff.wait()
                    log.exception("relay_failed", position=self.position, retry_in=wait)
                    stop.wait(wait)
                    continue
                if published:
                    self.behind = True
                else:
                    if self.behind:
                        log.info("relay_caught_up", topic=self.topics.events, position=self.position)
                        self.behind = False
                    stop.wait(self.idle_wait)
        finally:
            self.disconnect()
            self.lease.release()

    def connect(self) -> None:
        ensure_topic(self.topics.bootstrap, self.topics.events, self.topics.partitions)
        with self.engine.connect() as conn:
            self.position = kafka_state.relay_position(conn, self.topics.events)
        if self.position and not sum(self.topic_ends().values()):
            log.warning("relay_topic_empty_starting_over", topic=self.topics.events, saved_position=self.position)
            self.position = 0
        self.sent = self.position
        self.producer = producer(self.topics.bootstrap, **PRODUCER_TUNING)
        log.info("relay_connected", topic=self.topics.events, position=self.position)

    def topic_ends(self) -> dict[int, int]:
        client = consumer(self.topics.bootstrap)
        try:
            return end_offsets(client, self.topics.events)
        finally:
            client.close()

    def disconnect(self) -> None:
        self.in_flight.clear()
        if self.producer is not None:
            self.producer.close(timeout=0)  # unacknowledged messages are sent again from the saved position
            self.producer = None

    def publish_once(self) -> int:
        """Send the next batch of the log and settle the one before; answers how many were sent (0: caught up)."""
        if self.producer is None:
            self.connect()
        messages = self.read_messages(self.sent, self.batch_size)
        if messages:
            with kafka_errors(f"publishing to {self.topics.events}"):
                futures = [self.producer.send(self.topics.events, key=m.key, value=m.value, headers=m.headers)
                           for _, m in messages]  # fmt: skip
            self.in_flight.append((messages[0][0], messages[-1][0], futures))
            self.sent = messages[-1][0]
        if len(messages) < self.batch_size:  # caught up: send what lingers, settle everything
            with kafka_errors(f"publishing to {self.topics.events}"):
                self.producer.flush(timeout=FLUSH_TIMEOUT)
            while self.in_flight:
                self.settle_oldest()
        while len(self.in_flight) > 1:
            self.settle_oldest()
        return len(messages)

    def settle_oldest(self) -> None:
        """Wait until the broker acknowledged every message of the oldest batch in flight, then save its position."""
        first, last, futures = self.in_flight.popleft()
        with kafka_errors(f"publishing positions {first}..{last} to {self.topics.events}"):
            for future in futures:
                future.get(timeout=FLUSH_TIMEOUT)
        self.save_position(last)
        log.debug("relay_published", first=first, last=last, events=len(futures))

    def save_position(self, position: int) -> None:
        for attempt in range(1, 11):
            try:
                with self.engine.begin() as conn:
                    kafka_state.save_relay_position(conn, self.topics.events, position)
                self.position = position
                return
            except OperationalError:  # SQLite read models: a worker holds the write lock
                if attempt == 10:
                    raise
                time.sleep(0.05 * attempt)

    def run_until_caught_up(self) -> None:
        """Publish everything stored so far (tests, benchmarks); raises if Kafka is unavailable."""
        while self.publish_once():
            pass
        while self.in_flight:
            self.settle_oldest()
