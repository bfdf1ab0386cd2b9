"""What a projection is: a named, versioned, pure mapping from events to table changes.

A handler takes one event and answers SQL statements; it reads nothing and writes nothing itself.
The runner executes the statements and the projection's tracking position in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, Integer, MetaData, String, Table
# PostgreSQL's insert construct: its ON CONFLICT clauses compile for SQLite as well, so one projection
# code serves both databases.
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql import Executable

from projections.writes import Write, add_row, newer_row
from schemas.base import Event, EventPayload

__all__ = ["insert", "add_row", "Write"]

Handler = Callable[[Event], Iterable[Executable | Write]]


def utc(moment: datetime) -> datetime:
    """Times are stored in UTC without a zone, the same in every database."""
    return (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).replace(tzinfo=None)


@dataclass
class Projection:
    name: str
    version: int
    metadata: MetaData
    handlers: dict[type[EventPayload], Handler] = field(default_factory=dict)

    @property
    def topics(self) -> list[str]:
        return [cls.__name__ for cls in self.handlers]

    def on(self, payload_type: type[EventPayload]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.handlers[payload_type] = handler
            return handler

        return register

    def changes(self, event: Event) -> Iterable[Executable | Write]:
        handler = self.handlers.get(type(event.payload))
        return handler(event) if handler else ()


def newer_values(table: Table, event: Event, **values):
    """Apply the event's values and record its version (conditional `newer_row(..., when=...)` updates go before it)."""
    return newer_row(table, event.originator_id, event.originator_version, **values)


def save_position(name: str, version: int, position: int, table: Table | None = None):
    """Upsert a projection's (or process manager's) tracking position."""
    return (
        insert(tracking if table is None else table)
        .values(projection=name, version=version, position=position)
        .on_conflict_do_update(index_elements=["projection", "version"], set_={"position": position})
    )


tracking_metadata = MetaData()
tracking = Table(
    "projection_tracking",
    tracking_metadata,
    Column("projection", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
)
