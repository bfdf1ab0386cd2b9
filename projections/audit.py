"""Audit of a lead: the chain of touches and handoffs (who, what, when), first touch included."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Uuid

from projections.base import add_row, Projection, utc
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
    LeadQualified,
)

metadata = MetaData()
chain = Table(
    "lead_audit_v1",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("event_type", String, nullable=False),
    Column("employee", String),
    Column("holder_after", String),
    Column("first_touch", Boolean, nullable=False, default=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("detail", String),
)
LeadAuditProjection = Projection("lead_audit", 1, metadata)


def entry(event: Event, employee: str | None, holder_after: str | None = None, detail: str | None = None):
    row = dict(
        lead_id=event.originator_id, version=event.originator_version, event_type=event.type, employee=employee,
        holder_after=holder_after, first_touch=isinstance(event.payload, FirstTouchRecorded),
        occurred_at=utc(event.occurred_at), recorded_at=utc(event.recorded_at), detail=detail,
    )  # fmt: skip
    return [add_row(chain, **row)]  # a repeat is the same row


HANDLERS = {
    InterestRegistered: lambda e, p: entry(e, p.received_by, None if p.received_by.startswith("system:") else p.received_by, p.channel),
    LeadAssigned: lambda e, p: entry(e, None, p.assignee, p.route),
    LeadHandedOff: lambda e, p: entry(e, p.by, p.to_employee, p.reason),
    FirstTouchRecorded: lambda e, p: entry(e, p.employee, detail=p.touch),
    ContactAttempted: lambda e, p: entry(e, p.employee, detail=p.outcome),
    LeadCallLogged: lambda e, p: entry(e, p.employee, detail=p.outcome),
    LeadQualified: lambda e, p: entry(e, p.employee),
    LeadDisqualified: lambda e, p: entry(e, p.employee, detail=p.reason),
    LeadConverted: lambda e, p: entry(e, p.employee, detail=str(p.counterparty_id)),
}
for payload_type, handler in HANDLERS.items():
    LeadAuditProjection.on(payload_type)(lambda event, handler=handler: handler(event, event.payload))
