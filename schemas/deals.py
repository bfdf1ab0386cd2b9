"""Deals: from a need through the stages to won or lost, with payments, shipments, follow-ups."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field, field_validator

from schemas.base import (
    Code,
    Command,
    Comment,
    EmployeeId,
    EventPayload,
    LongText,
    Model,
    Money,
    PositiveMoney,
    Quantity,
    ShortText,
)
from schemas.needs import PaymentTerms


class DealStage(StrEnum):
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    DOCUMENTS = "documents"
    PAID = "paid"
    FULFILMENT = "fulfilment"
    SHIPPED = "shipped"
    CLOSING_DOCUMENTS = "closing_documents"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = (
    DealStage.PROPOSAL,
    DealStage.NEGOTIATION,
    DealStage.DOCUMENTS,
    DealStage.PAID,
    DealStage.FULFILMENT,
    DealStage.SHIPPED,
    DealStage.CLOSING_DOCUMENTS,
)


class FulfilmentMode(StrEnum):
    OWN_STOCK = "own_stock"
    SUPPLIER_ORDER = "supplier_order"


class FollowUpKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"


class ProposalLine(Model):
    product_id: UUID
    quantity: Quantity
    unit_price: Money


class ShipmentItem(Model):
    product_id: UUID
    quantity: Quantity


def _distinct(items: list) -> list:
    ids = [item.product_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("each product may appear once")
    return items


# --- commands ---


class DealCommand(Command):
    deal_id: UUID


class IssueProposal(DealCommand):
    lines: list[ProposalLine] = Field(min_length=1, max_length=500)

    _distinct = field_validator("lines")(_distinct)


class StartNegotiation(DealCommand):
    pass


class SendDocuments(DealCommand):
    invoice_number: ShortText
    contract_number: ShortText


class SignContract(DealCommand):
    signed_on: date


class RecordPayment(DealCommand):
    amount: PositiveMoney
    paid_on: date
    reference: ShortText | None = None


class StartFulfilment(DealCommand):
    mode: FulfilmentMode
    supplier_order_ref: ShortText | None = None


class RecordShipment(DealCommand):
    items: list[ShipmentItem] = Field(min_length=1)
    shipped_on: date
    waybill: ShortText | None = None

    _distinct = field_validator("items")(_distinct)


class ReceiveClosingDocuments(DealCommand):
    pass


class WinDeal(DealCommand):
    pass


class LoseDeal(DealCommand):
    reason: Code
    comment: Comment | None = None


class ReopenDeal(DealCommand):
    comment: Comment


class HandOffDeal(DealCommand):
    to: EmployeeId
    reason: Comment


class ScheduleFollowUp(DealCommand):
    kind: FollowUpKind
    due_at: AwareDatetime
    assignee: EmployeeId | None = Field(default=None, description="Defaults to the deal's owner")
    note: LongText = ""


class CompleteFollowUp(DealCommand):
    follow_up_id: UUID
    outcome: LongText = ""


class CancelFollowUp(DealCommand):
    follow_up_id: UUID
    comment: Comment


class FlagOverdueFollowUp(DealCommand):
    """Recorded by the scheduler when a follow-up passes its due time."""

    follow_up_id: UUID


class FlagDealWithoutFollowUp(DealCommand):
    """Recorded by the scheduler when an open deal has had no next follow-up past the grace period."""


# --- events ---


class DealOpened(EventPayload):
    number: str
    need_id: UUID
    lead_id: UUID | None
    meeting_id: UUID | None
    meeting_held_by: EmployeeId | None
    channel: Code
    counterparty_id: UUID
    owner: EmployeeId
    payment_terms: PaymentTerms
    items: list[ShipmentItem]


class ProposalIssued(EventPayload):
    lines: list[ProposalLine]
    total: Money


class DealStageChanged(EventPayload):
    from_stage: DealStage
    to_stage: DealStage


class DocumentsSent(EventPayload):
    invoice_number: ShortText
    contract_number: ShortText


class ContractSigned(EventPayload):
    signed_on: date


class PaymentReceived(EventPayload):
    amount: PositiveMoney
    paid_on: date
    reference: ShortText | None
    total_paid: Money


class FulfilmentStarted(EventPayload):
    mode: FulfilmentMode
    supplier_order_ref: ShortText | None


class ShipmentDispatched(EventPayload):
    batch: int
    items: list[ShipmentItem]
    shipped_on: date
    waybill: ShortText | None


class ClosingDocumentsReceived(EventPayload):
    pass


class DealWon(EventPayload):
    revenue: Money


class DealLost(EventPayload):
    from_stage: DealStage
    reason: Code
    comment: Comment | None


class DealReopened(EventPayload):
    to_stage: DealStage
    comment: Comment


class DealHandedOff(EventPayload):
    from_employee: EmployeeId
    to_employee: EmployeeId
    by: EmployeeId
    reason: Comment


class FollowUpScheduled(EventPayload):
    follow_up_id: UUID
    kind: FollowUpKind
    due_at: AwareDatetime
    assignee: EmployeeId
    note: LongText


class FollowUpCompleted(EventPayload):
    follow_up_id: UUID
    outcome: LongText


class FollowUpCancelled(EventPayload):
    follow_up_id: UUID
    comment: Comment


class FollowUpBecameOverdue(EventPayload):
    follow_up_id: UUID
    assignee: EmployeeId
    due_at: AwareDatetime


class DealLeftWithoutFollowUp(EventPayload):
    owner: EmployeeId
