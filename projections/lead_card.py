"""Lead card: channel, contact, status, holder, first touch, first contact (speed to lead), last activity.

Every update is guarded by the lead's version, so an event applied twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

from projections.base import add_row, newer_values, Projection, utc
from projections.writes import newer_row
from schemas.base import Event
from schemas.leads import (
    ContactAttempted,
    FirstTouchRecorded,
    InterestRegistered,
    LeadAssigned,
    LeadCallLogged,
    LeadConverted,
    LeadDisqualified,
    LeadHandedOff,
    LeadMarkedSpam,
    LeadMergedInto,
    LeadQualified,
    LeadReopened,
)

metadata = MetaData()
cards = Table(
    "lead_cards_v1",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("channel", String, nullable=False),
    Column("source_detail", String),
    Column("contact_name", String),
    Column("contact_email", String),
    Column("contact_phone", String),
    Column("company", String),
    Column("status", String, nullable=False),
    Column("holder", String),
    Column("first_touch", String),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("first_contact_at", DateTime(timezone=True)),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Column("counterparty_id", Uuid),
)
LeadCardProjection = Projection("lead_card", 1, metadata)
on = LeadCardProjection.on


def change(event: Event, **values):
    return [newer_values(cards, event, last_activity_at=utc(event.occurred_at), **values)]


@on(InterestRegistered)
def _registered(event: Event):
    e: InterestRegistered = event.payload
    human = not e.received_by.startswith("system:")
    row = dict(
        lead_id=event.originator_id, version=event.originator_version, channel=e.channel,
        source_detail=e.source_detail, contact_name=e.contact.name, contact_email=e.contact.email,
        contact_phone=e.contact.phone, company=e.contact.company, status="assigned" if human else "new",
        holder=e.received_by if human else None, registered_at=utc(event.occurred_at), last_activity_at=utc(event.occurred_at),
    )  # fmt: skip
    return [add_row(cards, **row)]


@on(LeadAssigned)
def _assigned(event: Event):
    return change(event, holder=event.payload.assignee, status="assigned")


@on(LeadHandedOff)
def _handed_off(event: Event):
    return [*_status_if(event, "new", "assigned"), *change(event, holder=event.payload.to_employee)]


@on(FirstTouchRecorded)
def _first_touch(event: Event):
    return change(event, first_touch=event.payload.employee)


@on(ContactAttempted)
def _contact_attempted(event: Event):
    return _contacted(event)


@on(LeadCallLogged)
def _call_logged(event: Event):
    return _contacted(event)


def _contacted(event: Event):
    """The first contact attempt is kept: speed to lead = first_contact_at - registered_at."""
    first = newer_row(cards, event.originator_id, event.originator_version, when=NOT_CONTACTED,
                      first_contact_at=utc(event.occurred_at))  # fmt: skip
    return [first, *_status_if(event, "assigned", "in_progress"), *change(event)]


NOT_CONTACTED = cards.c.first_contact_at.is_(None)
STATUS_IS = {status: cards.c.status == status for status in ("new", "assigned")}


def _status_if(event: Event, current: str, new: str):
    return [newer_row(cards, event.originator_id, event.originator_version, when=STATUS_IS[current], status=new)]


def _status(status: str):
    def handler(event: Event):
        return change(event, status=status)

    return handler


for payload_type, status in (
    (LeadQualified, "qualified"),
    (LeadDisqualified, "disqualified"),
    (LeadMarkedSpam, "spam"),
    (LeadMergedInto, "merged"),
):
    on(payload_type)(_status(status))


@on(LeadConverted)
def _converted(event: Event):
    return change(event, status="converted", counterparty_id=event.payload.counterparty_id)


@on(LeadReopened)
def _reopened(event: Event):
    return change(event, status=event.payload.status)
