"""Applies Kafka messages to projections in each aggregate's version order, whatever arrives.

Per partition, Kafka keeps an aggregate's order, but the relay can repeat a run of events after a
crash and a dead-lettered event leaves a hole. So, per aggregate:
- a version at or below the applied one is a repeat: skipped;
- the next version is applied, then any parked events that now follow it;
- a later version (a hole before it) is parked until the hole is filled (e.g. by a DLQ replay).
A message that cannot be decoded, or that a projection fails on, goes to the dead letters and leaves
its aggregate's hole; a schema version newer than this code's stops everything (NewerSchemaError).
Where applied versions and parked events are kept is up to the caller (a database, or memory); the
table changes are collected and executed together by `flush`, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from uuid import UUID

from sqlalchemy import Connection

from consumers.wire import Incoming, NewerSchemaError, PoisonMessage, key_aggregate, read_envelope, to_event
from projections.base import Projection
from schemas.base import EVENT_TYPES
from projections.writes import execute_events


class Record(NamedTuple):
    """One message as read from the topic (a kafka-python ConsumerRecord has these attributes too)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence = ()


@dataclass(frozen=True)
class DeadLetter:
    record: Record
    error: str
    aggregate_id: UUID | None
    version: int | None


class Versions(Protocol):
    def applied(self, aggregate_id: UUID) -> int: ...
    def set_applied(self, aggregate_id: UUID, version: int) -> None: ...
    def park(self, incoming: Incoming, record: Record) -> None: ...
    def parked(self, aggregate_id: UUID) -> list[tuple[int, int, int, bytes]]: ...  # (version, partition, offset, value)
    def unpark(self, aggregate_id: UUID, up_to_version: int) -> None: ...


@dataclass
class Counts:
    applied: int = 0
    repeated: int = 0
    parked: int = 0
    dead: int = 0


def parse(record: Record) -> Incoming | PoisonMessage:
    try:
        return read_envelope(record.value)
    except PoisonMessage as exc:
        return exc


class ProjectionFailed(Exception):
    """A projection's handler raised on an event (a bug, or data it cannot take)."""


class Projecting:
    """Decodes events and runs the handlers of these projections on them; the table changes are collected and
    executed together by `flush`, in the caller's transaction."""

    def __init__(self, projections: Sequence[Projection]) -> None:
        self.projections = projections
        self.statements: list[list] = [[] for _ in projections]
        self.wanted = {topic for projection in projections for topic in projection.topics}
        self.routes: dict[type, list] = {}

    def apply(self, incoming: Incoming) -> None:
        """Raises PoisonMessage (undecodable), ProjectionFailed, or NewerSchemaError (stop); the event's changes are
        kept only if every projection took it."""
        if not self._handled(incoming.document):  # a known event none of these projections reads: nothing to decode
            return
        event = to_event(incoming)
        changes = []
        for pending, projection, handler in self._routes(type(event.payload)):
            try:
                changes.append((pending, list(handler(event))))
            except Exception as exc:  # noqa: BLE001 - a projection's bug must not stop the other aggregates
                raise ProjectionFailed(f"projection {projection.name} failed: {type(exc).__name__}: {exc}") from exc
        for pending, statements in changes:
            pending.append((incoming.aggregate_id, statements))

    def flush(self, conn: Connection) -> None:
        """Execute the table changes of the events applied since the last flush: projection by projection (they
        write apart), each aggregate's in its order, alike writes grouped (`execute_events`)."""
        for statements in self.statements:
            execute_events(conn, statements)
            statements.clear()

    def discard(self) -> None:
        for statements in self.statements:
            statements.clear()

    def _routes(self, payload_type: type) -> list[tuple[list, Projection, Callable]]:
        """The projections that handle this type of event: where their statements go, and their handlers."""
        routes = self.routes.get(payload_type)
        if routes is None:
            routes = self.routes[payload_type] = [(pending, p, p.handlers[payload_type]) for pending, p
                                                  in zip(self.statements, self.projections) if payload_type in p.handlers]  # fmt: skip
        return routes

    def _handled(self, document: dict) -> bool:
        """Whether to decode it: a type these projections read, or one that is unknown or newer than this code (an
        error to report)."""
        name = document.get("type")
        known = EVENT_TYPES.get(name) if isinstance(name, str) else None
        return known is None or name in self.wanted or document.get("schema_version") != known.schema_version


class Sequencer:
    """Hands each aggregate's events on in version order (`_deliver`: to the projections)."""

    def __init__(self, projections: Sequence[Projection], dead_letter: Callable[[DeadLetter], None], topic: str = "") -> None:
        self.topic = topic
        self.dead_letter = dead_letter
        self.counts = Counts()
        self.projecting = Projecting(projections)

    def flush(self, conn: Connection) -> None:
        self.projecting.flush(conn)

    def discard(self) -> None:
        self.projecting.discard()

    def handle(self, conn: Connection, versions: Versions, record: Record, parsed: Incoming | PoisonMessage) -> None:
        if isinstance(parsed, PoisonMessage):
            self._dead(record, str(parsed), key_aggregate(record.key), None)
            return
        applied = versions.applied(parsed.aggregate_id)
        if parsed.version <= applied:
            self.counts.repeated += 1
        elif parsed.version > applied + 1:
            versions.park(parsed, record)
            self.counts.parked += 1
        elif self._apply(versions, parsed, record):
            self._drain(versions, parsed.aggregate_id)

    def _deliver(self, incoming: Incoming, record: Record) -> None:
        self.projecting.apply(incoming)

    def _apply(self, versions: Versions, incoming: Incoming, record: Record) -> bool:
        try:
            self._deliver(incoming, record)
        except (PoisonMessage, ProjectionFailed) as exc:
            self._dead(record, str(exc), incoming.aggregate_id, incoming.version)
            return False
        except NewerSchemaError as exc:
            exc.add_note(f"at {record.topic}/{record.partition}@{record.offset}, aggregate {incoming.aggregate_id} "
                         f"version {incoming.version}")  # fmt: skip
            raise
        versions.set_applied(incoming.aggregate_id, incoming.version)
        self.counts.applied += 1
        return True

    def _drain(self, versions: Versions, aggregate_id: UUID) -> None:
        parked = versions.parked(aggregate_id)
        if not parked:
            return
        for version, partition, offset, value in parked:
            applied = versions.applied(aggregate_id)
            if version <= applied:
                continue
            if version > applied + 1:
                break
            record = Record(self.topic, partition, offset, str(aggregate_id).encode(), value)
            if not self._apply(versions, read_envelope(value), record):
                break
        versions.unpark(aggregate_id, versions.applied(aggregate_id))

    def _dead(self, record: Record, error: str, aggregate_id: UUID | None, version: int | None) -> None:
        self.counts.dead += 1
        self.dead_letter(DeadLetter(record, error, aggregate_id, version))


class MemoryVersions:
    """Applied versions and parked events in memory: for a rebuild that builds fresh tables from offset 0."""

    def __init__(self) -> None:
        self.versions: dict[UUID, int] = {}
        self.waiting: dict[UUID, dict[int, tuple[int, int, bytes]]] = {}

    def applied(self, aggregate_id: UUID) -> int:
        return self.versions.get(aggregate_id, 0)

    def set_applied(self, aggregate_id: UUID, version: int) -> None:
        self.versions[aggregate_id] = version

    def park(self, incoming: Incoming, record: Record) -> None:
        self.waiting.setdefault(incoming.aggregate_id, {})[incoming.version] = (record.partition, record.offset, record.value)

    def parked(self, aggregate_id: UUID) -> list[tuple[int, int, int, bytes]]:
        waiting = self.waiting.get(aggregate_id)
        return [(v, *rest) for v, rest in sorted(waiting.items())] if waiting else []

    def copy(self) -> MemoryVersions:
        copied = MemoryVersions()
        copied.versions = dict(self.versions)
        copied.waiting = {aggregate: dict(events) for aggregate, events in self.waiting.items()}
        return copied

    def unpark(self, aggregate_id: UUID, up_to_version: int) -> None:
        waiting = self.waiting.get(aggregate_id, {})
        for version in [v for v in waiting if v <= up_to_version]:
            del waiting[version]
        if not waiting:
            self.waiting.pop(aggregate_id, None)
