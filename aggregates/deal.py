"""The deal: a state machine from proposal to won or lost, with payments, shipments and follow-ups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from aggregates.base import HEAD_OF_SALES, Aggregate, Context, on, stable_id
from aggregates.employee import require_head_of_sales
from aggregates.errors import ConflictError, ForbiddenError, InvalidTransitionError, InvalidValueError
from schemas.deals import (
    OPEN_STAGES,
    ClosingDocumentsReceived,
    ContractSigned,
    DealHandedOff,
    DealLeftWithoutFollowUp,
    DealLost,
    DealOpened,
    DealReopened,
    DealStage as S,
    DealStageChanged,
    DealWon,
    DocumentsSent,
    FollowUpBecameOverdue,
    FollowUpCancelled,
    FollowUpCompleted,
    FollowUpKind,
    FollowUpScheduled,
    FulfilmentMode,
    FulfilmentStarted,
    PaymentReceived,
    ProposalIssued,
    ProposalLine,
    ShipmentDispatched,
    ShipmentItem,
)
from schemas.needs import PaymentTerms
from schemas.notifications import NotificationKind as N

AFTER_DOCUMENTS = (S.DOCUMENTS, S.PAID, S.FULFILMENT, S.SHIPPED, S.CLOSING_DOCUMENTS)


class Deal(Aggregate):
    number: str
    owner: str
    stage: S
    opened: DealOpened
    payment_terms: PaymentTerms
    lines: list[ProposalLine]
    total: Decimal
    paid: Decimal
    contract_signed: bool
    shipped: dict[UUID, Decimal]
    batches: int
    follow_ups: dict[UUID, FollowUpScheduled]
    overdue_flagged: set[UUID]
    flagged_without_follow_up: bool
    lost_from: S | None

    @staticmethod
    def id_for(need_id: UUID) -> UUID:
        return stable_id("deal", str(need_id))

    @classmethod
    def open(cls, ctx: Context, details: DealOpened) -> Deal:
        deal = cls.blank(cls.id_for(details.need_id))
        deal._record(ctx, details)
        return deal

    # --- derived facts ---

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid

    @property
    def paid_in_full(self) -> bool:
        return bool(self.lines) and self.paid >= self.total

    @property
    def product_ids(self) -> frozenset[UUID]:
        source = self.lines or self.opened.items
        return frozenset(line.product_id for line in source)

    def allowed_actions(self) -> list[str]:
        s, actions = self.stage, []
        if s in (S.PROPOSAL, S.NEGOTIATION):
            actions.append("issue proposal")
            if self.lines:
                actions.append("send documents")
        if s is S.PROPOSAL and self.lines:
            actions.append("start negotiation")
        if s in AFTER_DOCUMENTS:
            actions += ["sign contract"] * (not self.contract_signed) + ["record payment"] * (self.outstanding > 0)
        if self._fulfilment_may_start():
            actions.append("start fulfilment")
        if s is S.FULFILMENT:
            actions.append("record shipment")
        if s is S.SHIPPED:
            actions.append("receive closing documents")
        if s is S.CLOSING_DOCUMENTS and self.paid_in_full and self.contract_signed:
            actions.append("win")
        if self.is_open:
            actions += ["lose", "hand off", "schedule follow-up"]
        if s is S.LOST:
            actions.append("reopen")
        return actions

    def _fulfilment_may_start(self) -> bool:
        if self.payment_terms is PaymentTerms.PREPAID:
            return self.stage is S.PAID
        return self.stage in (S.DOCUMENTS, S.PAID) and self.contract_signed

    # --- stages ---

    def issue_proposal(self, ctx: Context, lines: list[ProposalLine]) -> None:
        self._require(ctx, "issue proposal")
        total = sum((line.quantity * line.unit_price for line in lines), Decimal(0)).quantize(Decimal("0.01"))
        self._record(ctx, ProposalIssued(lines=lines, total=total))

    def start_negotiation(self, ctx: Context) -> None:
        self._require(ctx, "start negotiation", "a proposal must be issued first")
        self._move(ctx, S.NEGOTIATION)

    def send_documents(self, ctx: Context, invoice_number: str, contract_number: str) -> None:
        self._require(ctx, "send documents", "a proposal must be issued first")
        self._record(ctx, DocumentsSent(invoice_number=invoice_number, contract_number=contract_number))
        self._move(ctx, S.DOCUMENTS)

    def sign_contract(self, ctx: Context, signed_on: date) -> None:
        self._require(ctx, "sign contract", "the contract is signed once, after documents are sent")
        self._record(ctx, ContractSigned(signed_on=signed_on))

    def record_payment(self, ctx: Context, amount: Decimal, paid_on: date, reference: str | None) -> None:
        self._require(ctx, "record payment", "payments are accepted from the documents stage until paid in full")
        if amount > self.outstanding:
            raise InvalidValueError("amount", f"{amount} exceeds the outstanding {self.outstanding}")
        total_paid = self.paid + amount
        self._record(ctx, PaymentReceived(amount=amount, paid_on=paid_on, reference=reference, total_paid=total_paid))
        if self.stage is S.DOCUMENTS and self.paid_in_full:
            self._move(ctx, S.PAID)

    def start_fulfilment(self, ctx: Context, mode: FulfilmentMode, supplier_order_ref: str | None) -> None:
        why = (
            f"a prepaid deal starts fulfilment after payment in full (paid {self.paid} of {self.total})"
            if self.payment_terms is PaymentTerms.PREPAID
            else "a postpaid deal starts fulfilment once the contract is signed"
        )
        self._require(ctx, "start fulfilment", why)
        self._record(ctx, FulfilmentStarted(mode=mode, supplier_order_ref=supplier_order_ref))
        self._move(ctx, S.FULFILMENT)

    def record_shipment(self, ctx: Context, items: list[ShipmentItem], shipped_on: date, waybill: str | None) -> None:
        self._require(ctx, "record shipment")
        remaining = self.remaining_to_ship()
        for item in items:
            left = remaining.get(item.product_id)
            if left is None:
                raise InvalidValueError("items", f"product {item.product_id} is not in the deal")
            if item.quantity > left:
                raise InvalidValueError("items", f"product {item.product_id}: {item.quantity} exceeds the {left} left")
        self._record(ctx, ShipmentDispatched(batch=self.batches + 1, items=items, shipped_on=shipped_on, waybill=waybill))
        if not any(self.remaining_to_ship().values()):
            self._move(ctx, S.SHIPPED)

    def remaining_to_ship(self) -> dict[UUID, Decimal]:
        return {line.product_id: line.quantity - self.shipped.get(line.product_id, 0) for line in self.lines}

    def receive_closing_documents(self, ctx: Context) -> None:
        self._require(ctx, "receive closing documents")
        self._record(ctx, ClosingDocumentsReceived())
        self._move(ctx, S.CLOSING_DOCUMENTS)

    def win(self, ctx: Context) -> None:
        self._require(ctx, "win", f"won needs a signed contract and payment in full (paid {self.paid} of {self.total})")
        self._record(ctx, DealWon(revenue=self.paid))

    def lose(self, ctx: Context, reason: str, comment: str | None) -> None:
        self._require(ctx, "lose")
        self._record(ctx, DealLost(from_stage=self.stage, reason=reason, comment=comment))
        self._notify(ctx, N.DEAL_LOST, [HEAD_OF_SALES], f"Deal {self.number} lost at {self.lost_from}: {reason}")

    def reopen(self, ctx: Context, comment: str) -> None:
        require_head_of_sales(ctx, "reopen a deal")
        self._require(ctx, "reopen")
        self._record(ctx, DealReopened(to_stage=self.lost_from, comment=comment))

    def hand_off(self, ctx: Context, to: str, reason: str) -> None:
        self._require(ctx, "hand off")
        if to == self.owner:
            raise ConflictError(f"the deal is already owned by {to}")
        self._record(ctx, DealHandedOff(from_employee=self.owner, to_employee=to, by=ctx.actor, reason=reason))

    # --- follow-up control ---

    def schedule_follow_up(self, ctx: Context, kind: FollowUpKind, due_at: datetime, assignee: str | None,
                           note: str) -> UUID:  # fmt: skip
        self._require(ctx, "schedule follow-up")
        follow_up_id = stable_id("follow-up", f"{self.id}:{self.version + 1}")
        self._record(
            ctx,
            FollowUpScheduled(
                follow_up_id=follow_up_id, kind=kind, due_at=due_at, assignee=assignee or self.owner, note=note
            ),
        )
        return follow_up_id

    def complete_follow_up(self, ctx: Context, follow_up_id: UUID, outcome: str) -> None:
        self._require_follow_up(ctx, follow_up_id)
        self._record(ctx, FollowUpCompleted(follow_up_id=follow_up_id, outcome=outcome))

    def cancel_follow_up(self, ctx: Context, follow_up_id: UUID, comment: str) -> None:
        self._require_follow_up(ctx, follow_up_id)
        self._record(ctx, FollowUpCancelled(follow_up_id=follow_up_id, comment=comment))

    def flag_overdue_follow_up(self, ctx: Context, follow_up_id: UUID) -> bool:
        follow_up = self.follow_ups.get(follow_up_id)
        if not self.is_open or follow_up is None or follow_up_id in self.overdue_flagged:
            return False
        if follow_up.due_at > ctx.at:
            raise ConflictError(f"follow-up {follow_up_id} is due at {follow_up.due_at.isoformat()}, not yet overdue")
        self._record(
            ctx, FollowUpBecameOverdue(follow_up_id=follow_up_id, assignee=follow_up.assignee, due_at=follow_up.due_at)
        )
        self._notify(
            ctx,
            N.FOLLOW_UP_OVERDUE,
            [follow_up.assignee, self.owner, HEAD_OF_SALES],
            f"Deal {self.number}: {follow_up.kind} due {follow_up.due_at:%Y-%m-%d %H:%M} is overdue",
        )
        return True

    def flag_without_follow_up(self, ctx: Context) -> bool:
        """An overdue follow-up is no longer a next step: only ones still ahead count."""
        ahead = set(self.follow_ups) - self.overdue_flagged
        if not self.is_open or ahead or self.flagged_without_follow_up:
            return False
        self._record(ctx, DealLeftWithoutFollowUp(owner=self.owner))
        self._notify(
            ctx, N.DEAL_WITHOUT_FOLLOW_UP, [self.owner, HEAD_OF_SALES], f"Deal {self.number} has no next follow-up"
        )
        return True

    # --- helpers ---

    def _require(self, ctx: Context, action: str, why: str = "") -> None:
        if action not in self.allowed_actions():
            raise InvalidTransitionError(action, self.stage, self.allowed_actions(), why)
        if ctx.actor != self.owner and not ctx.is_head_of_sales and not ctx.actor.startswith("system:"):
            raise ForbiddenError(f"only the deal's owner or the head of sales may {action}")

    def _require_follow_up(self, ctx: Context, follow_up_id: UUID) -> None:
        if follow_up_id not in self.follow_ups:
            raise ConflictError(f"follow-up {follow_up_id} is not open on deal {self.number}")
        self._require(ctx, "schedule follow-up")

    def _move(self, ctx: Context, to: S) -> None:
        self._record(ctx, DealStageChanged(from_stage=self.stage, to_stage=to))

    # --- state ---

    @on(DealOpened)
    def _opened(self, e: DealOpened) -> None:
        self.opened, self.number, self.owner, self.payment_terms = e, e.number, e.owner, e.payment_terms
        self.stage, self.lines, self.total, self.paid = S.PROPOSAL, [], Decimal(0), Decimal(0)
        self.contract_signed, self.shipped, self.batches = False, {}, 0
        self.follow_ups, self.overdue_flagged, self.flagged_without_follow_up = {}, set(), False
        self.lost_from = None

    @on(ProposalIssued)
    def _proposal(self, e: ProposalIssued) -> None:
        self.lines, self.total = e.lines, e.total

    @on(DealStageChanged)
    def _stage_changed(self, e: DealStageChanged) -> None:
        self.stage = e.to_stage

    @on(DocumentsSent)
    def _documents(self, e: DocumentsSent) -> None:
        pass

    @on(ContractSigned)
    def _signed(self, e: ContractSigned) -> None:
        self.contract_signed = True

    @on(PaymentReceived)
    def _paid(self, e: PaymentReceived) -> None:
        self.paid = e.total_paid

    @on(FulfilmentStarted)
    def _fulfilment(self, e: FulfilmentStarted) -> None:
        pass

    @on(ShipmentDispatched)
    def _shipped(self, e: ShipmentDispatched) -> None:
        self.batches = e.batch
        for item in e.items:
            self.shipped[item.product_id] = self.shipped.get(item.product_id, 0) + item.quantity

    @on(ClosingDocumentsReceived)
    def _closing(self, e: ClosingDocumentsReceived) -> None:
        pass

    @on(DealWon)
    def _won(self, e: DealWon) -> None:
        self.stage = S.WON

    @on(DealLost)
    def _lost(self, e: DealLost) -> None:
        self.lost_from, self.stage = e.from_stage, S.LOST

    @on(DealReopened)
    def _reopened(self, e: DealReopened) -> None:
        self.stage, self.lost_from = e.to_stage, None

    @on(DealHandedOff)
    def _handed_off(self, e: DealHandedOff) -> None:
        self.owner = e.to_employee

    @on(FollowUpScheduled)
    def _follow_up(self, e: FollowUpScheduled) -> None:
        self.follow_ups[e.follow_up_id] = e
        self.flagged_without_follow_up = False

    @on(FollowUpCompleted)
    def _follow_up_done(self, e: FollowUpCompleted) -> None:
        self.follow_ups.pop(e.follow_up_id)

    @on(FollowUpCancelled)
    def _follow_up_cancelled(self, e: FollowUpCancelled) -> None:
        self.follow_ups.pop(e.follow_up_id)

    @on(FollowUpBecameOverdue)
    def _overdue(self, e: FollowUpBecameOverdue) -> None:
        self.overdue_flagged.add(e.follow_up_id)

    @on(DealLeftWithoutFollowUp)
    def _without_follow_up(self, e: DealLeftWithoutFollowUp) -> None:
        self.flagged_without_follow_up = True
