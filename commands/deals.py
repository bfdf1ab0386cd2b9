"""Deal use cases. Most are load the deal -> one method -> save; the table below says which method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregates.activities import Survey
from aggregates.base import Context
from aggregates.counterparty import Counterparty
from aggregates.deal import Deal
from aggregates.policy import require_code
from commands.deps import Deps, Outcome
from schemas.deals import (
    CancelFollowUp,
    CompleteFollowUp,
    DealCommand,
    FlagDealWithoutFollowUp,
    FlagOverdueFollowUp,
    HandOffDeal,
    IssueProposal,
    LoseDeal,
    ReceiveClosingDocuments,
    RecordPayment,
    RecordShipment,
    ReopenDeal,
    ScheduleFollowUp,
    SendDocuments,
    SignContract,
    StartFulfilment,
    StartNegotiation,
    WinDeal,
)
from schemas.notifications import SurveyKind

DEAL_ACTIONS: dict[type[DealCommand], Callable[[Deal, Context, Any], object]] = {
    StartNegotiation: lambda d, ctx, c: d.start_negotiation(ctx),
    SendDocuments: lambda d, ctx, c: d.send_documents(ctx, c.invoice_number, c.contract_number),
    SignContract: lambda d, ctx, c: d.sign_contract(ctx, c.signed_on),
    RecordPayment: lambda d, ctx, c: d.record_payment(ctx, c.amount, c.paid_on, c.reference),
    StartFulfilment: lambda d, ctx, c: d.start_fulfilment(ctx, c.mode, c.supplier_order_ref),
    RecordShipment: lambda d, ctx, c: d.record_shipment(ctx, c.items, c.shipped_on, c.waybill),
    ReceiveClosingDocuments: lambda d, ctx, c: d.receive_closing_documents(ctx),
    ReopenDeal: lambda d, ctx, c: d.reopen(ctx, c.comment),
    ScheduleFollowUp: lambda d, ctx, c: d.schedule_follow_up(ctx, c.kind, c.due_at, c.assignee, c.note),
    CompleteFollowUp: lambda d, ctx, c: d.complete_follow_up(ctx, c.follow_up_id, c.outcome),
    CancelFollowUp: lambda d, ctx, c: d.cancel_follow_up(ctx, c.follow_up_id, c.comment),
    FlagOverdueFollowUp: lambda d, ctx, c: d.flag_overdue_follow_up(ctx, c.follow_up_id),
    FlagDealWithoutFollowUp: lambda d, ctx, c: d.flag_without_follow_up(ctx),
}


def act_on_deal(cmd: DealCommand, ctx: Context, deps: Deps) -> Outcome:
    deal = deps.store.get(Deal, cmd.deal_id)
    DEAL_ACTIONS[type(cmd)](deal, ctx, cmd)
    return deps.save(deal)


def issue_proposal(cmd: IssueProposal, ctx: Context, deps: Deps) -> Outcome:
    deps.catalog().require_products("lines", (line.product_id for line in cmd.lines))
    deal = deps.store.get(Deal, cmd.deal_id)
    deal.issue_proposal(ctx, cmd.lines)
    return deps.save(deal)


def hand_off_deal(cmd: HandOffDeal, ctx: Context, deps: Deps) -> Outcome:
    deps.employee("to", cmd.to)
    deal = deps.store.get(Deal, cmd.deal_id)
    deal.hand_off(ctx, cmd.to, cmd.reason)
    return deps.save(deal)


def win_deal(cmd: WinDeal, ctx: Context, deps: Deps) -> Outcome:
    deal = deps.store.get(Deal, cmd.deal_id)
    deal.win(ctx)
    return deps.save(deal, *client_survey(ctx, deps, deal, SurveyKind.QUALITY))


def lose_deal(cmd: LoseDeal, ctx: Context, deps: Deps) -> Outcome:
    require_code("reason", cmd.reason, deps.policy.deal_loss_reasons)
    deal = deps.store.get(Deal, cmd.deal_id)
    deal.lose(ctx, cmd.reason, cmd.comment)
    return deps.save(deal, *client_survey(ctx, deps, deal, SurveyKind.FAREWELL))


def client_survey(ctx: Context, deps: Deps, deal: Deal, kind: SurveyKind) -> list[Survey]:
    """A survey to the counterparty's first contact with an e-mail, if there is one."""
    counterparty = deps.store.get(Counterparty, deal.opened.counterparty_id)
    emails = [c.email for c in counterparty.contacts.values() if c.email]
    return [Survey.request(ctx, deal, kind, emails[0])] if emails else []
