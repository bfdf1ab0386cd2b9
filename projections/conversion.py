"""Conversion by channel: one fact row per lead, need, deal and payment, dated in business time.

Reports bucket these rows by day, week or month; spam is kept but left out of the figures.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Uuid, bindparam, select, update

from projections.base import add_row, insert, newer_values, Projection, utc
from projections.writes import Write, newer_row
from schemas.base import Event
from schemas.deals import DealOpened, DealWon, PaymentReceived
from schemas.leads import (
    ContactAttempted,
    InterestRegistered,
    LeadCallLogged,
    LeadConverted,
    LeadDisqualified,
    LeadHandedOff,
    LeadMarkedSpam,
    LeadQualified,
    LeadReopened,
)
from schemas.needs import NeedRegistered

metadata = MetaData()
leads = Table(
    "conversion_leads_v1", metadata,
    Column("lead_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("channel", String, nullable=False, index=True), Column("registered_on", Date, nullable=False),
    Column("registered_at", DateTime, nullable=False), Column("spam", Boolean, nullable=False),
    Column("contacted_on", Date), Column("contacted_at", DateTime),
    Column("qualified_on", Date), Column("touches", Integer, nullable=False), Column("calls", Integer, nullable=False),
)  # fmt: skip
needs = Table(
    "conversion_needs_v1", metadata,
    Column("need_id", Uuid, primary_key=True), Column("channel", String, nullable=False), Column("registered_on", Date, nullable=False),
)  # fmt: skip
deals = Table(
    "conversion_deals_v1", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("channel", String, nullable=False),
    Column("opened_on", Date, nullable=False), Column("won_on", Date),
)  # fmt: skip
payments = Table(
    "conversion_payments_v1", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("version", Integer, primary_key=True),
    Column("channel", String, nullable=False), Column("paid_on", Date, nullable=False), Column("amount", Numeric(16, 2), nullable=False),
)  # fmt: skip
NOT_CONTACTED = leads.c.contacted_on.is_(None)
ONE_MORE_TOUCH = leads.c.touches + 1
ONE_MORE_CALL = leads.c.calls + 1
DEAL_WON = update(deals).where(deals.c.deal_id == bindparam("w_deal_id", type_=Uuid)).values(won_on=bindparam("w_won_on", type_=Date))
# A payment is dated and valued by itself, and takes its channel from its deal's row.
PAYMENT = insert(payments).from_select(
    ["deal_id", "version", "channel", "paid_on", "amount"],
    select(bindparam("w_deal_id", type_=Uuid), bindparam("w_version", type_=Integer), deals.c.channel,
           bindparam("w_paid_on", type_=Date), bindparam("w_amount", type_=Numeric(16, 2)))
    .where(deals.c.deal_id == bindparam("w_deal_id", type_=Uuid)),
).on_conflict_do_nothing()  # fmt: skip
TOUCHES = (ContactAttempted, LeadCallLogged, LeadHandedOff, LeadQualified, LeadDisqualified, LeadConverted)


def conversion_projection(business_timezone: str) -> Projection:
    zone = ZoneInfo(business_timezone)
    projection = Projection("conversion", 1, metadata)

    def day(moment: datetime):
        return moment.astimezone(zone).date()

    def lead(event: Event, **values):
        return newer_values(leads, event, **values)

    @projection.on(InterestRegistered)
    def _registered(event: Event):
        row = dict(lead_id=event.originator_id, version=event.originator_version, channel=event.payload.channel,
                   registered_on=day(event.occurred_at), registered_at=utc(event.occurred_at), spam=False, touches=0,
                   calls=0)  # fmt: skip
        return [add_row(leads, **row)]

    def touched(event: Event):
        statements = []
        if isinstance(event.payload, ContactAttempted | LeadCallLogged):  # speed to lead: the first attempt
            statements.append(newer_row(leads, event.originator_id, event.originator_version, when=NOT_CONTACTED,
                                        contacted_on=day(event.occurred_at), contacted_at=utc(event.occurred_at)))  # fmt: skip
        extra = {"calls": ONE_MORE_CALL} if isinstance(event.payload, LeadCallLogged) else {}
        if isinstance(event.payload, LeadQualified):
            extra["qualified_on"] = day(event.occurred_at)
        return [*statements, lead(event, touches=ONE_MORE_TOUCH, **extra)]

    for touch in TOUCHES:
        projection.on(touch)(touched)
    projection.on(LeadMarkedSpam)(lambda e: [lead(e, spam=True)])
    projection.on(LeadReopened)(lambda e: [lead(e, spam=False)])

    @projection.on(NeedRegistered)
    def _need(event: Event):
        return [add_row(needs, need_id=event.originator_id, channel=event.payload.channel,
                                     registered_on=day(event.occurred_at))]  # fmt: skip

    @projection.on(DealOpened)
    def _deal(event: Event):
        return [add_row(deals, deal_id=event.originator_id, channel=event.payload.channel,
                                     opened_on=day(event.occurred_at))]  # fmt: skip

    projection.on(DealWon)(lambda e: [Write(DEAL_WON, {"w_deal_id": e.originator_id, "w_won_on": day(e.occurred_at)})])

    @projection.on(PaymentReceived)
    def _payment(event: Event):
        p = event.payload
        return [Write(PAYMENT, {"w_deal_id": event.originator_id, "w_version": event.originator_version,
                                "w_paid_on": p.paid_on, "w_amount": p.amount})]  # fmt: skip

    return projection
