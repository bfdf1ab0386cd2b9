"""Counterparties: one per INN + KPP, with contacts and an account owner."""

from __future__ import annotations

import re
from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.employee import require_head_of_sales
from aggregates.errors import ConflictError, ForbiddenError
from schemas.counterparties import (
    AccountOwnerChanged,
    ContactAdded,
    ContactPerson,
    CounterpartyLinkedTo1C,
    CounterpartyRegistered,
)

LEGAL_FORMS = (
    "общество с ограниченной ответственностью", "публичное акционерное общество",
    "акционерное общество", "индивидуальный предприниматель", "государственное бюджетное учреждение здравоохранения",
    "ооо", "оао", "зао", "пао", "ао", "ип", "гбуз", "гбу", "гуп", "муп", "фгбу", "нко", "llc", "ltd", "inc",
)  # fmt: skip
_LEGAL_FORM = re.compile(r"\b(" + "|".join(re.escape(f) for f in LEGAL_FORMS) + r")\b")


def normalise_name(name: str) -> str:
    """Company name without legal form, quotes, case and punctuation: 'ООО «Ромашка»' -> 'ромашка'."""
    text = name.lower().replace("ё", "е")
    text = _LEGAL_FORM.sub(" ", text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


class Counterparty(Aggregate):
    inn: str
    kpp: str | None
    name: str
    address: str | None
    owner: str | None
    onec_id: str | None
    contacts: dict[UUID, ContactPerson]

    @staticmethod
    def id_for(inn: str, kpp: str | None) -> UUID:
        return stable_id("counterparty", f"{inn}/{kpp or ''}")

    @classmethod
    def register(cls, ctx: Context, details: CounterpartyRegistered) -> Counterparty:
        counterparty = cls.blank(cls.id_for(details.inn, details.kpp))
        counterparty._record(ctx, details)
        return counterparty

    def add_contact(self, ctx: Context, contact: ContactPerson) -> UUID:
        for contact_id, existing in self.contacts.items():
            if existing == contact:
                return contact_id
        contact_id = stable_id("contact", f"{self.id}:{len(self.contacts)}")
        self._record(ctx, ContactAdded(contact_id=contact_id, contact=contact))
        return contact_id

    def change_owner(self, ctx: Context, new_owner: str, reason: str) -> None:
        if ctx.actor != self.owner and not ctx.is_head_of_sales:
            raise ForbiddenError("only the account owner or the head of sales may change the owner")
        if new_owner == self.owner:
            raise ConflictError(f"{new_owner} already owns this account")
        self._record(ctx, AccountOwnerChanged(previous_owner=self.owner, new_owner=new_owner, reason=reason))

    def link_to_1c(self, ctx: Context, onec_id: str) -> None:
        require_head_of_sales(ctx, "link counterparties to 1C")
        if self.onec_id == onec_id:
            return
        if self.onec_id is not None:
            raise ConflictError(f"already linked to 1C id {self.onec_id}")
        self._record(ctx, CounterpartyLinkedTo1C(onec_id=onec_id))

    @on(CounterpartyRegistered)
    def _registered(self, e: CounterpartyRegistered) -> None:
        self.inn, self.kpp, self.name, self.address = e.inn, e.kpp, e.name, e.address
        self.owner, self.onec_id = e.owner, e.onec_id
        self.contacts = {}

    @on(ContactAdded)
    def _contact_added(self, e: ContactAdded) -> None:
        self.contacts[e.contact_id] = e.contact

    @on(AccountOwnerChanged)
    def _owner_changed(self, e: AccountOwnerChanged) -> None:
        self.owner = e.new_owner

    @on(CounterpartyLinkedTo1C)
    def _linked(self, e: CounterpartyLinkedTo1C) -> None:
        self.onec_id = e.onec_id
