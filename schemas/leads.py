"""Leads: one per incoming interest, from registration to conversion."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.base import (
    Actor,
    Code,
    Command,
    Comment,
    EmployeeId,
    EventPayload,
    LongText,
    Model,
    PersonalEmail,
    PersonalName,
    PersonalPhone,
    ShortText,
)
from schemas.counterparties import NewCounterparty


class LeadStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"
    SPAM = "spam"
    MERGED = "merged"


class ContactOutcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    LEFT_MESSAGE = "left_message"
    EMAIL_SENT = "email_sent"


class AssignmentRoute(StrEnum):
    ACCOUNT_OWNER = "account_owner"
    ROTATION = "rotation"


class ContactData(Model):
    """Contact details exactly as the client gave them."""

    name: PersonalName | None = None
    email: PersonalEmail | None = None
    phone: PersonalPhone | None = None
    company: ShortText | None = None
    inn: str | None = Field(default=None, pattern=r"^\d{10}(\d{2})?$")
    position: ShortText | None = None


# --- commands ---


class RegisterInterest(Command):
    channel: Code = Field(examples=["site_form"])
    source_detail: ShortText | None = Field(default=None, description="Exhibition, campaign, portal, partner")
    contact: ContactData
    message: LongText = ""
    received_by: Actor | None = Field(
        default=None, description="Employee who received it; defaults to the caller"
    )
    external_ref: ShortText | None = Field(
        default=None, description="Mail Message-ID, form submission id, PBX call id: unique per channel"
    )

    @model_validator(mode="after")
    def _reachable(self) -> RegisterInterest:
        c = self.contact
        if not (c.email or c.phone or c.inn):
            raise ValueError("contact needs at least an email, a phone or an INN")
        return self


class HandOffLead(Command):
    lead_id: UUID
    to: EmployeeId
    reason: Comment


class RecordContactAttempt(Command):
    lead_id: UUID
    outcome: ContactOutcome
    note: LongText = ""


class QualifyLead(Command):
    lead_id: UUID
    note: LongText = ""


class DisqualifyLead(Command):
    lead_id: UUID
    reason: Code
    comment: Comment | None = None


class MarkLeadSpam(Command):
    lead_id: UUID
    comment: Comment | None = None


class ConvertLead(Command):
    """Turn a qualified lead into a counterparty and contact (new, or an existing counterparty)."""

    lead_id: UUID
    counterparty: NewCounterparty | None = None
    existing_counterparty_id: UUID | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ConvertLead:
        if (self.counterparty is None) == (self.existing_counterparty_id is None):
            raise ValueError("give exactly one of counterparty or existing_counterparty_id")
        return self


class ReopenLead(Command):
    lead_id: UUID
    comment: Comment


class MergeLead(Command):
    lead_id: UUID
    into_lead_id: UUID
    comment: Comment | None = None


class ScheduleLeadFollowUp(Command):
    lead_id: UUID
    due_at: AwareDatetime
    note: LongText = ""


class CompleteLeadFollowUp(Command):
    lead_id: UUID
    follow_up_id: UUID
    note: LongText = ""


class FlagResponseOverdue(Command):
    """Recorded by the scheduler when a lead passes its response SLA."""

    lead_id: UUID
    escalated: bool = Field(description="False: past the SLA, to the holder; True: past twice the SLA")


# --- events ---


class InterestRegistered(EventPayload):
    channel: Code
    source_detail: ShortText | None
    contact: ContactData
    message: LongText
    received_by: Actor
    external_ref: ShortText | None


class LeadAssigned(EventPayload):
    """Automatic distribution (not a touch)."""

    assignee: EmployeeId
    route: AssignmentRoute
    counterparty_id: UUID | None = None


class LeadHandedOff(EventPayload):
    from_employee: EmployeeId | None
    to_employee: EmployeeId
    by: EmployeeId
    reason: Comment


class FirstTouchRecorded(EventPayload):
    """Who first touched the lead: set once, never changed."""

    employee: EmployeeId
    touch: str = Field(description="Type of the touch event")


class ContactAttempted(EventPayload):
    employee: EmployeeId
    outcome: ContactOutcome
    note: LongText


class LeadCallLogged(EventPayload):
    call_id: UUID
    employee: EmployeeId
    outcome: str


class LeadQualified(EventPayload):
    employee: EmployeeId
    note: LongText


class LeadDisqualified(EventPayload):
    employee: EmployeeId
    reason: Code
    comment: Comment | None


class LeadMarkedSpam(EventPayload):
    employee: EmployeeId
    comment: Comment | None


class LeadConverted(EventPayload):
    employee: EmployeeId
    counterparty_id: UUID
    contact_id: UUID | None
    counterparty_created: bool


class LeadReopened(EventPayload):
    status: LeadStatus
    comment: Comment


class LeadMergedInto(EventPayload):
    survivor_id: UUID
    comment: Comment | None


class DuplicateLeadAbsorbed(EventPayload):
    merged_lead_id: UUID


class LeadFollowUpScheduled(EventPayload):
    follow_up_id: UUID
    assignee: EmployeeId
    due_at: AwareDatetime
    note: LongText


class LeadFollowUpCompleted(EventPayload):
    follow_up_id: UUID
    note: LongText


class LeadResponseOverdue(EventPayload):
    holder: EmployeeId | None
    escalated: bool
    sla_minutes: int
