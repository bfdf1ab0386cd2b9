"""Reports over the read models."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Engine, func, select

from projections.catalog import products
from projections.demand import demand
from read_api.consistency import Consistency
from schemas.auth import Caller
from schemas.base import Model
from schemas.employees import Role

REPORT_ROLES = {Role.HEAD_OF_SALES, Role.ANALYST}


class DemandLine(Model):
    product_id: UUID
    product_name: str | None
    month: str
    outcome: str
    reason: str | None
    quantity: Decimal
    needs: int


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(consistency.wait)])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    @router.get("/demand", response_model=list[DemandLine], summary="Needed quantities by product, month and outcome")
    def demand_report(caller: CallerDep, period_from: date | None = None, period_to: date | None = None) -> list[DemandLine]:
        if caller.role not in REPORT_ROLES:
            raise HTTPException(403, "reports are for the head of sales and analysts")
        month = func.strftime("%Y-%m", demand.c.period_start)
        statement = (
            select(demand.c.product_id, products.c.name, month, demand.c.outcome, demand.c.reason,
                   func.sum(demand.c.quantity), func.count(demand.c.need_id))  # fmt: skip
            .join(products, products.c.product_id == demand.c.product_id, isouter=True)
            .group_by(demand.c.product_id, products.c.name, month, demand.c.outcome, demand.c.reason)
            .order_by(month, products.c.name, demand.c.outcome)
        )
        if period_from:
            statement = statement.where(demand.c.period_start >= period_from)
        if period_to:
            statement = statement.where(demand.c.period_start <= period_to)
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
        fields = ("product_id", "product_name", "month", "outcome", "reason", "quantity", "needs")
        return [DemandLine(**dict(zip(fields, row, strict=True))) for row in rows]

    return router
