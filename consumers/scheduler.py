"""The scheduler: records clock-driven facts as events, so projections stay pure functions of the log.

It learns from the log what is pending (uncontacted leads, follow-ups with due times, open deals
without a next follow-up) and, on each tick of the clock, flags what has become late. The aggregates
record each flag once, so a repeated tick or a replay after a crash raises nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from aggregates.errors import DomainError
from consumers.duplicate_check import Dispatch
from schemas.auth import Caller
from schemas.base import Event
from schemas.deals import (
    DealLeftWithoutFollowUp,
    DealLost,
    DealOpened,
    DealReopened,
    DealWon,
    FlagDealWithoutFollowUp,
    FlagOverdueFollowUp,
    FollowUpBecameOverdue,
    FollowUpCancelled,
    FollowUpCompleted,
    FollowUpScheduled,
)
from schemas.employees import Role
from schemas.leads import (
    ContactAttempted,
    FlagResponseOverdue,
    InterestRegistered,
    LeadCallLogged,
    LeadConverted,
    LeadDisqualified,
    LeadMarkedSpam,
    LeadMergedInto,
    LeadQualified,
    LeadResponseOverdue,
)

log = structlog.get_logger("voronka.scheduler")
SCHEDULER = Caller(employee="system:scheduler", role=Role.INTEGRATION)
LEAD_SETTLED = (ContactAttempted, LeadCallLogged, LeadQualified, LeadDisqualified, LeadMarkedSpam, LeadMergedInto, LeadConverted)


@dataclass
class PendingDeal:
    follow_ups: dict[UUID, datetime] = field(default_factory=dict)
    without_since: datetime | None = None  # when it was last left without a next follow-up
    flagged: bool = False


@dataclass
class Scheduler:
    dispatch: Dispatch
    response_sla: timedelta
    grace: timedelta = timedelta(days=1)
    leads: dict[UUID, tuple[datetime, set[bool]]] = field(default_factory=dict)
    deals: dict[UUID, PendingDeal] = field(default_factory=dict)

    def observe(self, event: Event, act: bool) -> None:
        """Learn what is pending; acting happens on ticks."""
        p, key, at = event.payload, event.originator_id, event.occurred_at
        if isinstance(p, InterestRegistered):
            self.leads[key] = (at, set())
        elif isinstance(p, LeadResponseOverdue) and key in self.leads:
            self.leads[key][1].add(p.escalated)
        elif isinstance(p, LEAD_SETTLED):
            self.leads.pop(key, None)
        elif isinstance(p, DealOpened | DealReopened):
            self.deals[key] = PendingDeal(without_since=at)
        elif isinstance(p, DealWon | DealLost):
            self.deals.pop(key, None)
        elif key in self.deals:
            self._follow_up_event(self.deals[key], p, at)

    def _follow_up_event(self, deal: PendingDeal, p, at: datetime) -> None:
        if isinstance(p, FollowUpScheduled):
            deal.follow_ups[p.follow_up_id], deal.flagged = p.due_at, False
        elif isinstance(p, FollowUpCompleted | FollowUpCancelled | FollowUpBecameOverdue):
            deal.follow_ups.pop(p.follow_up_id, None)
            if not deal.follow_ups:
                deal.without_since = at
        elif isinstance(p, DealLeftWithoutFollowUp):
            deal.flagged = True

    def tick(self, now: datetime) -> int:
        """Flag everything that has become late by `now`; answers how many flags were asked for."""
        commands = [*self._late_leads(now), *self._late_follow_ups(now)]
        for command in commands:
            try:
                self.dispatch(command, SCHEDULER)
            except DomainError as exc:  # the record moved on meanwhile: nothing to flag
                log.info("flag_skipped", command=type(command).__name__, reason=exc.message)
        return len(commands)

    def _late_leads(self, now: datetime):
        for lead_id, (registered_at, flagged) in self.leads.items():
            for escalated, after in ((False, self.response_sla), (True, 2 * self.response_sla)):
                if escalated not in flagged and now - registered_at >= after:
                    flagged.add(escalated)
                    yield FlagResponseOverdue(lead_id=lead_id, escalated=escalated, occurred_at=now)

    def _late_follow_ups(self, now: datetime):
        for deal_id, deal in self.deals.items():
            for follow_up_id, due_at in list(deal.follow_ups.items()):
                if due_at <= now:
                    del deal.follow_ups[follow_up_id]
                    yield FlagOverdueFollowUp(deal_id=deal_id, follow_up_id=follow_up_id, occurred_at=now)
            if not deal.follow_ups and not deal.flagged and deal.without_since and now - deal.without_since >= self.grace:
                deal.flagged = True
                yield FlagDealWithoutFollowUp(deal_id=deal_id, occurred_at=now)
