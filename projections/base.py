"""What a projection is: a named, versioned, pure mapping from events to table changes.

A handler takes one event and answers SQL statements; it reads nothing and writes nothing itself.
The runner executes the statements and the projection's tracking position in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.sql import Executable

from schemas.base import Event, EventPayload

Handler = Callable[[Event], Iterable[Executable]]


def utc(moment: datetime) -> datetime:
    """Times are stored in UTC without a zone, the same in every database."""
    return moment.astimezone(UTC).replace(tzinfo=None)


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

    def changes(self, event: Event) -> Iterable[Executable]:
        handler = self.handlers.get(type(event.payload))
        return handler(event) if handler else ()


tracking_metadata = MetaData()
tracking = Table(
    "projection_tracking",
    tracking_metadata,
    Column("projection", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
)
