"""Employees, the distribution roster and monthly plans."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import Field, NonNegativeInt, model_validator

from schemas.base import (
    Command,
    EmployeeId,
    EventPayload,
    Model,
    Money,
    Month,
    PersonalEmail,
    PersonalName,
)


class Role(StrEnum):
    MANAGER = "manager"
    HEAD_OF_SALES = "head_of_sales"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    OPS = "ops"
    INTEGRATION = "integration"


class SalesProfile(StrEnum):
    GENERATOR = "generator"
    CONVERTER = "converter"
    FARMER = "farmer"
    UNIVERSAL = "universal"


# --- commands ---


class RegisterEmployee(Command):
    employee_id: EmployeeId
    name: PersonalName
    role: Role
    sales_profile: SalesProfile | None = Field(default=None, description="Required for managers")
    email: PersonalEmail | None = None

    @model_validator(mode="after")
    def _profile_for_managers(self) -> RegisterEmployee:
        if self.role is Role.MANAGER and self.sales_profile is None:
            raise ValueError("sales_profile is required for a manager")
        if self.role is not Role.MANAGER and self.sales_profile is not None:
            raise ValueError("sales_profile is only for managers")
        return self


class RecordEmployeeLeft(Command):
    employee_id: EmployeeId


class ReassignPortfolio(Command):
    """Hand all open leads, needs and deals of a departing employee to one person or the rotation."""

    employee_id: EmployeeId
    to: EmployeeId | None = Field(default=None, description="Omit to distribute through the rotation")


class ChangeRotation(Command):
    employee_id: EmployeeId


class AddToRotation(ChangeRotation):
    pass


class RemoveFromRotation(ChangeRotation):
    pass


class MarkAway(ChangeRotation):
    """The employee is away (vacation, sick leave): the rotation skips them."""


class MarkBack(ChangeRotation):
    pass


class SetMonthlyPlan(Command):
    employee_id: EmployeeId
    month: Month
    revenue: Money = Decimal(0)
    deals_won: NonNegativeInt = 0
    calls_per_day: NonNegativeInt = 0
    meetings_held: NonNegativeInt = 0
    new_clients: NonNegativeInt = 0


# --- events ---


class EmployeeRegistered(EventPayload):
    employee_id: EmployeeId
    name: PersonalName
    role: Role
    sales_profile: SalesProfile | None
    email: PersonalEmail | None


class EmployeeLeft(EventPayload):
    employee_id: EmployeeId


class JoinedRotation(EventPayload):
    employee_id: EmployeeId


class LeftRotation(EventPayload):
    employee_id: EmployeeId


class MarkedAway(EventPayload):
    employee_id: EmployeeId


class MarkedBack(EventPayload):
    employee_id: EmployeeId


class RotationAdvanced(EventPayload):
    """One rotation slot was used: the lead (or a departing colleague's need or deal) went to this employee."""

    subject_id: UUID
    assignee: EmployeeId


class PlanTargets(Model):
    revenue: Money
    deals_won: NonNegativeInt
    calls_per_day: NonNegativeInt
    meetings_held: NonNegativeInt
    new_clients: NonNegativeInt


class MonthlyPlanSet(EventPayload):
    employee_id: EmployeeId
    month: Month
    targets: PlanTargets
