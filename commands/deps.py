"""What every use case gets: the store, the configured policy, and a few shared lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from aggregates.catalog import CATALOG_ID, Catalog
from aggregates.employee import Employee
from aggregates.errors import InvalidValueError
from aggregates.lookup import Lookup
from aggregates.policy import Policy
from commands.store import A, EventStore


@dataclass(frozen=True)
class Outcome:
    """What a use case answers: the aggregate it was about, that aggregate's version, the position."""

    id: UUID
    version: int
    position: int
    warnings: list[str] = field(default_factory=list)
    report: dict | None = None


@dataclass
class Deps:
    store: EventStore
    policy: Policy

    def save(self, subject, *others) -> Outcome:
        """Save the subject with the other aggregates changed alongside it, in one transaction.

        The subject's events go last, so the answered position is that of the subject's last event.
        """
        position = self.store.save(*others, subject)
        if position is None:  # nothing changed: answer where the subject already stands
            position = self.store.position_of(subject.id, subject.version)
        return Outcome(subject.id, subject.version, position)

    def reference(self, cls: type[A], field_name: str, aggregate_id: UUID) -> A:
        """An aggregate the command refers to (not the one it acts on): unknown is bad input."""
        aggregate = self.store.load(cls, aggregate_id)
        if aggregate is None:
            raise InvalidValueError(field_name, f"unknown {cls.__name__.lower()} {aggregate_id}")
        return aggregate

    def employee(self, field_name: str, employee_id: str) -> Employee:
        """An employee who may hold leads, needs and deals; refuses unknown or departed ones."""
        employee = self.store.load(Employee, Employee.id_for(employee_id))
        if employee is None:
            raise InvalidValueError(field_name, f"unknown employee '{employee_id}'")
        if not employee.can_hold_work:
            state = "has left" if not employee.active else f"is {employee.role}, not a manager"
            raise InvalidValueError(field_name, f"employee '{employee_id}' {state}")
        return employee

    def lookups(self, **values: str | None) -> list[Lookup]:
        """The write-side index entries for these natural keys (new ones where none exist yet)."""
        return [
            self.store.load(Lookup, Lookup.id_for(kind, value)) or Lookup.create(kind, value)
            for kind, value in values.items()
            if value
        ]

    def catalog(self) -> Catalog:
        return self.store.load(Catalog, CATALOG_ID) or Catalog()
