"""Funnel: each stage a deal entered and left, so reports see stages reached and time in stage."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, bindparam, update

from projections.base import add_row, Projection, utc
from projections.writes import Write
from schemas.base import Event
from schemas.deals import DealLost, DealOpened, DealReopened, DealStageChanged, DealWon

metadata = MetaData()
stays = Table(
    "funnel_stays_v1",
    metadata,
    Column("deal_id", Uuid, primary_key=True),
    Column("entered_version", Integer, primary_key=True),  # a reopened deal may enter a stage again
    Column("stage", String, nullable=False, index=True),
    Column("entered_at", DateTime, nullable=False),
    Column("left_at", DateTime),
)
FunnelProjection = Projection("funnel", 1, metadata)


# Leave the current stage; a repeated or older event matches nothing.
LEAVE = (
    update(stays)
    .where(stays.c.deal_id == bindparam("w_deal_id", type_=Uuid), stays.c.left_at.is_(None),
           stays.c.entered_version < bindparam("w_version"))  # fmt: skip
    .values(left_at=bindparam("w_left_at", type_=DateTime))
)


def enter(event: Event, stage: str):
    """Leave the current stage and enter the next."""
    at = utc(event.occurred_at)
    leave = Write(LEAVE, {"w_deal_id": event.originator_id, "w_version": event.originator_version, "w_left_at": at})
    row = dict(deal_id=event.originator_id, entered_version=event.originator_version, stage=stage, entered_at=at)
    return [leave, add_row(stays, **row)]


FunnelProjection.on(DealOpened)(lambda e: enter(e, "proposal"))
FunnelProjection.on(DealStageChanged)(lambda e: enter(e, e.payload.to_stage))
FunnelProjection.on(DealWon)(lambda e: enter(e, "won"))
FunnelProjection.on(DealLost)(lambda e: enter(e, "lost"))
FunnelProjection.on(DealReopened)(lambda e: enter(e, e.payload.to_stage))
