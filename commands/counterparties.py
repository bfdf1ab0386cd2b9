"""Counterparty use cases: registration without duplicates, contacts, account ownership."""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Context
from aggregates.counterparty import Counterparty, normalise_name
from aggregates.errors import ConflictError
from aggregates.lookup import Lookup
from commands.deps import Deps, Outcome
from schemas.counterparties import (
    AddContact,
    ChangeAccountOwner,
    CounterpartyRegistered,
    LinkCounterpartyTo1C,
    NewCounterparty,
    RegisterCounterparty,
)


def new_counterparty(
    ctx: Context, deps: Deps, details: NewCounterparty, owner: str | None, lead_id: UUID | None = None
) -> tuple[Counterparty, list[Lookup], list[str]]:
    """A counterparty not yet saved, its lookups, and duplicate-name warnings.

    The id derives from INN + KPP, so a racing second registration fails on save.
    """
    existing_id = Counterparty.id_for(details.inn, details.kpp)
    if deps.store.load(Counterparty, existing_id) is not None:
        raise ConflictError(
            f"a counterparty with INN {details.inn} and KPP {details.kpp or '-'} already exists", existing_id
        )
    if owner is not None:
        deps.employee("owner", owner)
    counterparty = Counterparty.register(
        ctx, CounterpartyRegistered(owner=owner, lead_id=lead_id, **details.model_dump())
    )
    by_name = deps.lookups(name=normalise_name(details.name))
    warnings = [f"possible duplicate: counterparty {other} has a similar name" for n in by_name for other in n.counterparties]
    lookups = [*by_name, *deps.lookups(inn=details.inn)]
    for lookup in lookups:
        lookup.add(ctx, "counterparty", counterparty.id)
    return counterparty, lookups, warnings


def register_counterparty(cmd: RegisterCounterparty, ctx: Context, deps: Deps) -> Outcome:
    counterparty, lookups, warnings = new_counterparty(ctx, deps, cmd.counterparty, cmd.owner or ctx.employee)
    for person in cmd.contacts:
        counterparty.add_contact(ctx, person)
        for lookup in deps.lookups(email=person.email, phone=person.phone):
            lookup.add(ctx, "counterparty", counterparty.id)
            lookups.append(lookup)
    outcome = deps.save(counterparty, *lookups)
    outcome.warnings.extend(warnings)
    return outcome


def add_contact(cmd: AddContact, ctx: Context, deps: Deps) -> Outcome:
    counterparty = deps.store.get(Counterparty, cmd.counterparty_id)
    counterparty.add_contact(ctx, cmd.contact)
    lookups = deps.lookups(email=cmd.contact.email, phone=cmd.contact.phone)
    for lookup in lookups:
        lookup.add(ctx, "counterparty", counterparty.id)
    return deps.save(counterparty, *lookups)


def change_account_owner(cmd: ChangeAccountOwner, ctx: Context, deps: Deps) -> Outcome:
    deps.employee("new_owner", cmd.new_owner)
    counterparty = deps.store.get(Counterparty, cmd.counterparty_id)
    counterparty.change_owner(ctx, cmd.new_owner, cmd.reason)
    return deps.save(counterparty)


def link_counterparty_to_1c(cmd: LinkCounterpartyTo1C, ctx: Context, deps: Deps) -> Outcome:
    counterparty = deps.store.get(Counterparty, cmd.counterparty_id)
    counterparty.link_to_1c(ctx, cmd.onec_id)
    return deps.save(counterparty)
