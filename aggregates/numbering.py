"""Human need numbers (N-2026-000123): unique, increasing and gap-free per year.

A number is issued in the same transaction that stores the need, so a failed save leaves no gap.
"""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from schemas.needs import NeedNumberIssued


class NeedNumberSeries(Aggregate):
    year: int
    last: int

    @staticmethod
    def id_for(year: int) -> UUID:
        return stable_id("need-numbers", str(year))

    @classmethod
    def start(cls, year: int) -> NeedNumberSeries:
        series = cls.blank(cls.id_for(year))
        series.year, series.last = year, 0
        return series

    def issue(self, ctx: Context, need_id: UUID) -> str:
        number = f"N-{self.year}-{self.last + 1:06d}"
        self._record(ctx, NeedNumberIssued(number=number, need_id=need_id))
        return number

    @on(NeedNumberIssued)
    def _issued(self, e: NeedNumberIssued) -> None:
        _, year, serial = e.number.split("-")
        self.year, self.last = int(year), int(serial)
