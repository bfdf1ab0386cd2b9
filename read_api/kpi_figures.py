"""KPI figures computed from the KPI facts: counters per (employee, period), then rates and plan vs fact.

Counting runs in SQL over the high-volume facts (calls, meetings, payments, flags); the rules about
clients ("first deal", new clients, retention) run over the few deals they concern.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, case, func, or_, select

from projections.kpi import NO_NEXT_FOLLOW_UP, OVERDUE_FOLLOW_UP, call_days, deals, employees, flags, meetings, payments, plans

Key = tuple[str, str]  # (employee, period label)


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

    def column(self, table, prefix: str = ""):
        return table.c[f"{prefix}{self.period}"]

    def within(self, table, prefix: str = ""):
        return table.c[f"{prefix}day"].between(self.first, self.last)

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


def count_facts(conn: Connection, w: Window, rules: KpiRules) -> dict[Key, Counter]:
    """Additive counters per (employee, period)."""
    figures: dict[Key, Counter] = defaultdict(Counter)

    def add(statement, names: list[str]) -> None:
        for employee, period, *values in conn.execute(statement):
            counter = figures[(employee, w.label(period))]
            for name, value in zip(names, values, strict=True):
                counter[name] += value or 0

    bucket = w.column(call_days)
    sums = [func.sum(call_days.c[c]) for c in ("calls", "seconds", "too_short", "too_long", "score_sum", "scored")]
    add(select(call_days.c.employee, bucket, *sums).where(w.within(call_days)).group_by(call_days.c.employee, bucket),
        ["calls", "call_seconds", "calls_too_short", "calls_too_long", "score_sum", "scored_calls"])  # fmt: skip

    set_bucket, outcome_bucket = w.column(meetings, "set_"), w.column(meetings, "outcome_")
    add(select(meetings.c.generator, set_bucket, func.count()).where(w.within(meetings, "set_"))
        .group_by(meetings.c.generator, set_bucket), ["meetings_set"])  # fmt: skip
    outcomes = (
        select(meetings.c.generator, outcome_bucket, func.sum(case((meetings.c.status == "held", 1), else_=0)),
               func.sum(case((meetings.c.status == "no_show", 1), else_=0)))
        .where(w.within(meetings, "outcome_")).group_by(meetings.c.generator, outcome_bucket)
    )  # fmt: skip
    add(outcomes, ["meetings_held", "meetings_no_show"])
    add(select(meetings.c.converter, outcome_bucket, func.count())
        .where(w.within(meetings, "outcome_"), meetings.c.status == "held")
        .group_by(meetings.c.converter, outcome_bucket), ["meetings_held_as_converter"])  # fmt: skip

    bucket = w.column(payments)
    add(select(payments.c.owner, bucket, func.sum(payments.c.amount)).where(w.within(payments))
        .group_by(payments.c.owner, bucket), ["revenue"])  # fmt: skip
    count_first_payments(conn, w, figures)

    bucket = w.column(flags)
    overdue, orphaned = (func.sum(case((flags.c.kind == kind, 1), else_=0)) for kind in (OVERDUE_FOLLOW_UP, NO_NEXT_FOLLOW_UP))
    add(select(flags.c.employee, bucket, overdue, orphaned).where(w.within(flags)).group_by(flags.c.employee, bucket),
        ["overdue_follow_ups", "deals_without_follow_up"])  # fmt: skip
    return figures


def first_deals(conn: Connection, clients: set) -> set:
    """Each of these clients' first deal: the earliest opened, ties broken by log position."""
    if not clients:
        return set()
    of_clients = deals.c.counterparty_id.in_(clients)
    earliest = (select(deals.c.counterparty_id, func.min(deals.c.opened_at).label("opened_at"))
                .where(of_clients).group_by(deals.c.counterparty_id).subquery())  # fmt: skip
    rows = conn.execute(
        select(deals.c.counterparty_id, deals.c.opened_position, deals.c.deal_id)
        .join(earliest, (deals.c.counterparty_id == earliest.c.counterparty_id) & (deals.c.opened_at == earliest.c.opened_at))
    )  # fmt: skip
    first: dict = {}
    for client, position, deal in rows:
        first[client] = min(first.get(client, (position, deal)), (position, deal))
    return {deal for _, deal in first.values()}


def count_first_payments(conn: Connection, w: Window, figures: dict[Key, Counter]) -> None:
    """The first payment of each client's first deal, credited to the deal's owner when it was paid."""
    in_window = select(payments.c.deal_id, payments.c.counterparty_id).where(w.within(payments)).distinct()
    candidates = {deal: client for deal, client in conn.execute(in_window)}
    firsts = first_deals(conn, set(candidates.values())) & set(candidates)
    if not firsts:
        return
    paid = conn.execute(select(payments).where(payments.c.deal_id.in_(firsts))).mappings()
    earliest: dict = {}
    for p in paid:
        order = (p["day"], p["paid_at"], p["position"])
        if p["deal_id"] not in earliest or order < earliest[p["deal_id"]][0]:
            earliest[p["deal_id"]] = (order, p)
    for _, p in earliest.values():
        if w.first <= p["day"] <= w.last:
            counter = figures[(p["owner"], w.bucket_of(p["day"]))]
            counter["first_payments"] += 1
            counter["first_payment_amount"] += p["amount"]


def deal_facts(conn: Connection, w: Window) -> list[dict]:
    """Deals signed or won in the window, and those won in the year before it (for retention); `nth` is 1 for a
    client's first deal."""
    year_before = w.first - timedelta(days=365)
    columns = [deals.c[c] for c in ("deal_id", "counterparty_id", "meeting_held_by", "signed_by", "signed_day", "won_by",
                                    "won_day", "won_revenue")]  # fmt: skip
    statement = select(*columns).where(or_(deals.c.signed_day.between(w.first, w.last), deals.c.won_day.between(year_before, w.last)))
    rows = [dict(row) for row in conn.execute(statement).mappings()]
    firsts = first_deals(conn, {r["counterparty_id"] for r in rows})
    for r in rows:
        r["nth"] = 1 if r["deal_id"] in firsts else 2
    return rows


def count_deal_credits(rows: list[dict], w: Window, figures: dict[Key, Counter]) -> None:
    """Contracts, wins, first deals, new clients and retention, by the credit rules of the department."""
    clients_won: dict[Key, set] = defaultdict(set)
    for r in rows:
        if r["signed_day"] and w.first <= r["signed_day"] <= w.last:
            period = w.bucket_of(r["signed_day"])
            figures[(r["signed_by"], period)]["contracts_signed"] += 1
            if r["nth"] == 1 and r["meeting_held_by"]:  # converter credit: a first deal from a meeting they held
                figures[(r["meeting_held_by"], period)]["converter_first_deals"] += 1
        if r["won_day"] and w.first <= r["won_day"] <= w.last:
            key = (r["won_by"], w.bucket_of(r["won_day"]))
            figures[key]["deals_won"] += 1
            figures[key]["won_revenue"] += r["won_revenue"] or 0
            figures[key]["new_clients"] += r["nth"] == 1
            clients_won[key].add(r["counterparty_id"])
    for key, clients in clients_won.items():
        figures[key]["clients_won"] += len(clients)
    count_retention(rows, w, figures)


def count_retention(rows: list[dict], w: Window, figures: dict[Key, Counter]) -> None:
    """Of the clients an employee won a deal with in the 12 months before a period, how many bought again in it."""
    won = [(r["won_by"], r["counterparty_id"], r["won_day"]) for r in rows if r["won_day"]]
    periods = {w.bucket_of(w.first + timedelta(days=i)) for i in range((w.last - w.first).days + 1)}
    for period in periods:
        start, end = w.bounds(period)
        buyers = {client for _, client, day in won if start <= day <= end}
        base: dict[str, set] = defaultdict(set)
        for employee, client, day in won:
            if start - timedelta(days=365) <= day < start:
                base[employee].add(client)
        for employee, clients in base.items():
            figures[(employee, period)]["retention_base"] += len(clients)
            figures[(employee, period)]["retention_kept"] += len(clients & buyers)


def team_of(conn: Connection) -> dict[str, str]:
    return {e: profile or role for e, role, profile in conn.execute(select(employees.c.employee, employees.c.role, employees.c.profile))}


def monthly_plans(conn: Connection, w: Window) -> dict[Key, dict]:
    if w.period != "month":
        return {}
    statement = select(plans).where(plans.c.month.between(f"{w.first:%Y-%m}", f"{w.last:%Y-%m}"))
    return {(r["employee"], r["month"]): dict(r) for r in conn.execute(statement).mappings()}


def working_days(start: date, end: date, today: date) -> int:
    end = min(end, today)
    return sum(1 for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


def ratio(part, whole, digits: int = 4) -> float | None:
    return round(float(part) / float(whole), digits) if whole else None


def derived(c: Counter) -> dict:
    """The report's figures from the additive counters."""
    return dict(
        calls=c["calls"], calls_total_seconds=c["call_seconds"], calls_average_seconds=ratio(c["call_seconds"], c["calls"], 1),
        calls_too_short=c["calls_too_short"], calls_too_long=c["calls_too_long"],
        calls_average_score=ratio(c["score_sum"], c["scored_calls"], 1),
        meetings_set=c["meetings_set"], meetings_held=c["meetings_held"], meetings_no_show=c["meetings_no_show"],
        meetings_held_as_converter=c["meetings_held_as_converter"], converter_first_deals=c["converter_first_deals"],
        converter_conversion=ratio(c["converter_first_deals"], c["meetings_held_as_converter"]),
        contracts_signed=c["contracts_signed"], deals_won=c["deals_won"], revenue=Decimal(c["revenue"]),
        average_check=(Decimal(c["won_revenue"]) / c["deals_won"]).quantize(Decimal("0.01")) if c["deals_won"] else None,
        first_payments=c["first_payments"], first_payment_amount=Decimal(c["first_payment_amount"]),
        deals_per_client=ratio(c["deals_won"], c["clients_won"], 2), new_clients=c["new_clients"],
        overdue_follow_ups=c["overdue_follow_ups"], deals_without_follow_up=c["deals_without_follow_up"],
        retention=ratio(c["retention_kept"], c["retention_base"]), retention_base=c["retention_base"],
    )  # fmt: skip


def plan_vs_fact(plan: dict | None, c: Counter, days: int) -> list[dict]:
    if plan is None:
        return []
    facts = {
        "revenue": Decimal(c["revenue"]),
        "deals_won": c["deals_won"],
        "calls_per_day": round(c["calls"] / days, 1) if days else 0,
        "meetings_held": c["meetings_held"] + c["meetings_held_as_converter"],
        "new_clients": c["new_clients"],
    }
    return [dict(metric=m, plan=plan[m], fact=fact, done=ratio(fact, plan[m])) for m, fact in facts.items() if plan[m]]


def long_cycles(conn: Connection, w: Window, rules: KpiRules, now: datetime) -> list[dict]:
    """Open deals older than the threshold, and deals closed in the window after a longer cycle."""
    limit = timedelta(days=rules.long_cycle_days)
    naive_now = now.replace(tzinfo=None)
    statement = select(deals.c.deal_id, deals.c.owner, deals.c.opened_at, deals.c.closed_at, deals.c.status).where(
        deals.c.opened_at < naive_now - limit,
        or_(deals.c.status == "open", deals.c.closed_at >= datetime.combine(w.first, datetime.min.time())),
    )
    found = []
    for r in conn.execute(statement).mappings():
        days = ((r["closed_at"] or naive_now) - r["opened_at"]).days
        if days > rules.long_cycle_days:
            found.append(dict(kind="long_deal_cycle", employee=r["owner"], subject_id=r["deal_id"], value=days,
                              threshold=rules.long_cycle_days))  # fmt: skip
    return found
