"""Counterparties (companies, identified by INN + KPP) and their contacts."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as stdnum_inn

from schemas.base import (
    Command,
    Comment,
    EmployeeId,
    EventPayload,
    Model,
    PersonalEmail,
    PersonalName,
    PersonalPhone,
    ShortText,
)


def _valid_inn(value: str) -> str:
    try:
        return stdnum_inn.validate(value)
    except StdnumError as exc:
        raise ValueError(f"not a valid INN: {exc}") from None


def _valid_kpp(value: str) -> str:
    if not re.fullmatch(r"\d{4}[\dA-Z]{2}\d{3}", value):
        raise ValueError("KPP is 9 characters: 4 digits, 2 digits or capital letters, 3 digits")
    return value


INN = Annotated[str, AfterValidator(_valid_inn), Field(examples=["7707083893"])]
KPP = Annotated[str, AfterValidator(_valid_kpp), Field(examples=["773601001"])]


class ContactPerson(Model):
    name: PersonalName
    position: ShortText | None = None
    email: PersonalEmail | None = None
    phone: PersonalPhone | None = None


class NewCounterparty(Model):
    """Company details: an organisation (10-digit INN) needs a KPP, an individual (12 digits) has none."""

    inn: INN
    kpp: KPP | None = None
    name: ShortText
    address: ShortText | None = None
    onec_id: ShortText | None = None

    @model_validator(mode="after")
    def _kpp_by_kind(self) -> NewCounterparty:
        if len(self.inn) == 10 and self.kpp is None:
            raise ValueError("an organisation (10-digit INN) needs a KPP")
        if len(self.inn) == 12 and self.kpp is not None:
            raise ValueError("an individual entrepreneur (12-digit INN) has no KPP")
        return self


# --- commands ---


class RegisterCounterparty(Command):
    counterparty: NewCounterparty
    owner: EmployeeId | None = Field(default=None, description="Account owner; defaults to the caller")
    contacts: list[ContactPerson] = Field(default_factory=list)


class AddContact(Command):
    counterparty_id: UUID
    contact: ContactPerson


class ChangeAccountOwner(Command):
    counterparty_id: UUID
    new_owner: EmployeeId
    reason: Comment


class LinkCounterpartyTo1C(Command):
    counterparty_id: UUID
    onec_id: ShortText


# --- events ---


class CounterpartyRegistered(EventPayload):
    inn: INN
    kpp: KPP | None
    name: ShortText
    address: ShortText | None
    onec_id: ShortText | None
    owner: EmployeeId | None
    lead_id: UUID | None = None


class ContactAdded(EventPayload):
    contact_id: UUID
    contact: ContactPerson


class AccountOwnerChanged(EventPayload):
    previous_owner: EmployeeId | None
    new_owner: EmployeeId
    reason: Comment


class CounterpartyLinkedTo1C(EventPayload):
    onec_id: ShortText


class CounterpartyExport(Model):
    """One counterparty as sent to 1C."""

    id: UUID
    onec_id: str | None
    inn: str
    kpp: str | None
    name: str
    address: str | None
    owner: EmployeeId | None
    contacts: list[ContactPerson] = Field(default_factory=list)


class LookupEntryAdded(EventPayload):
    """A write-side index entry: the lookup's id is derived from an e-mail, phone, INN or name."""

    ref_type: str = Field(pattern="^(counterparty|lead)$")
    ref_id: UUID
