"""Calls (PBX or logged by hand) and meetings set by generators for converters."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field, NonNegativeInt

from schemas.base import (
    Command,
    Comment,
    EmployeeId,
    EventPayload,
    PersonalPhone,
    ShortText,
)


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"
    BUSY = "busy"


class NoShowParty(StrEnum):
    CLIENT = "client"
    CONVERTER = "converter"


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


# --- commands ---


class LogCall(Command):
    pbx_call_id: ShortText | None = Field(default=None, description="Idempotency key from the PBX")
    employee: EmployeeId
    direction: CallDirection
    phone: PersonalPhone
    started_at: AwareDatetime
    duration_seconds: NonNegativeInt
    outcome: CallOutcome
    recording_ref: ShortText | None = None
    lead_id: UUID | None = None
    counterparty_id: UUID | None = None
    deal_id: UUID | None = None


class ScoreCall(Command):
    call_id: UUID
    score: int = Field(ge=0, le=100, description="Quality checklist score")
    comment: Comment | None = None


class ScheduleMeeting(Command):
    lead_id: UUID | None = None
    counterparty_id: UUID | None = None
    converter: EmployeeId
    scheduled_for: AwareDatetime
    place: ShortText | None = None


class MeetingCommand(Command):
    meeting_id: UUID


class RecordMeetingHeld(MeetingCommand):
    pass


class RecordMeetingNoShow(MeetingCommand):
    party: NoShowParty


class CancelMeeting(MeetingCommand):
    reason: Comment


# --- events ---


class CallLogged(EventPayload):
    pbx_call_id: ShortText | None
    employee: EmployeeId
    direction: CallDirection
    phone: PersonalPhone
    started_at: AwareDatetime
    duration_seconds: NonNegativeInt
    outcome: CallOutcome
    recording_ref: ShortText | None
    lead_id: UUID | None
    counterparty_id: UUID | None
    deal_id: UUID | None
    matched_by_phone: bool


class CallScored(EventPayload):
    score: int = Field(ge=0, le=100)
    scored_by: EmployeeId
    comment: Comment | None


class MeetingScheduled(EventPayload):
    generator: EmployeeId
    converter: EmployeeId
    lead_id: UUID | None
    counterparty_id: UUID | None
    scheduled_for: AwareDatetime
    place: ShortText | None


class MeetingHeld(EventPayload):
    converter: EmployeeId


class MeetingNoShow(EventPayload):
    party: NoShowParty


class MeetingCancelled(EventPayload):
    reason: Comment
