"""What every aggregate shares: the recorded event, the command context, replay."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, ClassVar, Self
from uuid import UUID

from schemas.base import Event, EventPayload
from schemas.employees import Role
from schemas.notifications import NotificationKind, NotificationRequested

NAMESPACE = UUID("8f0c2f7e-5a54-4a4e-9d0f-6f1d9c1b7a10")
HEAD_OF_SALES = "role:head_of_sales"


def stable_id(kind: str, key: str) -> UUID:
    """A deterministic aggregate id for a natural key: creating it twice conflicts on version 1."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


class ForeignEventError(TypeError):
    """An event of another kind of aggregate: the id belongs to something else."""


@dataclass(frozen=True)
class Context:
    """Who issues a command, in which role, and when it happened in business time."""

    actor: str
    role: Role
    at: datetime

    @property
    def is_head_of_sales(self) -> bool:
        return self.role is Role.HEAD_OF_SALES

    @property
    def employee(self) -> str | None:
        return None if self.actor.startswith("system:") else self.actor


def on(payload_type: type[EventPayload]) -> Callable[[Callable], Callable]:
    """Marks an aggregate method as the one that applies events of this payload type."""

    def mark(method: Callable) -> Callable:
        method.applies_to = payload_type  # type: ignore[attr-defined]
        return method

    return mark


class Aggregate:
    """A pure consistency boundary: methods check rules, then record events; `@on` handlers evolve state."""

    handlers: ClassVar[dict[type[EventPayload], Callable[[Any, Any], None]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {method.applies_to: method for method in vars(cls).values() if hasattr(method, "applies_to")}
        cls.handlers = {**Aggregate.handlers, **own}

    def __init__(self, id: UUID) -> None:
        self.id = id
        self.version = 0
        self._pending: list[Event] = []

    def _record(self, ctx: Context, payload: EventPayload) -> None:
        event = Event(self.id, self.version + 1, ctx.at, ctx.actor, payload, self.aggregate_type())
        self._mutate(event)
        self._pending.append(event)

    def _mutate(self, event: Event) -> None:
        if event.originator_version != self.version + 1:
            raise ValueError(f"event version {event.originator_version} does not follow {self.version}")
        handler = self.handlers.get(type(event.payload))
        if handler is None:
            raise ForeignEventError(f"{type(self).__name__} cannot apply {type(event.payload).__name__}")
        handler(self, event.payload)
        self.version = event.originator_version

    def _notify(self, ctx: Context, kind: NotificationKind, recipients: list[str | None], summary: str) -> None:
        self._record(
            ctx,
            NotificationRequested(
                notification_id=stable_id("notification", f"{self.id}:{self.version + 1}"),
                kind=kind,
                recipients=list(dict.fromkeys(r for r in recipients if r)),
                summary=summary[:500],
            ),
        )

    @on(NotificationRequested)
    def _notification_requested(self, e: NotificationRequested) -> None:
        """Requests a side effect; changes no state."""

    def __deepcopy__(self, memo: dict) -> Self:
        """The repository copies cached aggregates before each command. State holds immutable values
        (strings, UUIDs, Decimals, frozen models) in lists, sets and dicts, so copying the containers is enough.
        """
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list | set | dict):
                setattr(clone, name, value.copy())
        return clone

    @classmethod
    def aggregate_type(cls) -> str:
        return cls.__name__.lower()

    def collect_events(self) -> list[Event]:
        events, self._pending = self._pending, []
        return events

    @classmethod
    def blank(cls, id: UUID) -> Self:
        agg = cls.__new__(cls)
        Aggregate.__init__(agg, id)
        return agg

    @classmethod
    def replay(cls, aggregate: Self | None, events: Iterable[Any]) -> Self | None:
        """Projector for the repository: evolve (or create) the aggregate from stored events."""
        for event in events:
            if aggregate is None:
                aggregate = cls.blank(event.originator_id)
            aggregate._mutate(event)
        return aggregate


Aggregate.handlers = {NotificationRequested: Aggregate._notification_requested}
