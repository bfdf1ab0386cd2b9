"""The message every consumer sees: on the Kafka topic, in exports and in `/events`."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from pydantic import AwareDatetime, Field

from schemas.base import Event, Model


class EventEnvelope(Model):
    event_id: UUID = Field(description="Stable id derived from (aggregate_id, aggregate_version)")
    type: str = Field(description="Event type, e.g. InterestRegistered")
    schema_version: int
    aggregate_type: str
    aggregate_id: UUID
    aggregate_version: int
    position: int = Field(description="Place in the store's global order")
    occurred_at: AwareDatetime = Field(description="Business time")
    recorded_at: AwareDatetime = Field(description="When the store accepted it")
    actor: str
    payload: dict[str, Any]


EVENT_ID_NAMESPACE = UUID("3d1b8f0e-7a52-4c2e-9a7e-0b6f5d2c9e41")


def envelope(event: Event, position: int) -> EventEnvelope:
    """The wire form of a stored event; its id is stable: derived from (aggregate_id, aggregate_version)."""
    return EventEnvelope(
        event_id=uuid5(EVENT_ID_NAMESPACE, f"{event.originator_id}:{event.originator_version}"),
        type=event.type,
        schema_version=event.payload.schema_version,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        position=position,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        payload=event.payload.model_dump(mode="json"),
    )
