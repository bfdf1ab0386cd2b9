"""The needs registry: every need with its items, owner, status and how it closed."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Uuid

from projections.base import add_row, newer_values, Projection, utc
from schemas.base import Event
from schemas.needs import (
    NeedCancelled,
    NeedClosedAsDuplicate,
    NeedConverted,
    NeedItemsChanged,
    NeedOwnerChanged,
    NeedRegistered,
)

metadata = MetaData()
needs = Table(
    "needs_v1",
    metadata,
    Column("need_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("number", String, nullable=False, unique=True),
    Column("counterparty_id", Uuid, nullable=False),
    Column("end_customer", String),
    Column("owner", String, nullable=False, index=True),
    Column("channel", String, nullable=False),
    Column("lead_id", Uuid),
    Column("status", String, nullable=False, index=True),
    Column("items", JSON, nullable=False),
    Column("registered_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("close_reason", String),
    Column("close_comment", String),
    Column("deal_id", Uuid),
)
NeedsProjection = Projection("needs", 1, metadata)


def change(event: Event, **values):
    return [newer_values(needs, event, **values)]


def close(event: Event, status: str, **values):
    return change(event, status=status, closed_at=utc(event.occurred_at), **values)


@NeedsProjection.on(NeedRegistered)
def _registered(event: Event):
    p: NeedRegistered = event.payload
    row = dict(
        need_id=event.originator_id, version=event.originator_version, number=p.number,
        counterparty_id=p.counterparty_id, end_customer=p.end_customer.name if p.end_customer else None,
        owner=p.owner, channel=p.channel, lead_id=p.lead_id, status="open",
        items=[item.model_dump(mode="json") for item in p.items], registered_at=utc(event.occurred_at),
    )  # fmt: skip
    return [add_row(needs, **row)]


NeedsProjection.on(NeedItemsChanged)(lambda e: change(e, items=[i.model_dump(mode="json") for i in e.payload.items]))
NeedsProjection.on(NeedOwnerChanged)(lambda e: change(e, owner=e.payload.new_owner))
NeedsProjection.on(NeedClosedAsDuplicate)(
    lambda e: close(e, "duplicate", close_reason=str(e.payload.duplicate_of), close_comment=e.payload.comment)
)
NeedsProjection.on(NeedCancelled)(lambda e: close(e, "cancelled", close_reason=e.payload.reason, close_comment=e.payload.comment))
NeedsProjection.on(NeedConverted)(lambda e: close(e, "converted", deal_id=e.payload.deal_id))
