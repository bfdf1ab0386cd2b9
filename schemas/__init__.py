"""The event contract and command inputs. Importing this package registers every event type."""

from schemas import activities, catalog, counterparties, deals, employees, leads, needs, notifications
from schemas.base import EVENT_TYPES

__all__ = [
    "EVENT_TYPES",
    "activities",
    "catalog",
    "counterparties",
    "deals",
    "employees",
    "leads",
    "needs",
    "notifications",
]
