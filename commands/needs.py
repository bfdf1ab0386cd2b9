"""Need use cases: registration with a need number, item changes, duplicate alerts, closing, conversion."""

from __future__ import annotations

from uuid import uuid4
from zoneinfo import ZoneInfo

from aggregates.activities import Meeting
from aggregates.base import Context
from aggregates.counterparty import Counterparty
from aggregates.deal import Deal
from aggregates.errors import ForbiddenError, InvalidValueError
from aggregates.lead import Lead
from aggregates.need import Need
from aggregates.numbering import NeedNumberSeries
from aggregates.policy import require_code
from commands.deps import Deps, Outcome
from schemas.deals import DealOpened, ShipmentItem
from schemas.needs import (
    CancelNeed,
    ChangeNeedItems,
    CloseNeedAsDuplicate,
    ConvertNeedToDeal,
    DismissDuplicateAlert,
    FlagDuplicateWork,
    NeedRegistered,
    RegisterNeed,
)


def register_need(cmd: RegisterNeed, ctx: Context, deps: Deps) -> Outcome:
    deps.catalog().require_products("items", (item.product_id for item in cmd.items))
    deps.reference(Counterparty, "counterparty_id", cmd.counterparty_id)
    owner = cmd.owner or ctx.actor
    if owner != ctx.actor and not ctx.is_head_of_sales:
        raise ForbiddenError("only the head of sales may register a need for another owner")
    deps.employee("owner", owner)
    lead = deps.reference(Lead, "lead_id", cmd.lead_id) if cmd.lead_id else None
    meeting = deps.reference(Meeting, "meeting_id", cmd.meeting_id) if cmd.meeting_id else None
    need_id = uuid4()
    year = ctx.at.astimezone(ZoneInfo(deps.policy.business_timezone)).year
    series = deps.store.load(NeedNumberSeries, NeedNumberSeries.id_for(year)) or NeedNumberSeries.start(year)
    details = NeedRegistered(
        number=series.issue(ctx, need_id),
        owner=owner,
        channel=lead.channel if lead else "existing_client",
        meeting_held_by=meeting.held_by if meeting else None,
        **cmd.model_dump(include={"counterparty_id", "end_customer", "lead_id", "meeting_id", "items", "comment"}),
    )
    return deps.save(Need.register(ctx, need_id, details), series)


def change_need_items(cmd: ChangeNeedItems, ctx: Context, deps: Deps) -> Outcome:
    deps.catalog().require_products("items", (item.product_id for item in cmd.items))
    need = deps.store.get(Need, cmd.need_id)
    need.change_items(ctx, cmd.items)
    return deps.save(need)


def close_need_as_duplicate(cmd: CloseNeedAsDuplicate, ctx: Context, deps: Deps) -> Outcome:
    if deps.store.load(Need, cmd.duplicate_of) is None and deps.store.load(Deal, cmd.duplicate_of) is None:
        raise InvalidValueError("duplicate_of", f"no need or deal {cmd.duplicate_of}")
    need = deps.store.get(Need, cmd.need_id)
    need.close_as_duplicate(ctx, cmd.duplicate_of, cmd.comment)
    return deps.save(need)


def cancel_need(cmd: CancelNeed, ctx: Context, deps: Deps) -> Outcome:
    require_code("reason", cmd.reason, deps.policy.need_cancel_reasons)
    need = deps.store.get(Need, cmd.need_id)
    need.cancel(ctx, cmd.reason, cmd.comment)
    return deps.save(need)


def dismiss_duplicate_alert(cmd: DismissDuplicateAlert, ctx: Context, deps: Deps) -> Outcome:
    need = deps.store.get(Need, cmd.need_id)
    need.dismiss_alert(ctx, cmd.alert_id, cmd.comment)
    return deps.save(need)


def flag_duplicate_work(cmd: FlagDuplicateWork, ctx: Context, deps: Deps) -> Outcome:
    need = deps.store.get(Need, cmd.need_id)
    need.flag_duplicate(ctx, cmd)
    return deps.save(need)


def convert_need_to_deal(cmd: ConvertNeedToDeal, ctx: Context, deps: Deps) -> Outcome:
    need = deps.store.get(Need, cmd.need_id)
    deal_id = Deal.id_for(need.id)
    need.convert(ctx, deal_id, cmd.override_duplicate_alert)
    registered = need.registered
    deal = Deal.open(
        ctx,
        DealOpened(
            number=need.number,
            need_id=need.id,
            owner=need.owner,
            payment_terms=cmd.payment_terms,
            items=[ShipmentItem(product_id=i.product_id, quantity=i.quantity) for i in need.items],
            **registered.model_dump(include={"lead_id", "meeting_id", "meeting_held_by", "channel", "counterparty_id"}),
        ),
    )
    return deps.save(deal, need)
