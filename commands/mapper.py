"""Stored form of an event: the payload's type name as topic, a JSON state, schema versions upcast on read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent

import schemas
from aggregates.base import Event
from schemas.base import AS_RECORDED, EventPayload


class UnknownEventError(Exception):
    """A stored event this code cannot read: unknown type, or a schema version newer than ours."""


def payload_type(type_name: str) -> type[EventPayload]:
    try:
        return schemas.EVENT_TYPES[type_name]
    except KeyError:
        raise UnknownEventError(f"unknown event type '{type_name}'") from None


def upcast(cls: type[EventPayload], data: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring an older payload up to the current schema version; a newer one is an error."""
    if version > cls.schema_version:
        raise UnknownEventError(
            f"{cls.__name__} has schema version {version}; this code knows up to {cls.schema_version}"
        )
    return cls.upcast(data, version)


class EventMapper(Mapper):
    def to_stored_event(self, domain_event: Event) -> StoredEvent:  # type: ignore[override]
        payload = domain_event.payload
        state = {
            "schema_version": payload.schema_version,
            "occurred_at": domain_event.occurred_at.isoformat(),
            "recorded_at": (domain_event.recorded_at or datetime.now(UTC)).isoformat(),
            "actor": domain_event.actor,
            "aggregate_type": domain_event.aggregate_type,
            "payload": payload.model_dump(mode="json"),
        }
        data = orjson.dumps(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(domain_event.originator_id, domain_event.originator_version, type(payload).__name__, data)

    def to_domain_event(self, stored_event: StoredEvent) -> Event:  # type: ignore[override]
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        state = orjson.loads(data)
        cls = payload_type(stored_event.topic)
        payload = cls.model_validate(upcast(cls, state["payload"], state["schema_version"]), context=AS_RECORDED)
        return Event(
            originator_id=stored_event.originator_id,  # type: ignore[arg-type]
            originator_version=stored_event.originator_version,
            occurred_at=datetime.fromisoformat(state["occurred_at"]),
            actor=state["actor"],
            payload=payload,
            aggregate_type=state.get("aggregate_type", ""),
            recorded_at=datetime.fromisoformat(state["recorded_at"]),
            position=getattr(stored_event, "id", None),  # notifications carry their log position
        )
