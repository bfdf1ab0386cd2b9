"""Counterparties as 1C receives them, read from the event store."""

from __future__ import annotations

from aggregates.counterparty import Counterparty
from commands.store import EventStore
from schemas.counterparties import CounterpartyExport


def counterparties_for_export(store: EventStore) -> list[CounterpartyExport]:
    rows = []
    for _, event in store.read(topics=["CounterpartyRegistered"]):
        c = store.get(Counterparty, event.originator_id)
        fields = {"id": c.id, "onec_id": c.onec_id, "inn": c.inn, "kpp": c.kpp, "name": c.name, "address": c.address}
        rows.append(CounterpartyExport(**fields, owner=c.owner, contacts=list(c.contacts.values())))
    return rows
