"""Employees, the rotation, plans, and reassigning a departing employee's portfolio."""

from __future__ import annotations

from aggregates.base import Aggregate, Context
from aggregates.counterparty import Counterparty
from aggregates.deal import Deal
from aggregates.employee import Employee, MonthlyPlan, require_head_of_sales
from aggregates.errors import ConflictError, ForbiddenError
from aggregates.lead import Lead
from aggregates.need import Need
from aggregates.roster import ROSTER_ID, Roster
from commands.deps import Deps, Outcome
from schemas.employees import (
    AddToRotation,
    ChangeRotation,
    EmployeeRegistered,
    MarkAway,
    MarkBack,
    MonthlyPlanSet,
    PlanTargets,
    ReassignPortfolio,
    RecordEmployeeLeft,
    RegisterEmployee,
    RemoveFromRotation,
    SetMonthlyPlan,
)

# Events that say who holds a lead, need, deal or account: (aggregate class, field naming the holder).
HOLDER_FIELDS = {
    "InterestRegistered": (Lead, "received_by"),
    "LeadAssigned": (Lead, "assignee"),
    "LeadHandedOff": (Lead, "to_employee"),
    "NeedRegistered": (Need, "owner"),
    "NeedOwnerChanged": (Need, "new_owner"),
    "DealOpened": (Deal, "owner"),
    "DealHandedOff": (Deal, "to_employee"),
    "CounterpartyRegistered": (Counterparty, "owner"),
    "AccountOwnerChanged": (Counterparty, "new_owner"),
}


def register_employee(cmd: RegisterEmployee, ctx: Context, deps: Deps) -> Outcome:
    if deps.store.load(Employee, Employee.id_for(cmd.employee_id)) is not None:
        raise ConflictError(f"employee '{cmd.employee_id}' already exists", Employee.id_for(cmd.employee_id))
    details = EmployeeRegistered(**cmd.model_dump(exclude={"occurred_at"}))
    return deps.save(Employee.register(ctx, details))


def record_employee_left(cmd: RecordEmployeeLeft, ctx: Context, deps: Deps) -> Outcome:
    employee = deps.store.get(Employee, Employee.id_for(cmd.employee_id), "employee")
    employee.leave(ctx)
    roster = deps.store.load(Roster, ROSTER_ID) or Roster()
    roster.leave(ctx, cmd.employee_id)
    return deps.save(employee, roster)


def change_rotation(cmd: ChangeRotation, ctx: Context, deps: Deps) -> Outcome:
    if ctx.actor != cmd.employee_id and not ctx.is_head_of_sales:
        raise ForbiddenError("only the head of sales, or the employee themself, may change their rotation status")
    if isinstance(cmd, AddToRotation):
        deps.employee("employee_id", cmd.employee_id)
    roster = deps.store.load(Roster, ROSTER_ID) or Roster()
    action = {
        AddToRotation: roster.join,
        RemoveFromRotation: roster.leave,
        MarkAway: roster.mark_away,
        MarkBack: roster.mark_back,
    }[type(cmd)]
    action(ctx, cmd.employee_id)
    return deps.save(roster)


def set_monthly_plan(cmd: SetMonthlyPlan, ctx: Context, deps: Deps) -> Outcome:
    deps.employee("employee_id", cmd.employee_id)
    plan_id = MonthlyPlan.id_for(cmd.employee_id, cmd.month)
    plan = deps.store.load(MonthlyPlan, plan_id) or MonthlyPlan.blank(plan_id)
    targets = PlanTargets(**cmd.model_dump(include=set(PlanTargets.model_fields)))
    plan.set(ctx, MonthlyPlanSet(employee_id=cmd.employee_id, month=cmd.month, targets=targets))
    return deps.save(plan)


def reassign_portfolio(cmd: ReassignPortfolio, ctx: Context, deps: Deps) -> Outcome:
    """All open leads, needs, deals and accounts of an employee, to one colleague or through the rotation."""
    require_head_of_sales(ctx, "reassign a portfolio")
    leaver = deps.store.get(Employee, Employee.id_for(cmd.employee_id), "employee")
    if cmd.to:
        deps.employee("to", cmd.to)
    roster = deps.store.load(Roster, ROSTER_ID) or Roster()
    reason = f"portfolio of {cmd.employee_id} reassigned"
    changed: list[Aggregate] = []
    for item in held_by(deps, cmd.employee_id):
        to = cmd.to or roster.assign(ctx, item.id)
        if to is None:
            raise ConflictError("nobody is available in the rotation; name a colleague in 'to'")
        hand_over(ctx, item, to, reason)
        changed.append(item)
    return deps.save(leaver, roster, *changed)


def held_by(deps: Deps, employee_id: str) -> list[Aggregate]:
    """Open items currently held by the employee, found by reading the holder events of the log."""
    holders: dict = {}
    for _, event in deps.store.read(topics=list(HOLDER_FIELDS)):
        cls, field = HOLDER_FIELDS[event.type]
        holders[(cls, event.originator_id)] = getattr(event.payload, field)
    items = [deps.store.get(cls, id) for (cls, id), holder in holders.items() if holder == employee_id]
    return [item for item in items if getattr(item, "is_open", True) and holder_of(item) == employee_id]


def holder_of(item: Aggregate) -> str | None:
    return item.holder if isinstance(item, Lead) else item.owner  # type: ignore[attr-defined]


def hand_over(ctx: Context, item: Aggregate, to: str, reason: str) -> None:
    if isinstance(item, Lead | Deal):
        item.hand_off(ctx, to, reason)
    elif isinstance(item, Need):
        item.reassign(ctx, to)
    else:
        item.change_owner(ctx, to, reason)  # type: ignore[attr-defined]
