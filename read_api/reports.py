"""Reports over the read models."""

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from statistics import median
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Engine, func, select

from projections import conversion
from projections.catalog import products
from projections.demand import demand
from projections.funnel import stays
from read_api.consistency import Consistency
from schemas.auth import Caller
from schemas.base import Model
from schemas.deals import OPEN_STAGES, DealStage
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


class ChannelConversion(Model):
    channel: str
    period: str
    interests: int
    contacted: int
    qualified: int
    needs: int
    deals: int
    won: int
    revenue: Decimal
    contacted_rate: float | None
    qualified_rate: float | None
    won_rate: float | None
    median_speed_to_lead_seconds: int | None
    calls: int
    touches: int


def bucket(day: date, period: str) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day:%Y-%m}"


class StageFigures(Model):
    stage: str
    reached: int
    now_in_stage: int
    to_next_stage: float | None
    median_days_in_stage: float | None


class FunnelReport(Model):
    stages: list[StageFigures]
    won: int
    lost: int
    win_rate: float | None
    median_cycle_days: float | None


def month_of(engine: Engine, column):
    """'YYYY-MM' of a date column, in the database's own words."""
    if engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _days(seconds: list[float]) -> float | None:
    return round(median(seconds) / 86400, 2) if seconds else None


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(consistency.wait)])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    @router.get("/demand", response_model=list[DemandLine], summary="Needed quantities by product, month and outcome")
    def demand_report(caller: CallerDep, period_from: date | None = None, period_to: date | None = None) -> list[DemandLine]:
        if caller.role not in REPORT_ROLES:
            raise HTTPException(403, "reports are for the head of sales and analysts")
        month = month_of(engine, demand.c.period_start)
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

    @router.get("/conversion-by-channel", response_model=list[ChannelConversion],
                summary="Interests → contacted → qualified → needs → deals → won, revenue and effort, per channel")  # fmt: skip
    def conversion_by_channel(caller: CallerDep, period: Literal["day", "week", "month"] = "month") -> list[ChannelConversion]:
        if caller.role not in REPORT_ROLES:
            raise HTTPException(403, "reports are for the head of sales and analysts")
        with engine.connect() as conn:
            lead_rows = conn.execute(select(conversion.leads).where(conversion.leads.c.spam.is_(False))).mappings().all()
            need_rows = conn.execute(select(conversion.needs)).mappings().all()
            deal_rows = conn.execute(select(conversion.deals)).mappings().all()
            pay_rows = conn.execute(select(conversion.payments)).mappings().all()
        figures: dict = defaultdict(lambda: defaultdict(int))
        speeds: dict = defaultdict(list)
        for r in lead_rows:
            f = figures[(r["channel"], bucket(r["registered_on"], period))]
            f["interests"] += 1
            f["calls"] += r["calls"]
            f["touches"] += r["touches"]
            if r["contacted_on"]:
                figures[(r["channel"], bucket(r["contacted_on"], period))]["contacted"] += 1
                speeds[(r["channel"], bucket(r["registered_on"], period))].append((r["contacted_at"] - r["registered_at"]).total_seconds())
            if r["qualified_on"]:
                figures[(r["channel"], bucket(r["qualified_on"], period))]["qualified"] += 1
        for r in need_rows:
            figures[(r["channel"], bucket(r["registered_on"], period))]["needs"] += 1
        for r in deal_rows:
            figures[(r["channel"], bucket(r["opened_on"], period))]["deals"] += 1
            if r["won_on"]:
                figures[(r["channel"], bucket(r["won_on"], period))]["won"] += 1
        for r in pay_rows:
            figures[(r["channel"], bucket(r["paid_on"], period))]["revenue"] += r["amount"]
        return [_conversion_line(channel, when, f, speeds[(channel, when)]) for (channel, when), f in sorted(figures.items())]

    @router.get("/funnel", response_model=FunnelReport, summary="Deals per stage, stage-to-stage conversion, time in stage, cycle")
    def funnel(caller: CallerDep) -> FunnelReport:
        if caller.role not in REPORT_ROLES:
            raise HTTPException(403, "reports are for the head of sales and analysts")
        with engine.connect() as conn:
            rows = conn.execute(select(stays)).mappings().all()
        reached: dict[str, set] = defaultdict(set)
        current: dict[str, int] = defaultdict(int)
        durations: dict[str, list[float]] = defaultdict(list)
        opened: dict = {}
        closed: dict = {}
        for r in rows:
            reached[r["stage"]].add(r["deal_id"])
            if r["left_at"] is None:
                current[r["stage"]] += 1
            else:
                durations[r["stage"]].append((r["left_at"] - r["entered_at"]).total_seconds())
            if r["stage"] == "proposal":
                opened[r["deal_id"]] = min(opened.get(r["deal_id"], r["entered_at"]), r["entered_at"])
            if r["stage"] in ("won", "lost") and r["left_at"] is None:
                closed[r["deal_id"]] = r["entered_at"]
        figures = []
        order = [*OPEN_STAGES, DealStage.WON]
        for i, stage in enumerate(OPEN_STAGES):
            later = set().union(*(reached[s] for s in order[i + 1 :]))  # a deal may skip a stage (negotiation, paid)
            count, onward = len(reached[stage]), len(reached[stage] & later)
            figures.append(StageFigures(stage=stage, reached=count, now_in_stage=current[stage],
                                        to_next_stage=round(onward / count, 4) if count else None,
                                        median_days_in_stage=_days(durations[stage])))  # fmt: skip
        won, lost = current["won"], current["lost"]
        cycles = [(closed[d] - opened[d]).total_seconds() for d in closed if d in opened]
        return FunnelReport(stages=figures, won=won, lost=lost, win_rate=round(won / (won + lost), 4) if won + lost else None,
                            median_cycle_days=_days(cycles))  # fmt: skip

    return router


def _conversion_line(channel: str, when: str, f: dict, speeds: list[float]) -> ChannelConversion:
    def rate(part: str, whole: str) -> float | None:
        return round(f[part] / f[whole], 4) if f[whole] else None

    return ChannelConversion(
        channel=channel, period=when, interests=f["interests"], contacted=f["contacted"], qualified=f["qualified"],
        needs=f["needs"], deals=f["deals"], won=f["won"], revenue=Decimal(f["revenue"]),
        contacted_rate=rate("contacted", "interests"), qualified_rate=rate("qualified", "contacted"),
        won_rate=rate("won", "deals"), median_speed_to_lead_seconds=int(median(speeds)) if speeds else None,
        calls=f["calls"], touches=f["touches"],
    )  # fmt: skip

