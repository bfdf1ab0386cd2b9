"""The event store: the system of record, on the `eventsourcing` library (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError
from eventsourcing.sqlite import SQLiteApplicationRecorder

from aggregates.base import Aggregate, Event, ForeignEventError
from aggregates.errors import NotFoundError
from commands.mapper import EventMapper

A = TypeVar("A", bound=Aggregate)


class ConcurrencyError(Exception):
    """Another writer changed (or created) one of the saved aggregates first."""


class StoreBusyError(Exception):
    """The database was locked or unavailable; the save did not happen."""


class VoronkaApplication(Application):
    name = "voronka"

    def construct_mapper(self) -> Mapper:
        return EventMapper(
            transcoder=self.factory.transcoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )


class EventStore:
    """Loads aggregates by replaying their events and saves new events atomically."""

    def __init__(self, env: dict[str, str]) -> None:
        self.app = VoronkaApplication(env=env)

    @classmethod
    def existing(cls, env: dict[str, str]) -> EventStore:
        """A store that is there already, opened without creating its tables (processes opening one store at the
        same moment would race on PostgreSQL's catalog)."""
        return cls({**env, "CREATE_TABLE": "no"})

    @property
    def recorder(self):
        return self.app.recorder

    def load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None when the id is unknown or belongs to another kind of aggregate."""
        try:
            aggregate = self.app.repository.get(aggregate_id, projector_func=cls.replay)
        except (AggregateNotFoundError, ForeignEventError):
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID, kind: str | None = None) -> A:
        aggregate = self.load(cls, aggregate_id)
        if aggregate is None:
            raise NotFoundError(kind or cls.__name__.lower(), aggregate_id)
        return aggregate

    def positioned_history(self, aggregate_id: UUID) -> list[tuple[int, Event]]:
        """One aggregate's events with their global positions (for audits and exports)."""
        return [(self.position_of(aggregate_id, e.originator_version), e) for e in self.history(aggregate_id)]

    def history(self, aggregate_id: UUID, lte: int | None = None) -> list[Event]:
        """One aggregate's stored events, oldest first."""
        return list(self.app.events.get(aggregate_id, lte=lte))

    def save(self, *aggregates: Aggregate) -> int | None:
        """Store all new events in one transaction; answers the position of the last one."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        if not events:
            return None
        try:
            recordings = self.app.events.put(events)
        except IntegrityError as exc:
            raise ConcurrencyError(str(exc)) from exc
        except OperationalError as exc:
            raise StoreBusyError(str(exc)) from exc
        return recordings[-1].notification.id

    def position_of(self, aggregate_id: UUID, version: int) -> int:
        """The global position of one stored event (to answer replayed idempotent commands)."""
        recorder = self.app.recorder
        table = recorder.events_table_name
        if isinstance(recorder, SQLiteApplicationRecorder):  # the notification id is SQLite's rowid
            sql, key = f"SELECT rowid FROM {table} WHERE originator_id=? AND originator_version=?", aggregate_id.hex  # noqa: S608
        else:
            sql, key = f"SELECT notification_id FROM {table} WHERE originator_id=%s AND originator_version=%s", aggregate_id  # noqa: S608
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (key, version))
            row = cursor.fetchone()
        if row is None:
            raise NotFoundError("event", f"{aggregate_id}@{version}")
        return next(iter(row.values())) if isinstance(row, dict) else row[0]  # psycopg answers dict rows

    def read(self, start: int = 1, topics: Sequence[str] = (), batch: int = 1000) -> Iterator[tuple[int, Event]]:
        """Events in the global order from `start`, optionally only of some types."""
        while True:
            notifications = self.app.recorder.select_notifications(start, batch, topics=topics)
            for notification in notifications:
                yield notification.id, self.app.mapper.to_domain_event(notification)
            if len(notifications) < batch:
                return
            start = notifications[-1].id + 1

    def read_batch(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """At most `limit` events after a position, in the global order."""
        notifications = self.app.recorder.select_notifications(after + 1, limit)
        return [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]

    def read_types(self, after: int, limit: int, topics: Sequence[str]) -> tuple[list[tuple[int, Event]], int]:
        """The events of these types among the next `limit` positions, and the position read up to (only those
        types are decoded: a rebuild of a few projections skips the rest of the log cheaply)."""
        stop = min(after + limit, self.max_position())  # read first: everything up to it is committed
        if stop <= after:
            return [], after
        notifications = self.app.recorder.select_notifications(after + 1, limit, stop=stop, topics=topics)
        return [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications], stop

    def topic_counts(self) -> dict[str, int]:
        """How many events of each type the store holds."""
        recorder = self.app.recorder
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT topic, COUNT(*) AS n FROM {recorder.events_table_name} GROUP BY topic")  # noqa: S608
            rows = cursor.fetchall()
        return {row["topic"]: row["n"] for row in rows} if rows and isinstance(rows[0], dict) else dict(map(tuple, rows))

    def max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def close(self) -> None:
        self.app.close()
