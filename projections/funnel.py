"""Funnel: each stage a deal entered and left, so reports see stages reached and time in stage."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, update

from projections.base import add_row, Projection, utc
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


def enter(event: Event, stage: str):
    """Leave the current stage and enter the next; a repeated or older event matches nothing."""
    leave = (
        update(stays)
        .where(stays.c.deal_id == event.originator_id, stays.c.left_at.is_(None),
               stays.c.entered_version < event.originator_version)  # fmt: skip
        .values(left_at=utc(event.occurred_at))
    )
    row = dict(deal_id=event.originator_id, entered_version=event.originator_version, stage=stage,
               entered_at=utc(event.occurred_at))  # fmt: skip
    return [leave, add_row(stays, **row)]


FunnelProjection.on(DealOpened)(lambda e: enter(e, "proposal"))
FunnelProjection.on(DealStageChanged)(lambda e: enter(e, e.payload.to_stage))
FunnelProjection.on(DealWon)(lambda e: enter(e, "won"))
FunnelProjection.on(DealLost)(lambda e: enter(e, "lost"))
FunnelProjection.on(DealReopened)(lambda e: enter(e, e.payload.to_stage))
