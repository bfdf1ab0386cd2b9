"""Deals: stage, owner (and everyone who owned it), amounts paid, where the deal came from."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, Numeric, String, Table, Uuid

from projections.base import add_row, newer_values, Projection, utc
from schemas.base import Event
from schemas.deals import (
    DealHandedOff,
    DealLost,
    DealOpened,
    DealReopened,
    DealStageChanged,
    DealWon,
    PaymentReceived,
    ProposalIssued,
)

metadata = MetaData()
deals = Table(
    "deals_v2",
    metadata,
    Column("deal_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("number", String, nullable=False),
    Column("need_id", Uuid, nullable=False),
    Column("lead_id", Uuid),
    Column("channel", String, nullable=False),
    Column("counterparty_id", Uuid, nullable=False),
    Column("owner", String, nullable=False, index=True),
    Column("stage", String, nullable=False),
    Column("payment_terms", String, nullable=False),
    Column("total", Numeric(16, 2), nullable=False),
    Column("paid", Numeric(16, 2), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("loss_reason", String),
    Column("items", JSON, nullable=False),  # product id -> quantity, from the need
    Column("lines", JSON, nullable=False),  # the latest proposal: product, quantity, unit price
)
holders = Table(  # everyone who held a deal: a manager sees the deals they hold or held
    "deal_holders_v2",
    metadata,
    Column("deal_id", Uuid, primary_key=True),
    Column("employee", String, primary_key=True),
)
DealsProjection = Projection("deals", 2, metadata)


def held(event: Event, employee: str):
    return add_row(holders, deal_id=event.originator_id, employee=employee)


def change(event: Event, **values):
    return [newer_values(deals, event, **values)]


@DealsProjection.on(DealOpened)
def _opened(event: Event):
    p: DealOpened = event.payload
    row = dict(
        deal_id=event.originator_id, version=event.originator_version, number=p.number, need_id=p.need_id,
        lead_id=p.lead_id, channel=p.channel, counterparty_id=p.counterparty_id, owner=p.owner,
        stage="proposal", payment_terms=p.payment_terms, total=0, paid=0, opened_at=utc(event.occurred_at),
        items=[item.model_dump(mode="json") for item in p.items], lines=[],
    )  # fmt: skip
    return [add_row(deals, **row), held(event, p.owner)]


@DealsProjection.on(DealHandedOff)
def _handed_off(event: Event):
    return [held(event, event.payload.to_employee), *change(event, owner=event.payload.to_employee)]


DealsProjection.on(ProposalIssued)(
    lambda e: change(e, total=e.payload.total, lines=[line.model_dump(mode="json") for line in e.payload.lines])
)
DealsProjection.on(DealStageChanged)(lambda e: change(e, stage=e.payload.to_stage))
DealsProjection.on(PaymentReceived)(lambda e: change(e, paid=e.payload.total_paid))
DealsProjection.on(DealWon)(lambda e: change(e, stage="won", closed_at=utc(e.occurred_at)))
DealsProjection.on(DealLost)(lambda e: change(e, stage="lost", closed_at=utc(e.occurred_at), loss_reason=e.payload.reason))
DealsProjection.on(DealReopened)(lambda e: change(e, stage=e.payload.to_stage, closed_at=None, loss_reason=None))
