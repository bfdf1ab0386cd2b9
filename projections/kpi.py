"""KPI facts: additive counters per employee and business day, each client's first deal, and the deals.

- `kpi_days`: per (employee, day) every figure that only adds up: calls, meetings, contracts, wins, revenue,
  flags; and per (employee, month) their total, kept by the same statements (a monthly report reads one row
  per employee and month). A counter moves only while the fact's own row (the call, the meeting, the deal)
  does not show the event yet, so a redelivered event changes nothing.
- `kpi_first_deals`: per client its first deal (earliest by opened_at, then log position) and what that deal
  earned: the converter credit of its signing, its win (a new client) and its first payment. A deal opened
  earlier replaces the row and clears those credits (it has none yet: a deal's opening is its first event),
  and a deal's credits are written only while it is its client's first deal, so any order of the deals'
  events ends with the same row.
- `kpi_deals`: what the wins and the deal cycles need (clients won, retention, long cycles).

Rows shared by several aggregates (a day, a client) are only created once and then counted into or
min-upserted, which commutes: grouping the statements of distinct aggregates changes no result. Facts are
dated in business time (day, the Monday of its week, month) so a report groups them by any period in SQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Uuid, and_, bindparam, case, exists,
    func, literal_column, null, or_, select, tuple_, union_all, update,
)  # fmt: skip
from sqlalchemy.sql import ClauseElement

from projections.base import add_row, insert, newer_values, Projection, utc
from projections.writes import Write
from schemas.activities import CallLogged, CallScored, MeetingCancelled, MeetingHeld, MeetingNoShow, MeetingScheduled
from schemas.base import Event
from schemas.deals import (
    ContractSigned,
    DealHandedOff,
    DealLeftWithoutFollowUp,
    DealLost,
    DealOpened,
    DealReopened,
    DealWon,
    FollowUpBecameOverdue,
    PaymentReceived,
)
from schemas.employees import EmployeeRegistered, MonthlyPlanSet

metadata = MetaData()


def dated(prefix: str = "") -> list[Column]:
    """The business day of a fact, and the week (its Monday) and month it falls in."""
    return [Column(f"{prefix}day", Date, index=True), Column(f"{prefix}week", Date), Column(f"{prefix}month", String(7))]


def counter(name: str, type_=Integer) -> Column:
    return Column(name, type_, nullable=False, server_default="0")


COUNTERS = ("calls", "call_seconds", "calls_too_short", "calls_too_long", "score_sum", "scored_calls", "meetings_set",
            "meetings_held", "meetings_no_show", "meetings_held_as_converter", "contracts_signed", "deals_won",
            "overdue_follow_ups", "deals_without_follow_up")  # fmt: skip
KOPECKS = ("revenue_kopecks", "won_revenue_kopecks")  # money adds up in kopecks: exact in any order, in any database

employees = Table(
    "kpi_employees_v3", metadata,
    Column("employee", String, primary_key=True), Column("name", String, nullable=False),
    Column("role", String, nullable=False), Column("profile", String),
)  # fmt: skip
days = Table(
    "kpi_days_v3", metadata,
    # a day's row has its day of the month (and day, week); the month's total has 0 (and no day, no week)
    Column("employee", String, primary_key=True), Column("month", String(7), primary_key=True),
    Column("day_of_month", Integer, primary_key=True), Column("day", Date), Column("week", Date),
    *(counter(name) for name in COUNTERS), *(counter(name, BigInteger) for name in KOPECKS),
    sqlite_with_rowid=False,
)  # fmt: skip
MONTH_TOTAL = 0
calls = Table(  # only what a later score needs: the day row the call was counted into, and its score
    "kpi_calls_v3", metadata,
    Column("call_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("employee", String, nullable=False), Column("day", Date, nullable=False), Column("score", Integer),
    sqlite_with_rowid=False,
)  # fmt: skip
meetings = Table(
    "kpi_meetings_v3", metadata,
    Column("meeting_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("generator", String, nullable=False), Column("converter", String, nullable=False),
    Column("status", String, nullable=False),
    sqlite_with_rowid=False,
)  # fmt: skip
deals = Table(
    "kpi_deals_v3", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("owner", String, nullable=False), Column("counterparty_id", Uuid, nullable=False),
    Column("opened_at", DateTime, nullable=False, index=True), Column("opened_position", Integer, nullable=False),
    Column("status", String, nullable=False), Column("closed_at", DateTime), Column("won_by", String), *dated("won_"),
)  # fmt: skip
first_deals = Table(
    "kpi_first_deals_v3", metadata,
    Column("counterparty_id", Uuid, primary_key=True), Column("deal_id", Uuid, nullable=False),
    Column("opened_at", DateTime, nullable=False), Column("opened_position", Integer, nullable=False),
    Column("meeting_held_by", String), *dated("signed_"),  # converter credit: a first deal from a held meeting, signed
    Column("won_by", String), *dated("won_"),  # a new client
    # the deal's first payment (earliest by paid day, then time and log position), credited to the deal's owner then
    Column("paid_by", String), *dated("first_paid_"), Column("first_paid_at", DateTime),
    Column("first_paid_position", Integer), Column("first_paid_kopecks", BigInteger),
    sqlite_with_rowid=False,
)  # fmt: skip
plans = Table(
    "kpi_plans_v3", metadata,
    Column("employee", String, primary_key=True), Column("month", String(7), primary_key=True),
    Column("plan_id", Uuid, nullable=False), Column("version", Integer, nullable=False),
    Column("revenue", Numeric(16, 2), nullable=False), Column("deals_won", Integer, nullable=False),
    Column("calls_per_day", Integer, nullable=False), Column("meetings_held", Integer, nullable=False),
    Column("new_clients", Integer, nullable=False),
)  # fmt: skip

# --- statement templates (built once; each event brings its values) ---

ID, VERSION = bindparam("w_id", type_=Uuid), bindparam("w_version", type_=Integer)
DAY, WEEK, MONTH = bindparam("w_day", type_=Date), bindparam("w_week", type_=Date), bindparam("w_month", type_=String)
DAY_OF_MONTH = bindparam("w_day_of_month", type_=Integer)


def one(name: str) -> ClauseElement:
    return bindparam(f"w_{name}", type_=Integer)


def count_into_day(employee: ClauseElement, counts: dict[str, ClauseElement], where: ClauseElement):
    """Add these counts to the employee's day and to their month's total (creating the rows as needed), in one
    statement; `where` guards the count."""
    day = select(employee, MONTH, DAY_OF_MONTH, DAY, WEEK, *counts.values()).where(where)
    month = select(employee, MONTH, literal_column(str(MONTH_TOTAL)), null(), null(), *counts.values()).where(where)
    statement = insert(days).from_select(["employee", "month", "day_of_month", "day", "week", *counts], union_all(day, month))
    return statement.on_conflict_do_update(index_elements=["employee", "month", "day_of_month"],
                                           set_={name: days.c[name] + statement.excluded[name] for name in counts})  # fmt: skip


def unapplied(table: Table) -> ClauseElement:
    """The aggregate's row shows an older version: the event is not applied yet."""
    return and_(table.c[table.primary_key.columns.keys()[0]] == ID, table.c.version < VERSION)


def own(table: Table, column: str):
    """A column of this event's own row."""
    return select(table.c[column]).where(table.c[table.primary_key.columns.keys()[0]] == ID).scalar_subquery()


# calls
NEW_CALL = ~exists().where(calls.c.call_id == ID)
COUNT_CALL = count_into_day(bindparam("w_employee", type_=String),
                            {"calls": literal_column("1"), "call_seconds": one("seconds"), "calls_too_short": one("short"),
                             "calls_too_long": one("long")}, NEW_CALL)  # fmt: skip
_CALL_DAY = days.alias("call_day")
# A score replaces the call's previous one, on its day and in its month's total; applied only while the call's
# row shows an older version.
COUNT_SCORE = (
    update(days)
    .where(days.c.employee == own(calls, "employee"),
           days.c.month == select(_CALL_DAY.c.month).where(_CALL_DAY.c.employee == own(calls, "employee"),
                                                           _CALL_DAY.c.day == own(calls, "day")).scalar_subquery(),
           or_(days.c.day == own(calls, "day"), days.c.day_of_month == MONTH_TOTAL), exists().where(unapplied(calls)))
    .values(score_sum=days.c.score_sum + bindparam("w_score", type_=Integer) - func.coalesce(own(calls, "score"), 0),
            scored_calls=days.c.scored_calls + case((own(calls, "score").is_(None), 1), else_=0))
)  # fmt: skip

# meetings
COUNT_MEETING_SET = count_into_day(bindparam("w_generator", type_=String), {"meetings_set": literal_column("1")},
                                   ~exists().where(meetings.c.meeting_id == ID))  # fmt: skip
# The generator's day of the outcome: held and no-show are counted; a cancelled meeting counts nothing.
COUNT_MEETING_ENDED = count_into_day(meetings.c.generator, {"meetings_held": one("held"), "meetings_no_show": one("no_show")},
                                     unapplied(meetings))  # fmt: skip
COUNT_MEETING_HELD_AS_CONVERTER = count_into_day(meetings.c.converter, {"meetings_held_as_converter": literal_column("1")},
                                                 unapplied(meetings))  # fmt: skip

# deals: credit goes to whoever owned the deal when it happened (a later handoff does not move it); a deal is
# signed once and won once (aggregates/deal.py), so contracts and wins add up per day like the rest
COUNT_CONTRACT = count_into_day(deals.c.owner, {"contracts_signed": literal_column("1")}, unapplied(deals))
COUNT_WIN = count_into_day(deals.c.owner, {"deals_won": literal_column("1"),
                                           "won_revenue_kopecks": bindparam("w_kopecks", type_=BigInteger)}, unapplied(deals))  # fmt: skip
COUNT_REVENUE = count_into_day(deals.c.owner, {"revenue_kopecks": bindparam("w_kopecks", type_=BigInteger)}, unapplied(deals))
COUNT_FLAG = count_into_day(bindparam("w_employee", type_=String),
                            {"overdue_follow_ups": one("overdue"), "deals_without_follow_up": one("orphaned")},
                            exists().where(unapplied(deals)))  # fmt: skip


def _first_deal():
    statement = insert(first_deals)
    order = ("opened_at", "opened_position", "deal_id")
    credits = [c.name for c in first_deals.columns if c.name not in ("counterparty_id", *order, "meeting_held_by")]
    return statement.on_conflict_do_update(
        index_elements=["counterparty_id"],
        set_={**{name: statement.excluded[name] for name in (*order, "meeting_held_by")}, **dict.fromkeys(credits, null())},
        where=tuple_(*(statement.excluded[c] for c in order)) < tuple_(*(first_deals.c[c] for c in order)),
    )


# A client's first deal is replaced only by one that sorts earlier (which has no credits yet): any order agrees.
FIRST_DEAL = _first_deal()
# This deal's credit, while it is its client's first deal and the event is not applied yet.
THIS_FIRST_DEAL = and_(first_deals.c.counterparty_id == own(deals, "counterparty_id"), first_deals.c.deal_id == ID,
                       exists().where(unapplied(deals)))  # fmt: skip
FIRST_DEAL_SIGNED = update(first_deals).where(THIS_FIRST_DEAL).values(signed_day=DAY, signed_week=WEEK, signed_month=MONTH)
FIRST_DEAL_WON = update(first_deals).where(THIS_FIRST_DEAL).values(won_by=own(deals, "owner"), won_day=DAY, won_week=WEEK,
                                                                  won_month=MONTH)  # fmt: skip
PAID = {"first_paid_day": DAY, "first_paid_week": WEEK, "first_paid_month": MONTH,
        "first_paid_at": bindparam("w_paid_at", type_=DateTime), "first_paid_position": bindparam("w_position", type_=Integer)}  # fmt: skip
PAID_ORDER = ("first_paid_day", "first_paid_at", "first_paid_position")
# Keeps the deal's earliest payment: a back-dated later payment replaces it, a repeated one does not.
FIRST_DEAL_PAID = (
    update(first_deals)
    .where(THIS_FIRST_DEAL, or_(first_deals.c.first_paid_day.is_(None),
                                tuple_(*(PAID[c] for c in PAID_ORDER)) < tuple_(*(first_deals.c[c] for c in PAID_ORDER))))
    .values(paid_by=own(deals, "owner"), first_paid_kopecks=bindparam("w_kopecks", type_=BigInteger), **PAID)
)  # fmt: skip

PLAN_TARGETS = ("revenue", "deals_won", "calls_per_day", "meetings_held", "new_clients")


def _plan():
    statement = insert(plans)
    return statement.on_conflict_do_update(
        index_elements=["employee", "month"],
        set_={name: statement.excluded[name] for name in (*PLAN_TARGETS, "version")},
        where=plans.c.version < statement.excluded.version,
    )


PLAN = _plan()


def kpi_projection(business_timezone: str, short_call_seconds: int = 20, long_call_seconds: int = 30 * 60) -> Projection:
    """The call thresholds are counted into the daily rows: after changing them, rebuild this projection."""
    zone = ZoneInfo(business_timezone)
    projection = Projection("kpi", 3, metadata)

    def local(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    def dates(day: date, prefix: str) -> dict:
        """A row's date columns: the day, its week (the Monday) and month."""
        return {f"{prefix}day": day, f"{prefix}week": day - timedelta(days=day.weekday()), f"{prefix}month": f"{day:%Y-%m}"}

    def at(day: date) -> dict:
        """A statement's date parameters: where a fact counts."""
        return {**dates(day, "w_"), "w_day_of_month": day.day}

    def guard(event: Event) -> dict:
        return {"w_id": event.originator_id, "w_version": event.originator_version}

    @projection.on(EmployeeRegistered)
    def _employee(event: Event):
        p = event.payload
        return [add_row(employees, employee=p.employee_id, name=p.name, role=p.role, profile=p.sales_profile)]

    @projection.on(CallLogged)
    def _call(event: Event):
        p = event.payload
        seconds, moment = p.duration_seconds, at(local(p.started_at))
        count = Write(COUNT_CALL, {"w_id": event.originator_id, "w_employee": p.employee, **moment, "w_seconds": seconds,
                                   "w_short": int(p.outcome == "answered" and seconds < short_call_seconds),
                                   "w_long": int(seconds > long_call_seconds)})  # fmt: skip
        row = dict(call_id=event.originator_id, version=event.originator_version, employee=p.employee, day=moment["w_day"])
        return [count, add_row(calls, **row)]

    @projection.on(CallScored)
    def _scored(event: Event):
        score = Write(COUNT_SCORE, {**guard(event), "w_score": event.payload.score})
        return [score, newer_values(calls, event, score=event.payload.score)]

    @projection.on(MeetingScheduled)
    def _meeting(event: Event):
        p = event.payload
        count = Write(COUNT_MEETING_SET, {"w_id": event.originator_id, "w_generator": p.generator, **at(local(event.occurred_at))})
        row = dict(meeting_id=event.originator_id, version=event.originator_version, generator=p.generator,
                   converter=p.converter, status="scheduled")  # fmt: skip
        return [count, add_row(meetings, **row)]

    def meeting_outcome(status: str):
        def handler(event: Event):
            params = {**guard(event), **at(local(event.occurred_at))}
            counts = [Write(COUNT_MEETING_ENDED, {**params, "w_held": int(status == "held"), "w_no_show": int(status == "no_show")})]
            if status == "held":
                counts.append(Write(COUNT_MEETING_HELD_AS_CONVERTER, params))
            return [*counts, newer_values(meetings, event, status=status)]

        return handler

    projection.on(MeetingHeld)(meeting_outcome("held"))
    projection.on(MeetingNoShow)(meeting_outcome("no_show"))
    projection.on(MeetingCancelled)(meeting_outcome("cancelled"))

    @projection.on(DealOpened)
    def _deal(event: Event):
        p = event.payload
        opened_at, position = utc(event.occurred_at), event.position or 0
        row = dict(deal_id=event.originator_id, version=event.originator_version, owner=p.owner, counterparty_id=p.counterparty_id,
                   opened_at=opened_at, opened_position=position, status="open")  # fmt: skip
        first = dict(counterparty_id=p.counterparty_id, deal_id=event.originator_id, opened_at=opened_at, opened_position=position,
                     meeting_held_by=p.meeting_held_by)  # fmt: skip
        return [add_row(deals, **row), Write(FIRST_DEAL, first)]

    projection.on(DealHandedOff)(lambda e: [newer_values(deals, e, owner=e.payload.to_employee)])

    @projection.on(ContractSigned)
    def _signed(event: Event):
        params = {**guard(event), **at(local(event.occurred_at))}
        return [Write(COUNT_CONTRACT, params), Write(FIRST_DEAL_SIGNED, params), newer_values(deals, event)]

    @projection.on(DealWon)
    def _won(event: Event):
        day = local(event.occurred_at)
        params = {**guard(event), **at(day)}
        count = Write(COUNT_WIN, {**params, "w_kopecks": int(event.payload.revenue * 100)})
        row = newer_values(deals, event, status="won", won_by=deals.c.owner, closed_at=utc(event.occurred_at), **dates(day, "won_"))
        return [count, Write(FIRST_DEAL_WON, params), row]

    projection.on(DealLost)(lambda e: [newer_values(deals, e, status="lost", closed_at=utc(e.occurred_at))])
    projection.on(DealReopened)(lambda e: [newer_values(deals, e, status="open", closed_at=None)])

    @projection.on(PaymentReceived)
    def _payment(event: Event):
        p = event.payload
        params = {**guard(event), **at(p.paid_on), "w_kopecks": int(p.amount * 100)}  # revenue by payment date
        first = Write(FIRST_DEAL_PAID, {**params, "w_paid_at": utc(event.occurred_at), "w_position": event.position or 0})
        return [Write(COUNT_REVENUE, params), first, newer_values(deals, event)]

    def flag(overdue: int, employee_of):
        def handler(event: Event):
            params = {**guard(event), "w_employee": employee_of(event.payload), **at(local(event.occurred_at)),
                      "w_overdue": overdue, "w_orphaned": 1 - overdue}  # fmt: skip
            return [Write(COUNT_FLAG, params), newer_values(deals, event)]

        return handler

    projection.on(FollowUpBecameOverdue)(flag(1, lambda p: p.assignee))
    projection.on(DealLeftWithoutFollowUp)(flag(0, lambda p: p.owner))

    @projection.on(MonthlyPlanSet)
    def _plan(event: Event):
        p = event.payload
        row = dict(employee=p.employee_id, month=str(p.month), plan_id=event.originator_id, version=event.originator_version,
                   **p.targets.model_dump(include=set(PLAN_TARGETS)))  # fmt: skip
        return [Write(PLAN, row)]

    return projection
