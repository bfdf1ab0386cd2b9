"""KPI facts: one row per call, meeting, deal, payment, follow-up flag and monthly plan.

Each row is dated in business time (day, ISO week start, month) so a report can group it by any
period in SQL. Credit rules live in the report: the facts only record who did what, when.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Uuid, bindparam, case, exists, func, literal, select, update,
)  # fmt: skip

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


employees = Table(
    "kpi_employees_v2", metadata,
    Column("employee", String, primary_key=True), Column("name", String, nullable=False),
    Column("role", String, nullable=False), Column("profile", String),
)  # fmt: skip
calls = Table(
    "kpi_calls_v2", metadata,
    Column("call_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("employee", String, nullable=False), *dated(), Column("outcome", String, nullable=False),
    Column("duration", Integer, nullable=False), Column("score", Integer),
)  # fmt: skip
meetings = Table(
    "kpi_meetings_v2", metadata,
    Column("meeting_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("generator", String, nullable=False), Column("converter", String, nullable=False), *dated("set_"),
    Column("status", String, nullable=False), *dated("outcome_"),
)  # fmt: skip
deals = Table(
    "kpi_deals_v2", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("version", Integer, nullable=False),
    Column("owner", String, nullable=False), Column("counterparty_id", Uuid, nullable=False, index=True),
    Column("opened_at", DateTime, nullable=False), Column("opened_position", Integer, nullable=False),
    Column("meeting_held_by", String), Column("status", String, nullable=False),
    Column("signed_by", String), *dated("signed_"),
    Column("won_by", String), *dated("won_"), Column("won_revenue", Numeric(16, 2)),
    Column("closed_at", DateTime),
)  # fmt: skip
payments = Table(
    "kpi_payments_v2", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("version", Integer, primary_key=True),
    Column("owner", String, nullable=False), Column("counterparty_id", Uuid, nullable=False),
    *dated(), Column("paid_at", DateTime, nullable=False), Column("position", Integer, nullable=False),
    Column("amount", Numeric(16, 2), nullable=False),
)  # fmt: skip
call_days = Table(  # per employee and day, kept by the call events themselves: reports never scan the calls
    "kpi_call_days_v2", metadata,
    Column("employee", String, primary_key=True), Column("day", Date, primary_key=True), Column("week", Date),
    Column("month", String(7)), Column("calls", Integer, nullable=False), Column("seconds", Integer, nullable=False),
    Column("too_short", Integer, nullable=False), Column("too_long", Integer, nullable=False),
    Column("score_sum", Integer, nullable=False), Column("scored", Integer, nullable=False),
)  # fmt: skip
flags = Table(
    "kpi_flags_v2", metadata,
    Column("deal_id", Uuid, primary_key=True), Column("version", Integer, primary_key=True),
    Column("kind", String, nullable=False), Column("employee", String, nullable=False), *dated(),
)  # fmt: skip
plans = Table(
    "kpi_plans_v2", metadata,
    Column("employee", String, primary_key=True), Column("month", String(7), primary_key=True),
    Column("plan_id", Uuid, nullable=False), Column("version", Integer, nullable=False),
    Column("revenue", Numeric(16, 2), nullable=False), Column("deals_won", Integer, nullable=False),
    Column("calls_per_day", Integer, nullable=False), Column("meetings_held", Integer, nullable=False),
    Column("new_clients", Integer, nullable=False),
)  # fmt: skip

def _this_call():
    return calls.c.call_id == bindparam("w_call_id", type_=calls.c.call_id.type)


def _the_call(column: str):
    return select(calls.c[column]).where(_this_call()).scalar_subquery()


# Counted once: the day's counters move only while the call's own row is not there yet (it is written next).
COUNT_CALL = (
    update(call_days)
    .where(call_days.c.employee == bindparam("w_employee"), call_days.c.day == bindparam("w_day", type_=Date),
           ~exists().where(_this_call()))
    .values(calls=call_days.c.calls + 1, seconds=call_days.c.seconds + bindparam("w_seconds"),
            too_short=call_days.c.too_short + bindparam("w_short"), too_long=call_days.c.too_long + bindparam("w_long"))
)  # fmt: skip
# A score replaces the call's previous one; applied only while the call's row shows an older version.
COUNT_SCORE = (
    update(call_days)
    .where(call_days.c.employee == _the_call("employee"), call_days.c.day == _the_call("day"),
           exists().where(_this_call(), calls.c.version < bindparam("w_version")))
    .values(score_sum=call_days.c.score_sum + bindparam("w_score") - func.coalesce(_the_call("score"), 0),
            scored=call_days.c.scored + case((_the_call("score").is_(None), 1), else_=0))
)  # fmt: skip
OVERDUE_FOLLOW_UP = "overdue_follow_up"
NO_NEXT_FOLLOW_UP = "no_next_follow_up"


def kpi_projection(business_timezone: str, short_call_seconds: int = 20, long_call_seconds: int = 30 * 60) -> Projection:
    """The call thresholds are counted into the daily rows: after changing them, rebuild this projection."""
    zone = ZoneInfo(business_timezone)
    projection = Projection("kpi", 2, metadata)

    def when(moment: datetime, prefix: str = "") -> dict:
        day = moment.astimezone(zone).date()
        return {f"{prefix}day": day, f"{prefix}week": day - timedelta(days=day.weekday()), f"{prefix}month": f"{day:%Y-%m}"}

    @projection.on(EmployeeRegistered)
    def _employee(event: Event):
        p = event.payload
        row = dict(employee=p.employee_id, name=p.name, role=p.role, profile=p.sales_profile)
        return [add_row(employees, **row)]

    @projection.on(CallLogged)
    def _call(event: Event):
        p = event.payload
        row = dict(call_id=event.originator_id, version=event.originator_version, employee=p.employee,
                   outcome=p.outcome, duration=p.duration_seconds, **when(p.started_at))  # fmt: skip
        answered = p.outcome == "answered"
        day = add_row(call_days, employee=p.employee, **when(p.started_at), calls=0, seconds=0, too_short=0, too_long=0,
                      score_sum=0, scored=0)  # fmt: skip
        count = Write(COUNT_CALL, {"w_call_id": event.originator_id, "w_employee": p.employee, "w_day": row["day"],
                                   "w_seconds": p.duration_seconds, "w_short": int(answered and p.duration_seconds < short_call_seconds),
                                   "w_long": int(p.duration_seconds > long_call_seconds)})  # fmt: skip
        return [day, count, add_row(calls, **row)]

    @projection.on(CallScored)
    def _scored(event: Event):
        score = Write(COUNT_SCORE, {"w_call_id": event.originator_id, "w_version": event.originator_version,
                                    "w_score": event.payload.score})  # fmt: skip
        return [score, newer_values(calls, event, score=event.payload.score)]

    @projection.on(MeetingScheduled)
    def _meeting(event: Event):
        p = event.payload
        row = dict(meeting_id=event.originator_id, version=event.originator_version, generator=p.generator,
                   converter=p.converter, status="scheduled", **when(event.occurred_at, "set_"))  # fmt: skip
        return [add_row(meetings, **row)]

    def meeting_outcome(status: str):
        return lambda e: [newer_values(meetings, e, status=status, **when(e.occurred_at, "outcome_"))]

    projection.on(MeetingHeld)(meeting_outcome("held"))
    projection.on(MeetingNoShow)(meeting_outcome("no_show"))
    projection.on(MeetingCancelled)(meeting_outcome("cancelled"))

    @projection.on(DealOpened)
    def _deal(event: Event):
        p = event.payload
        row = dict(deal_id=event.originator_id, version=event.originator_version, owner=p.owner,
                   counterparty_id=p.counterparty_id, opened_at=utc(event.occurred_at), opened_position=event.position or 0,
                   meeting_held_by=p.meeting_held_by, status="open")  # fmt: skip
        return [add_row(deals, **row)]

    # Credit goes to whoever owned the deal when it happened (a later handoff does not move it).
    projection.on(DealHandedOff)(lambda e: [newer_values(deals, e, owner=e.payload.to_employee)])
    projection.on(ContractSigned)(
        lambda e: [newer_values(deals, e, signed_by=deals.c.owner, **when(e.occurred_at, "signed_"))]
    )
    projection.on(DealWon)(
        lambda e: [newer_values(deals, e, status="won", won_by=deals.c.owner, won_revenue=e.payload.revenue,
                                closed_at=utc(e.occurred_at), **when(e.occurred_at, "won_"))]  # fmt: skip
    )
    projection.on(DealLost)(lambda e: [newer_values(deals, e, status="lost", closed_at=utc(e.occurred_at))])
    projection.on(DealReopened)(lambda e: [newer_values(deals, e, status="open", closed_at=None)])

    @projection.on(PaymentReceived)
    def _payment(event: Event):
        deal = deals.c.deal_id == event.originator_id
        paid_on = event.payload.paid_on
        moment = dict(day=paid_on, week=paid_on - timedelta(days=paid_on.weekday()), month=f"{paid_on:%Y-%m}")
        source = select(
            literal(event.originator_id, Uuid), literal(event.originator_version), deals.c.owner, deals.c.counterparty_id,
            literal(moment["day"], Date), literal(moment["week"], Date), literal(moment["month"], String),
            literal(utc(event.occurred_at), DateTime), literal(event.position or 0), literal(event.payload.amount, Numeric(16, 2)),
        ).where(deal)  # fmt: skip
        columns = ["deal_id", "version", "owner", "counterparty_id", "day", "week", "month", "paid_at", "position", "amount"]
        return [insert(payments).from_select(columns, source).on_conflict_do_nothing()]

    def flag(kind: str, employee_of):
        def handler(event: Event):
            row = dict(deal_id=event.originator_id, version=event.originator_version, kind=kind,
                       employee=employee_of(event.payload), **when(event.occurred_at))  # fmt: skip
            return [add_row(flags, **row)]

        return handler

    projection.on(FollowUpBecameOverdue)(flag(OVERDUE_FOLLOW_UP, lambda p: p.assignee))
    projection.on(DealLeftWithoutFollowUp)(flag(NO_NEXT_FOLLOW_UP, lambda p: p.owner))

    @projection.on(MonthlyPlanSet)
    def _plan(event: Event):
        p = event.payload
        targets = p.targets.model_dump()
        row = dict(employee=p.employee_id, month=str(p.month), plan_id=event.originator_id,
                   version=event.originator_version, **targets)  # fmt: skip
        statement = insert(plans).values(**row)
        return [statement.on_conflict_do_update(
            index_elements=["employee", "month"], set_={**targets, "version": statement.excluded.version},
            where=plans.c.version < statement.excluded.version,
        )]  # fmt: skip

    return projection
