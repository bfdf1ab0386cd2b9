"""Kafka plumbing shared by the relay, the workers, the dead letters and rebuilds: clients, topics, offsets.

The events topic keeps every event forever and is never compacted (compaction keeps only the last
record per key and would destroy an aggregate's history).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import DefaultPartitioner, murmur2

log = structlog.get_logger("voronka.kafka")
EVENT_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1"}
CONNECT_TIMEOUT_MS = 5000


@lru_cache(maxsize=100_000)
def key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


class RememberingPartitioner(DefaultPartitioner):
    """kafka-python's default partitioning (murmur2 of the key, as the Java client) with the hashes of recent keys
    remembered: an aggregate's events come close together, and the pure-Python hash costs as much as encoding."""

    def partition(self, topic, key, serialized_key, value, serialized_value, cluster):
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        ordered = sorted(partitions)
        return ordered[key_hash(serialized_key) % len(ordered)]


class KafkaUnavailable(Exception):
    """The broker could not be reached (or refused a request) after the client's own retries."""


class TopicMissing(KafkaUnavailable):
    """The broker answers, but the topic does not exist (yet)."""


class Backoff:
    """Waits that double after each failure, up to a ceiling; back to the first after a success."""

    def __init__(self, first: float = 0.5, most: float = 15.0) -> None:
        self.first, self.most, self.next_wait = first, most, first

    def wait(self) -> float:
        current, self.next_wait = self.next_wait, min(self.next_wait * 2, self.most)
        return current

    def reset(self) -> None:
        self.next_wait = self.first


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    events: str
    dlq: str
    partitions: int
    group: str

    @classmethod
    def from_settings(cls, settings) -> Topics:
        return cls(settings.kafka_bootstrap, settings.kafka_events_topic, settings.kafka_dlq_topic,
                   settings.kafka_partitions, settings.kafka_group)  # fmt: skip


@contextmanager
def kafka_errors(doing: str):
    """Turn the client's errors into KafkaUnavailable, naming what was being done."""
    try:
        yield
    except KafkaError as exc:
        raise KafkaUnavailable(f"{doing}: {type(exc).__name__}: {exc}") from exc


def producer(bootstrap: str, **tuning) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica; reconnects quickly after an outage."""
    with kafka_errors(f"connecting to Kafka at {bootstrap}"):
        return KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                             bootstrap_timeout_ms=CONNECT_TIMEOUT_MS, reconnect_backoff_max_ms=1000, **tuning)  # fmt: skip


def consumer(bootstrap: str, **options) -> KafkaConsumer:
    settings = {"enable_auto_commit": False, "bootstrap_timeout_ms": CONNECT_TIMEOUT_MS, "reconnect_backoff_max_ms": 1000}
    with kafka_errors(f"connecting to Kafka at {bootstrap}"):
        return KafkaConsumer(bootstrap_servers=bootstrap, **(settings | options))


def ensure_topic(bootstrap: str, name: str, partitions: int) -> bool:
    """Create the topic if it is missing (replication 1: a single broker); answers whether it was created."""
    with kafka_errors(f"creating topic {name}"):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=CONNECT_TIMEOUT_MS)
        try:
            spec = {name: {"num_partitions": partitions, "replication_factor": 1, "configs": EVENT_TOPIC_CONFIG}}
            admin.create_topics(spec, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            return False
        finally:
            admin.close()
    log.info("kafka_topic_created", topic=name, partitions=partitions)
    return True


def delete_topics(bootstrap: str, names: list[str]) -> None:
    with kafka_errors(f"deleting topics {names}"):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=CONNECT_TIMEOUT_MS)
        try:
            admin.delete_topics(names, raise_errors=False)
        finally:
            admin.close()


def partitions_of(client: KafkaConsumer, topic: str) -> list[TopicPartition]:
    with kafka_errors(f"reading the partitions of {topic}"):
        numbers = client.partitions_for_topic(topic)
    if not numbers:
        raise TopicMissing(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(numbers)]


def end_offsets(client: KafkaConsumer, topic: str) -> dict[int, int]:
    """The next offset to be written in each partition of the topic."""
    tps = partitions_of(client, topic)
    with kafka_errors(f"reading the end offsets of {topic}"):
        return {tp.partition: offset for tp, offset in client.end_offsets(tps).items()}
