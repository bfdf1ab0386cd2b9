"""Write-side indexes keyed by a natural value (e-mail, phone, INN, company name).

The lookup's id is derived from the value, so the value itself is never stored in its events.
"""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from schemas.counterparties import LookupEntryAdded


class Lookup(Aggregate):
    counterparties: list[UUID]
    leads: list[UUID]

    @staticmethod
    def id_for(kind: str, value: str) -> UUID:
        return stable_id("lookup", f"{kind}:{value.strip().lower()}")

    @classmethod
    def create(cls, kind: str, value: str) -> Lookup:
        lookup = cls.blank(cls.id_for(kind, value))
        lookup.counterparties, lookup.leads = [], []
        return lookup

    def add(self, ctx: Context, ref_type: str, ref_id: UUID) -> None:
        if ref_id not in (self.counterparties if ref_type == "counterparty" else self.leads):
            self._record(ctx, LookupEntryAdded(ref_type=ref_type, ref_id=ref_id))

    @on(LookupEntryAdded)
    def _added(self, e: LookupEntryAdded) -> None:
        if self.version == 0:
            self.counterparties, self.leads = [], []
        (self.counterparties if e.ref_type == "counterparty" else self.leads).append(e.ref_id)
