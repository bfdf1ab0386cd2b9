"""Wiring of the distributed deployment: the relay, projection workers, dead letters, Kafka-mode reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import orjson
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from commands.store import EventStore
from consumers import kafka_state
from consumers.kafka_topics import KafkaUnavailable, Topics, consumer, end_offsets
from consumers.kafka_worker import KafkaWorker
from consumers.relay import Relay
from consumers.wire import Message, message_from_stored, to_message
from voronka.settings import Settings


def topics(settings: Settings) -> Topics:
    return Topics.from_settings(settings)


def build_relay(settings: Settings, store: EventStore | None = None, **options) -> Relay:
    store = store or EventStore(settings.event_store_env())
    return Relay(store_messages(store), create_engine(settings.read_models_url()), topics(settings), settings.data_dir, **options)


def store_messages(store: EventStore):
    """The relay's reader: the log's notifications turned into messages straight from their stored JSON; an event
    stored in an older schema version goes through the full decoding (upcasting) instead."""
    mapper = store.app.mapper

    def read_messages(after: int, limit: int) -> list[tuple[int, Message]]:
        found = []
        for n in store.recorder.select_notifications(after + 1, limit):
            data = n.state
            data = mapper.cipher.decrypt(data) if mapper.cipher else data
            data = mapper.compressor.decompress(data) if mapper.compressor else data
            message = message_from_stored(n.id, n.originator_id, n.originator_version, n.topic, orjson.loads(data))
            found.append((n.id, message or to_message(mapper.to_domain_event(n), n.id)))
        return found

    return read_messages  # it holds the store, and so its connection pool, as long as the relay lives


def build_worker(settings: Settings, name: str, engine: Engine | None = None, **options) -> KafkaWorker:
    from voronka.wiring import all_projections

    engine = engine or create_engine(settings.read_models_url())
    return KafkaWorker(engine, all_projections(settings), topics(settings), name, **options)


def stored_message(store: EventStore):
    """The store's event (aggregate id, version) as the relay would publish it: what a DLQ replay can fall back on."""

    def find(aggregate_id: UUID, version: int) -> Message | None:
        events = store.history(aggregate_id, lte=version)
        if not events or events[-1].originator_version != version:
            return None
        return to_message(events[-1], store.position_of(aggregate_id, version))

    return find


def applied_version_reader(engine: Engine):
    """For read-your-writes with Kafka workers: the version of an aggregate the read models have applied."""
    kafka_state.metadata.create_all(engine)

    def applied_version(aggregate_id: str) -> int:
        with engine.connect() as conn:
            return kafka_state.applied_version(conn, UUID(aggregate_id))

    return applied_version


class KafkaHealth:
    """Consumer lag per partition (end offset − the workers' stored offset) and the relay's lag behind the store."""

    def __init__(self, engine: Engine, topics: Topics) -> None:
        self.engine, self.topics = engine, topics
        self.client = None
        self.lock = threading.Lock()

    def report(self, head: int) -> dict:
        with self.engine.connect() as conn:
            relay = kafka_state.relay_position(conn, self.topics.events)
            stored = kafka_state.stored_offsets(conn, self.topics.group, self.topics.events)
        report: dict = {"relay_position": relay, "relay_lag": head - relay}
        try:
            ends = self._ends()
            report["consumer_lag"] = {str(p): end - stored.get(p, 0) for p, end in sorted(ends.items())}
        except (KafkaUnavailable, SQLAlchemyError) as exc:
            report["consumer_lag"] = None
            report["kafka"] = f"unavailable: {exc}"
        return report

    def _ends(self) -> dict[int, int]:
        with self.lock:  # a KafkaConsumer is not thread-safe; health checks come from the thread pool
            if self.client is None:
                self.client = consumer(self.topics.bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=1000)
            try:
                return end_offsets(self.client, self.topics.events)
            except KafkaUnavailable:
                self.client.close()
                self.client = None
                raise


@dataclass
class KafkaReads:
    applied_version: Callable[[str], int]
    health: KafkaHealth

    @classmethod
    def build(cls, engine: Engine, settings: Settings) -> KafkaReads:
        return cls(applied_version_reader(engine), KafkaHealth(engine, topics(settings)))
