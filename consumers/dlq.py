"""Dead letters: messages a worker could not decode or apply, kept on their own topic with the error.

A dead letter carries the original key, value and headers, plus `error`, `source_topic`,
`source_partition`, `source_offset`, `aggregate_id` (and `aggregate_version` when known). Replaying
one re-publishes a message to the events topic: the original one (after the code was fixed), or the
event as the store holds it (when the message itself was damaged). The worker then applies it and the
events parked behind it. A replay is recorded by its source message, so none is replayed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import structlog
from sqlalchemy import Engine

from consumers import kafka_state
from consumers.kafka_topics import TopicMissing, Topics, consumer, kafka_errors, partitions_of, producer
from consumers.sequencer import DeadLetter
from consumers.wire import Message

log = structlog.get_logger("voronka.dlq")
ERROR_HEADERS = ("error", "error_kind", "source_topic", "source_partition", "source_offset", "aggregate_id", "aggregate_version")
MAX_ERROR = 2000


class ReplayError(Exception):
    """A dead letter cannot be replayed as asked."""


def dead_letter_message(dead: DeadLetter) -> Message:
    record = dead.record
    kept = [(k, v) for k, v in (record.headers or []) if k not in ERROR_HEADERS and k != "replayed_from"]
    extra = {"error": dead.error[:MAX_ERROR], "source_topic": record.topic, "source_partition": str(record.partition),
             "source_offset": str(record.offset), "aggregate_id": str(dead.aggregate_id or "")}  # fmt: skip
    if dead.version is not None:
        extra["aggregate_version"] = str(dead.version)
    return Message(record.key or b"", record.value or b"", kept + [(k, v.encode()) for k, v in extra.items()])


@dataclass(frozen=True)
class Entry:
    offset: int  # in the dead-letter topic (one partition)
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), "")

    @property
    def source(self) -> tuple[str, int, int]:
        return self.header("source_topic"), int(self.header("source_partition") or -1), int(self.header("source_offset") or -1)

    @property
    def aggregate_id(self) -> UUID | None:
        try:
            return UUID(self.header("aggregate_id"))
        except ValueError:
            return None

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if k not in ERROR_HEADERS]


def entries(topics: Topics) -> list[Entry]:
    """Every dead letter, read from the beginning to the end offsets seen at the start."""
    client = consumer(topics.bootstrap)
    try:
        try:
            tps = partitions_of(client, topics.dlq)
        except TopicMissing:  # no worker has started yet, so no dead letter either
            return []
        with kafka_errors(f"reading {topics.dlq}"):
            client.assign(tps)
            ends = client.end_offsets(tps)
            client.seek_to_beginning(*tps)
            found: list[Entry] = []
            while any(client.position(tp) < end for tp, end in ends.items()):
                for records in client.poll(timeout_ms=1000).values():
                    found.extend(Entry(r.offset, r.key or b"", r.value or b"", list(r.headers or [])) for r in records)
    finally:
        client.close()
    return sorted(found, key=lambda e: e.offset)


StoredMessage = Callable[[UUID, int], Message | None]  # (aggregate id, version) -> the store's event as a message


def replay(engine: Engine, topics: Topics, chosen: list[Entry], from_store: StoredMessage | None = None) -> list[Entry]:
    """Re-publish these dead letters to the events topic (those not replayed before); answers the ones replayed."""
    kafka_state.metadata.create_all(engine)
    with engine.connect() as conn:
        done = kafka_state.replayed_sources(conn)
    todo, seen = [], set(done)
    for entry in chosen:
        if entry.source not in seen:
            todo.append(entry)
            seen.add(entry.source)
    if not todo:
        return []
    messages = [(entry, replacement(engine, entry, from_store) if from_store else original(entry)) for entry in todo]
    client = producer(topics.bootstrap)
    try:
        with kafka_errors(f"publishing to {topics.events}"):
            futures = [client.send(topics.events, key=m.key, value=m.value, headers=m.headers) for _, m in messages]
            client.flush(timeout=60)
            for future in futures:
                future.get(timeout=0)
    finally:
        client.close()
    with engine.begin() as conn:
        for entry in todo:
            kafka_state.record_replay(conn, entry.source, entry.offset)
    for entry in todo:
        log.info("dead_letter_replayed", dlq_offset=entry.offset, source=entry.source, aggregate_id=entry.header("aggregate_id"),
                 from_store=from_store is not None)  # fmt: skip
    return todo


def original(entry: Entry) -> Message:
    return Message(entry.key, entry.value, entry.original_headers + [("replayed_from", str(entry.offset).encode())])


def replacement(engine: Engine, entry: Entry, from_store: StoredMessage) -> Message:
    """The event the dead letter stood for, as the store holds it: its version, or the one after the applied one."""
    aggregate_id = entry.aggregate_id
    if aggregate_id is None:
        raise ReplayError(f"dead letter {entry.offset} names no aggregate: it cannot be replaced from the store")
    version_text = entry.header("aggregate_version")
    if version_text:
        version = int(version_text)
    else:
        with engine.connect() as conn:
            version = kafka_state.applied_version(conn, aggregate_id) + 1
    message = from_store(aggregate_id, version)
    if message is None:
        raise ReplayError(f"dead letter {entry.offset}: the store has no event {aggregate_id} version {version}")
    return Message(message.key, message.value, message.headers + [("replayed_from", str(entry.offset).encode())])
