"""Query routes for deals."""

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import Field
from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import Engine, select

from projections.deals import deals, holders
from read_api.consistency import Consistency
from read_api.leads import UtcDatetime
from read_api.visibility import sees_all
from schemas.auth import Caller
from schemas.base import Model
from schemas.deals import ProposalLine, ShipmentItem


class DealPublic(Model):
    deal_id: UUID
    number: str
    need_id: UUID
    lead_id: UUID | None
    channel: str
    counterparty_id: UUID
    owner: str
    stage: str
    payment_terms: str
    total: Decimal
    paid: Decimal
    opened_at: UtcDatetime
    closed_at: UtcDatetime | None
    loss_reason: str | None
    items: list[ShipmentItem]
    lines: list[ProposalLine] = Field(description="The latest commercial proposal")


class DealsPage(Model):
    items: list[DealPublic]
    next_cursor: str | None


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency) -> APIRouter:
    router = APIRouter(prefix="/deals", tags=["deals"], dependencies=[Depends(consistency.wait)])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    def visible(caller: Caller):
        """Managers see the deals they hold or held."""
        statement = select(deals)
        if not sees_all(caller):
            mine = select(holders.c.deal_id).where(holders.c.deal_id == deals.c.deal_id, holders.c.employee == caller.employee)
            statement = statement.where(mine.exists())
        return statement

    def public(row) -> DealPublic:
        return DealPublic(**{k: v for k, v in row.items() if k != "version"})

    @router.get("", response_model=DealsPage, summary="Deals (a manager's own, or all)")
    def list_deals(
        caller: CallerDep,
        stage: str | None = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> DealsPage:
        statement = visible(caller).order_by(deals.c.number)
        if stage:
            statement = statement.where(deals.c.stage == stage)
        if cursor:
            statement = statement.where(deals.c.number > cursor)
        with engine.connect() as conn:
            rows = conn.execute(statement.limit(limit + 1)).mappings().all()
        page = [public(r) for r in rows[:limit]]
        return DealsPage(items=page, next_cursor=page[-1].number if len(rows) > limit else None)

    @router.get("/{deal_id}", response_model=DealPublic, summary="One deal")
    def one_deal(deal_id: UUID, caller: CallerDep) -> DealPublic:
        with engine.connect() as conn:
            row = conn.execute(visible(caller).where(deals.c.deal_id == deal_id)).mappings().first()
        if row is None:
            raise HTTPException(404, f"deal {deal_id} not found")
        return public(row)

    return router
