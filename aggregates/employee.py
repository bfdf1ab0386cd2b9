"""Employees and their monthly plans."""

from __future__ import annotations

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.errors import ConflictError, ForbiddenError
from schemas.employees import (
    EmployeeLeft,
    EmployeeRegistered,
    MonthlyPlanSet,
    PlanTargets,
    Role,
    SalesProfile,
)


def require_head_of_sales(ctx: Context, action: str) -> None:
    if not ctx.is_head_of_sales:
        raise ForbiddenError(f"only the head of sales may {action}")


class Employee(Aggregate):
    employee_id: str
    role: Role
    sales_profile: SalesProfile | None
    active: bool

    @staticmethod
    def id_for(employee_id: str):
        return stable_id("employee", employee_id)

    @classmethod
    def register(cls, ctx: Context, details: EmployeeRegistered) -> Employee:
        require_head_of_sales(ctx, "register employees")
        employee = cls.blank(cls.id_for(details.employee_id))
        employee._record(ctx, details)
        return employee

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    @property
    def can_hold_work(self) -> bool:
        """Leads, needs and deals go to active managers and heads of sales only."""
        return self.active and self.role in (Role.MANAGER, Role.HEAD_OF_SALES)

    def leave(self, ctx: Context) -> None:
        require_head_of_sales(ctx, "record a departure")
        if not self.active:
            raise ConflictError(f"employee {self.employee_id} has already left")
        self._record(ctx, EmployeeLeft(employee_id=self.employee_id))

    @on(EmployeeRegistered)
    def _employee_registered(self, e: EmployeeRegistered) -> None:
        self.employee_id, self.role, self.sales_profile = e.employee_id, e.role, e.sales_profile
        self.active = True

    @on(EmployeeLeft)
    def _employee_left(self, e: EmployeeLeft) -> None:
        self.active = False


class MonthlyPlan(Aggregate):
    """Targets of one employee for one month; setting it again revises it."""

    targets: PlanTargets

    @staticmethod
    def id_for(employee_id: str, month: str):
        return stable_id("plan", f"{employee_id}:{month}")

    def set(self, ctx: Context, plan: MonthlyPlanSet) -> None:
        require_head_of_sales(ctx, "set plans")
        self._record(ctx, plan)

    @on(MonthlyPlanSet)
    def _monthly_plan_set(self, e: MonthlyPlanSet) -> None:
        self.targets = e.targets
