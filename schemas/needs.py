"""Needs (Потребность): what a client needs, kept even if nothing is ever shipped."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import Field, field_validator

from schemas.base import (
    Code,
    Command,
    Comment,
    EmployeeId,
    EventPayload,
    Model,
    Period,
    Quantity,
    ShortText,
)


class NeedStatus(StrEnum):
    OPEN = "open"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"
    CONVERTED = "converted"


class MatchKind(StrEnum):
    EXACT = "exact"
    SIMILAR = "similar"


class PaymentTerms(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class NeedItem(Model):
    product_id: UUID
    quantity: Quantity
    period: Period


def _distinct_products(items: list[NeedItem]) -> list[NeedItem]:
    ids = [item.product_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("each product may appear once")
    return items


class NeedItems(Model):
    items: list[NeedItem] = Field(min_length=1, max_length=500)

    _distinct = field_validator("items")(_distinct_products)


class EndCustomer(Model):
    """The buyer behind a dealer."""

    name: ShortText
    inn: str | None = Field(default=None, pattern=r"^\d{10}(\d{2})?$")


# --- commands ---


class RegisterNeed(Command, NeedItems):
    counterparty_id: UUID
    end_customer: EndCustomer | None = None
    lead_id: UUID | None = Field(default=None, description="Omit for an existing client's need")
    meeting_id: UUID | None = None
    owner: EmployeeId | None = Field(default=None, description="Defaults to the caller")
    comment: Comment | None = None


class ChangeNeedItems(Command, NeedItems):
    need_id: UUID


class CloseNeedAsDuplicate(Command):
    need_id: UUID
    duplicate_of: UUID = Field(description="The need or deal this one repeats")
    comment: Comment


class CancelNeed(Command):
    need_id: UUID
    reason: Code
    comment: Comment


class DismissDuplicateAlert(Command):
    need_id: UUID
    alert_id: UUID
    comment: Comment


class FlagDuplicateWork(Command):
    """Recorded by the duplicate-work check (a process manager)."""

    need_id: UUID
    saved_by: EmployeeId = Field(description="Who saved the need with this product set")
    other_id: UUID
    other_kind: str = Field(pattern="^(need|deal)$")
    other_number: str
    other_owner: EmployeeId | None
    match: MatchKind
    similarity: float = Field(ge=0, le=1)
    overlap: list[UUID]


class ConvertNeedToDeal(Command):
    need_id: UUID
    payment_terms: PaymentTerms = PaymentTerms.PREPAID
    override_duplicate_alert: bool = Field(
        default=False, description="Head of sales only: convert despite an unresolved duplicate alert"
    )


# --- events ---


class NeedNumberIssued(EventPayload):
    number: str
    need_id: UUID


class NeedRegistered(EventPayload):
    number: str
    counterparty_id: UUID
    end_customer: EndCustomer | None
    owner: EmployeeId
    lead_id: UUID | None
    channel: Code
    meeting_id: UUID | None
    meeting_held_by: EmployeeId | None
    items: list[NeedItem]
    comment: Comment | None


class NeedItemsChanged(EventPayload):
    items: list[NeedItem]


class NeedClosedAsDuplicate(EventPayload):
    duplicate_of: UUID
    comment: Comment


class NeedCancelled(EventPayload):
    reason: Code
    comment: Comment


class NeedConverted(EventPayload):
    deal_id: UUID
    alert_overridden: bool


class NeedOwnerChanged(EventPayload):
    previous_owner: EmployeeId
    new_owner: EmployeeId
    by: EmployeeId


class DuplicateWorkFlagged(EventPayload):
    alert_id: UUID
    other_id: UUID
    other_kind: str
    other_number: str
    other_owner: EmployeeId | None
    saved_by: EmployeeId
    match: MatchKind
    similarity: Decimal
    overlap: list[UUID]


class DuplicateAlertDismissed(EventPayload):
    alert_id: UUID
    by: EmployeeId
    comment: Comment
