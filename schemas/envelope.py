"""The message every consumer sees: on the Kafka topic, in exports and in `/events`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from schemas.base import Model


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
