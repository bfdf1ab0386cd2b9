"""The duplicate-work check (seed 001): a process manager following the log in its one total order.

It keeps the product sets of all needs and deals as of the event it is at, so two needs saved at the
same moment still find each other: the later one in the log sees the earlier one. Alerts are issued
as commands; the need records an alert once per pair, so a replay after a crash raises nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import structlog

from aggregates.duplicates import jaccard, match
from schemas.auth import Caller
from schemas.base import Command, Event
from schemas.deals import DealLost, DealOpened, DealReopened, DealWon, ProposalIssued
from schemas.employees import Role
from schemas.needs import (
    FlagDuplicateWork,
    NeedCancelled,
    NeedClosedAsDuplicate,
    NeedConverted,
    NeedItemsChanged,
    NeedRegistered,
)

log = structlog.get_logger("voronka.duplicate_check")
CHECKER = Caller(employee="system:duplicate-check", role=Role.INTEGRATION)
Dispatch = Callable[[Command, Caller], object]


@dataclass
class Work:
    kind: str  # need | deal
    number: str
    owner: str
    products: frozenset[UUID]
    open: bool = True
    source_need: UUID | None = None  # for a deal: the need it was made from


@dataclass
class DuplicateCheck:
    dispatch: Dispatch
    threshold: float
    work: dict[UUID, Work] = field(default_factory=dict)

    def observe(self, event: Event, act: bool) -> None:
        """Update the known work with one event; when `act`, raise alerts it calls for."""
        p, key = event.payload, event.originator_id
        if isinstance(p, NeedRegistered):
            self.work[key] = Work("need", p.number, p.owner, frozenset(i.product_id for i in p.items))
            self._check(key, event.actor, act)
        elif isinstance(p, NeedItemsChanged):
            products = frozenset(i.product_id for i in p.items)
            if products != self.work[key].products:
                self.work[key].products = products
                self._check(key, event.actor, act)
        elif isinstance(p, NeedClosedAsDuplicate | NeedCancelled | NeedConverted | DealWon | DealLost):
            self.work[key].open = False
        elif isinstance(p, DealOpened):
            items = frozenset(i.product_id for i in p.items)
            self.work[key] = Work("deal", p.number, p.owner, items, source_need=p.need_id)
        elif isinstance(p, ProposalIssued):
            self.work[key].products = frozenset(line.product_id for line in p.lines)
        elif isinstance(p, DealReopened):
            self.work[key].open = True

    def _check(self, need_id: UUID, saved_by: str, act: bool) -> None:
        need = self.work[need_id]
        for other_id, other in self.work.items():
            if other_id == need_id or not other.open or other.source_need == need_id:
                continue
            kind = match(need.products, other.products, self.threshold)
            if kind and act:
                command = FlagDuplicateWork(
                    need_id=need_id, saved_by=need.owner if saved_by.startswith("system:") else saved_by, other_id=other_id, other_kind=other.kind,
                    other_number=other.number, other_owner=other.owner, match=kind,
                    similarity=jaccard(need.products, other.products),
                    overlap=sorted(need.products & other.products),
                )  # fmt: skip
                self.dispatch(command, CHECKER)
                log.info("duplicate_work_flagged", need=need.number, other=other.number, match=kind)

