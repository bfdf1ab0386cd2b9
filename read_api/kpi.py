"""GET /reports/kpi: figures per employee and team, per day/week/month, plan vs fact, anomalies."""

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic_core import to_json
from sqlalchemy import Engine

from read_api import kpi_figures as kf
from read_api.consistency import Consistency
from read_api.kpi_figures import KpiRules, Window
from schemas.auth import Caller
from schemas.base import Model
from schemas.employees import Role

DEPARTMENT = "department"


class KpiFigures(Model):
    calls: int
    calls_total_seconds: int
    calls_average_seconds: float | None
    calls_too_short: int
    calls_too_long: int
    calls_average_score: float | None
    meetings_set: int
    meetings_held: int
    meetings_no_show: int
    meetings_held_as_converter: int
    converter_first_deals: int
    converter_conversion: float | None
    contracts_signed: int
    deals_won: int
    revenue: Decimal
    average_check: Decimal | None
    first_payments: int
    first_payment_amount: Decimal
    deals_per_client: float | None
    new_clients: int
    overdue_follow_ups: int
    deals_without_follow_up: int
    retention: float | None
    retention_base: int


class PlanFact(Model):
    metric: str
    plan: Decimal
    fact: Decimal
    done: float | None


class KpiRow(Model):
    period: str
    employee: str | None = None
    team: str
    figures: KpiFigures
    plan_vs_fact: list[PlanFact] = []


class Anomaly(Model):
    kind: Literal["too_short_calls", "too_long_calls", "long_deal_cycle", "low_average_check"]
    employee: str
    subject_id: UUID | None = None
    value: float
    threshold: float


class KpiReport(Model):
    period: Literal["day", "week", "month"]
    date_from: date
    date_to: date
    employees: list[KpiRow]
    teams: list[KpiRow]
    anomalies: list[Anomaly]


KPI_ROLES = {Role.HEAD_OF_SALES, Role.ANALYST, Role.MANAGER}
ALL_COUNTERS = itemgetter(*kf.NAMES)


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency,
                 rules: KpiRules, business_timezone: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:  # fmt: skip
    router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(consistency.wait)])
    zone = ZoneInfo(business_timezone)

    @router.get("/kpi", response_model=KpiReport, summary="KPI per employee and team: calls, meetings, deals, revenue, plan vs fact, anomalies")
    def kpi(
        caller: Annotated[Caller, Depends(authenticate)],
        period: Literal["day", "week", "month"] = "month",
        date_from: Annotated[date | None, Query(description="First business day (default: the first of the month two months ago)")] = None,
        date_to: Annotated[date | None, Query(description="Last business day, inclusive (default: today)")] = None,
    ) -> Response:
        if caller.role not in KPI_ROLES:
            raise HTTPException(403, "KPI reports are for the head of sales, analysts and managers (their own)")
        now = clock()
        today = now.astimezone(zone).date()
        last = date_to or today
        first = date_from or (today.replace(day=1) - timedelta(days=62)).replace(day=1)
        if first > last:
            raise HTTPException(422, [{"loc": ["query", "date_from"], "msg": "date_from is after date_to", "type": "value_error"}])
        if (last - first).days > 3 * 366:
            raise HTTPException(422, [{"loc": ["query", "date_to"], "msg": "at most three years per report", "type": "value_error"}])
        w = Window(period, first, last)
        with engine.connect() as conn:
            figures = kf.count_facts(conn, w)
            kf.count_client_credits(conn, w, figures)
            teams, plans = kf.team_of(conn), kf.monthly_plans(conn, w)
            cycles = kf.long_cycles(conn, w, rules, now)
        figures = {key: c for key, c in figures.items() if key[0] in teams}  # employees only, not system actors
        anomalies = call_anomalies(figures, rules) + cycles + low_checks(figures, rules)
        team_rows = team_totals(figures, teams)
        if caller.role is Role.MANAGER:  # a manager sees their own figures only
            figures = {key: c for key, c in figures.items() if key[0] == caller.employee}
            anomalies, team_rows = [a for a in anomalies if a["employee"] == caller.employee], []
        working = {label: kf.working_days(*w.bounds(label), today) for label in {label for _, label in figures}}
        rows = (employee_row(key, c, teams, plans.get(key), working[key[1]]) for key, c in sorted(figures.items()))
        # Plain values in the models' field order and types, serialised once (tests/test_kpi_contract.py checks that
        # the body is exactly what `KpiReport` gives): some 5,000 model objects per request would cost more than the
        # report itself, and their garbage brings on full collections.
        report = dict(period=period, date_from=first, date_to=last, employees=rows, teams=team_rows, anomalies=anomalies)
        return Response(to_json(report), media_type="application/json")

    return router


def employee_row(key: kf.Key, c: kf.Counters, teams: dict[str, str], plan: tuple | None, working_days: int) -> dict:
    employee, period = key
    return dict(period=period, employee=employee, team=teams.get(employee, "other"), figures=kf.derived(c),
                plan_vs_fact=kf.plan_vs_fact(plan, c, working_days))  # fmt: skip


def team_totals(figures: dict[kf.Key, kf.Counters], teams: dict[str, str]) -> list[dict]:
    """Each sales profile's sum, and the whole department's (retention and deals per client summed, not re-derived)."""
    members: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for (employee, period), c in figures.items():
        values = ALL_COUNTERS(c)
        members[(teams.get(employee, "other"), period)].append(values)
        members[(DEPARTMENT, period)].append(values)
    return [dict(period=period, employee=None, team=team, figures=kf.derived(dict(zip(kf.NAMES, map(sum, zip(*rows))))),
                 plan_vs_fact=[]) for (team, period), rows in sorted(members.items())]  # fmt: skip


def call_anomalies(figures: dict[kf.Key, kf.Counters], rules: KpiRules) -> list[dict]:
    """Employees with too-short or too-long calls over the whole window."""
    short: dict[str, int] = defaultdict(int)
    long: dict[str, int] = defaultdict(int)
    for (employee, _), c in figures.items():
        short[employee] += c["calls_too_short"]
        long[employee] += c["calls_too_long"]
    found = []
    for employee in sorted(short):
        for kind, count, threshold in (("too_short_calls", short[employee], rules.short_call_seconds),
                                       ("too_long_calls", long[employee], rules.long_call_seconds)):  # fmt: skip
            if count:
                found.append(kf.anomaly(kind, employee, count, threshold))
    return found


def low_checks(figures: dict[kf.Key, kf.Counters], rules: KpiRules) -> list[dict]:
    """Employees whose average check over the window is below a share of the department's."""
    won: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for (employee, _), c in figures.items():
        won[employee] += c["deals_won"]
        revenue[employee] += Decimal(c["won_revenue"])
    total = sum(won.values())
    if not total:
        return []
    department = sum(revenue.values()) / total
    floor = department * Decimal(str(rules.low_check_ratio))
    return [kf.anomaly("low_average_check", e, round(revenue[e] / n, 2), round(floor, 2))
            for e, n in sorted(won.items()) if n and revenue[e] / n < floor]  # fmt: skip
