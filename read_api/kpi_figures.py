"""KPI figures computed from the KPI facts: counters per (employee, period), then rates and plan vs fact.

The projection keeps what adds up per employee and day, and each client's first deal with its credits, so a
report is a few GROUP BYs over small tables plus retention over the won deals. The statements are built once
per kind of period and take the window's bounds as parameters. Counters, plans and report values are plain
dicts and tuples of plain values: the garbage collector has nothing to follow in them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from sqlalchemy import Connection, Date, DateTime, Select, String, and_, bindparam, case, func, or_, select

from projections.kpi import COUNTERS, KOPECKS, MONTH_TOTAL, PLAN_TARGETS, days, deals, employees, first_deals, plans

Key = tuple[str, str]  # (employee, period label)
NAMES = (*COUNTERS, "revenue", "won_revenue", "converter_first_deals", "clients_won", "new_clients", "first_payments",
         "first_payment_amount", "retention_base", "retention_kept")  # fmt: skip
Counters = dict[str, int | Decimal]  # a value for every name of NAMES
ZERO: Counters = dict.fromkeys(NAMES, 0)


@dataclass(frozen=True)
class KpiRules:
    short_call_seconds: int = 20
    long_call_seconds: int = 30 * 60
    long_cycle_days: int = 90
    low_check_ratio: float = 0.5


@dataclass(frozen=True)
class Window:
    period: str  # day | week | month
    first: date
    last: date  # inclusive

    def label(self, value) -> str:
        if self.period == "week":
            year, week, _ = value.isocalendar()
            return f"{year}-W{week:02d}"
        return value if isinstance(value, str) else value.isoformat()

    def bucket_of(self, day: date) -> str:
        if self.period == "day":
            return day.isoformat()
        if self.period == "week":
            return self.label(day)
        return f"{day:%Y-%m}"

    def bounds(self, label: str) -> tuple[date, date]:
        """First and last day of a period, clipped to the window."""
        if self.period == "day":
            start = end = date.fromisoformat(label)
        elif self.period == "week":
            start = datetime.strptime(label + "-1", "%G-W%V-%u").date()
            end = start + timedelta(days=6)
        else:
            start = date.fromisoformat(label + "-01")
            end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return max(start, self.first), min(end, self.last)

    def labels(self) -> list[str]:
        """Every period the window touches, in order."""
        return sorted({self.bucket_of(self.first + timedelta(days=i)) for i in range((self.last - self.first).days + 1)})

    def whole_months(self) -> tuple[str, str]:
        """The first and last month the window covers entirely (an empty range when it covers none)."""
        start = self.first if self.first.day == 1 else (self.first.replace(day=28) + timedelta(days=4)).replace(day=1)
        stop = (self.last + timedelta(days=1)).replace(day=1)  # the first day after the whole months
        return (f"{start:%Y-%m}", f"{stop - timedelta(days=1):%Y-%m}") if start < stop else ("", "")


# --- statements (built once; the window's bounds are parameters) ---

FIRST, LAST = bindparam("first", type_=Date), bindparam("last", type_=Date)
WHOLE_MONTHS = days.c.month.between(bindparam("whole_from", type_=String), bindparam("whole_to", type_=String))


@dataclass(frozen=True)
class Statements:
    """Each selects (employee, period, *values) grouped by both, for one kind of period."""

    days: Select
    clients_won: Select
    converter_credits: Select
    new_clients: Select
    first_payments: Select


@lru_cache(maxsize=None)
def statements(period: str) -> Statements:
    def grouped(table, employee, prefix: str, *values, where=()) -> Select:
        """`prefix`: which of the row's dates (day, week, month) counts."""
        bucket, day = table.c[f"{prefix}{period}"], table.c[f"{prefix}day"]
        return select(employee, bucket, *values).where(day.between(FIRST, LAST), *where).group_by(employee, bucket)

    firsts = first_deals.c
    sums = [func.sum(days.c[c]) for c in (*KOPECKS, *COUNTERS)]
    if period == "month":  # the months the window covers entirely from their totals, the others from their days
        in_window = or_(and_(days.c.day_of_month == MONTH_TOTAL, WHOLE_MONTHS), and_(days.c.day.between(FIRST, LAST), ~WHOLE_MONTHS))
        daily = select(days.c.employee, days.c.month, *sums).where(in_window).group_by(days.c.employee, days.c.month)
    else:
        daily = grouped(days, days.c.employee, "", *sums)
    return Statements(
        days=daily,
        clients_won=grouped(deals, deals.c.won_by, "won_", func.count(deals.c.counterparty_id.distinct())),
        # the credits of each client's first deal: the converter who held its meeting when it is signed, a new client
        # when it is won, and its first payment (to whoever owned the deal then)
        converter_credits=grouped(first_deals, firsts.meeting_held_by, "signed_", func.count(), where=[firsts.meeting_held_by.is_not(None)]),
        new_clients=grouped(first_deals, firsts.won_by, "won_", func.count()),
        first_payments=grouped(first_deals, firsts.paid_by, "first_paid_", func.count(), func.sum(firsts.first_paid_kopecks)),
    )  # fmt: skip


SINCE, START, END = bindparam("since", type_=Date), bindparam("start", type_=Date), bindparam("end", type_=Date)
_BUYERS = deals.alias("buyers")
_BOUGHT_AGAIN = deals.c.counterparty_id.in_(select(_BUYERS.c.counterparty_id).where(_BUYERS.c.won_day.between(START, END)))
# per employee: the clients won in [since, start), and how many of them bought again (from anyone) in [start, end]
RETENTION = (
    select(deals.c.won_by, func.count(deals.c.counterparty_id.distinct()),
           func.count(case((_BOUGHT_AGAIN, deals.c.counterparty_id)).distinct()))
    .where(deals.c.won_day >= SINCE, deals.c.won_day < START).group_by(deals.c.won_by)
)  # fmt: skip
TEAMS = select(employees.c.employee, employees.c.role, employees.c.profile)
PLANS = (select(plans.c.employee, plans.c.month, *(plans.c[t] for t in PLAN_TARGETS))
         .where(plans.c.month.between(bindparam("from_month", type_=String), bindparam("to_month", type_=String))))  # fmt: skip
LONG_CYCLES = (
    select(deals.c.deal_id, deals.c.owner, deals.c.opened_at, deals.c.closed_at)
    .where(deals.c.opened_at < bindparam("opened_before", type_=DateTime),
           or_(deals.c.status == "open", deals.c.closed_at >= bindparam("closed_since", type_=DateTime)))
    .order_by(deals.c.opened_position, deals.c.deal_id)
)  # fmt: skip


# --- counting ---


def count(conn: Connection, w: Window, figures: dict[Key, Counters], statement, *names: str) -> None:
    """Add a grouped statement's values, selected as (employee, period, *values), to the counters."""
    label = w.label
    for employee, period, *values in conn.execute(statement, {"first": w.first, "last": w.last}):
        counter = figures[(employee, label(period))]
        for name, value in zip(names, values):
            counter[name] += value or 0


def count_facts(conn: Connection, w: Window) -> dict[Key, Counters]:
    """Additive counters per (employee, period): calls, meetings, contracts, wins, revenue and flags, from the daily rows."""
    figures: dict[Key, Counters] = defaultdict(ZERO.copy)
    label = w.label
    whole_from, whole_to = w.whole_months()
    params = {"first": w.first, "last": w.last, "whole_from": whole_from, "whole_to": whole_to}
    for employee, period, revenue, won_revenue, *values in conn.execute(statements(w.period).days, params):
        counter = figures[(employee, label(period))]
        counter.update(zip(COUNTERS, values))
        if revenue:
            counter["revenue"] = Decimal(revenue).scaleb(-2)
        if won_revenue:
            counter["won_revenue"] = Decimal(won_revenue).scaleb(-2)
    return figures


def count_client_credits(conn: Connection, w: Window, figures: dict[Key, Counters]) -> None:
    """Clients won, first deals and their credits, and retention, by the credit rules of the department."""
    s = statements(w.period)
    count(conn, w, figures, s.clients_won, "clients_won")
    count(conn, w, figures, s.converter_credits, "converter_first_deals")
    count(conn, w, figures, s.new_clients, "new_clients")
    for employee, period, payments, kopecks in conn.execute(s.first_payments, {"first": w.first, "last": w.last}):
        counter = figures[(employee, w.label(period))]
        counter["first_payments"] += payments
        counter["first_payment_amount"] += Decimal(kopecks).scaleb(-2)
    count_retention(conn, w, figures)


def count_retention(conn: Connection, w: Window, figures: dict[Key, Counters]) -> None:
    """Of the clients an employee won a deal with in the 12 months before a period, how many bought again in it."""
    for period in w.labels():
        start, end = w.bounds(period)
        for employee, clients, kept in conn.execute(RETENTION, {"since": start - timedelta(days=365), "start": start, "end": end}):
            counter = figures[(employee, period)]
            counter["retention_base"] += clients
            counter["retention_kept"] += kept


def team_of(conn: Connection) -> dict[str, str]:
    return {employee: profile or role for employee, role, profile in conn.execute(TEAMS)}


def monthly_plans(conn: Connection, w: Window) -> dict[Key, tuple]:
    """Per (employee, month), its targets in the order of PLAN_TARGETS."""
    if w.period != "month":
        return {}
    rows = conn.execute(PLANS, {"from_month": f"{w.first:%Y-%m}", "to_month": f"{w.last:%Y-%m}"})
    return {(employee, month): tuple(targets) for employee, month, *targets in rows}


def working_days(start: date, end: date, today: date) -> int:
    end = min(end, today)
    return sum(1 for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


# --- the report's values, in the field order and types of its models (read_api.kpi) ---


def ratio(part, whole, digits: int = 4) -> float | None:
    return round(float(part) / float(whole), digits) if whole else None


def decimal(value: int | float | Decimal) -> Decimal:
    """A figure as a Decimal field carries it (a float by its shortest form: 125.0 stays 125.0)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


CENTS = Decimal("0.01")


def derived(c: Counters) -> dict:
    """`KpiFigures` from the additive counters."""
    deals_won = c["deals_won"]
    return {
        "calls": c["calls"], "calls_total_seconds": c["call_seconds"], "calls_average_seconds": ratio(c["call_seconds"], c["calls"], 1),
        "calls_too_short": c["calls_too_short"], "calls_too_long": c["calls_too_long"],
        "calls_average_score": ratio(c["score_sum"], c["scored_calls"], 1),
        "meetings_set": c["meetings_set"], "meetings_held": c["meetings_held"], "meetings_no_show": c["meetings_no_show"],
        "meetings_held_as_converter": c["meetings_held_as_converter"], "converter_first_deals": c["converter_first_deals"],
        "converter_conversion": ratio(c["converter_first_deals"], c["meetings_held_as_converter"]),
        "contracts_signed": c["contracts_signed"], "deals_won": deals_won, "revenue": Decimal(c["revenue"]),
        "average_check": (Decimal(c["won_revenue"]) / deals_won).quantize(CENTS) if deals_won else None,
        "first_payments": c["first_payments"], "first_payment_amount": Decimal(c["first_payment_amount"]),
        "deals_per_client": ratio(deals_won, c["clients_won"], 2), "new_clients": c["new_clients"],
        "overdue_follow_ups": c["overdue_follow_ups"], "deals_without_follow_up": c["deals_without_follow_up"],
        "retention": ratio(c["retention_kept"], c["retention_base"]), "retention_base": c["retention_base"],
    }  # fmt: skip


def plan_vs_fact(plan: tuple | None, c: Counters, days: int) -> list[dict]:
    """`PlanFact`s of one employee and month, for the targets set."""
    if plan is None:
        return []
    facts = (Decimal(c["revenue"]), c["deals_won"], round(c["calls"] / days, 1) if days else 0,
             c["meetings_held"] + c["meetings_held_as_converter"], c["new_clients"])  # in the order of PLAN_TARGETS
    return [{"metric": m, "plan": Decimal(target), "fact": decimal(fact), "done": ratio(fact, target)}
            for m, target, fact in zip(PLAN_TARGETS, plan, facts) if target]  # fmt: skip


def anomaly(kind: str, employee: str, value, threshold, subject_id: UUID | None = None) -> dict:
    """An `Anomaly`."""
    return dict(kind=kind, employee=employee, subject_id=subject_id, value=float(value), threshold=float(threshold))


def long_cycles(conn: Connection, w: Window, rules: KpiRules, now: datetime) -> list[dict]:
    """Open deals older than the threshold, and deals closed in the window after a longer cycle."""
    naive_now = now.replace(tzinfo=None)
    params = {"opened_before": naive_now - timedelta(days=rules.long_cycle_days),
              "closed_since": datetime.combine(w.first, datetime.min.time())}  # fmt: skip
    found = []
    for deal, owner, opened_at, closed_at in conn.execute(LONG_CYCLES, params):
        days_open = ((closed_at or naive_now) - opened_at).days
        if days_open > rules.long_cycle_days:
            found.append(anomaly("long_deal_cycle", owner, days_open, rules.long_cycle_days, subject_id=deal))
    return found
