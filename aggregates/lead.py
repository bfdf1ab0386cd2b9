"""The lead: one incoming interest, its holder, its immutable first touch and its lifecycle."""

from __future__ import annotations

from uuid import UUID

from aggregates.base import HEAD_OF_SALES, Aggregate, Context, on, stable_id
from aggregates.employee import require_head_of_sales
from aggregates.errors import ConflictError, ForbiddenError, InvalidTransitionError
from schemas.base import EventPayload
from schemas.notifications import NotificationKind
from schemas.leads import (
    AssignmentRoute,
    ContactAttempted,
    ContactData,
    ContactOutcome,
    DuplicateLeadAbsorbed,
    FirstTouchRecorded,
    InterestRegistered,
    LeadAssigned,
    LeadCallLogged,
    LeadConverted,
    LeadDisqualified,
    LeadFollowUpCompleted,
    LeadFollowUpScheduled,
    LeadHandedOff,
    LeadMarkedSpam,
    LeadMergedInto,
    LeadQualified,
    LeadReopened,
    LeadResponseOverdue,
    LeadStatus as S,
)

OPEN = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.QUALIFIED)
WORKING = (S.ASSIGNED, S.IN_PROGRESS, S.QUALIFIED)
ALLOWED: dict[str, tuple[S, ...]] = {
    "assign": (S.NEW,),
    "hand_off": OPEN,
    "attempt_contact": WORKING,
    "log_call": (*OPEN, S.CONVERTED, S.DISQUALIFIED),
    "qualify": (S.ASSIGNED, S.IN_PROGRESS),
    "disqualify": OPEN,
    "mark_spam": (S.NEW, S.ASSIGNED, S.IN_PROGRESS),
    "convert": (S.QUALIFIED,),
    "reopen": (S.DISQUALIFIED, S.SPAM),
    "merge": (*OPEN, S.DISQUALIFIED, S.SPAM),
    "absorb": (*OPEN, S.CONVERTED, S.DISQUALIFIED),
    "schedule_follow_up": (*OPEN, S.DISQUALIFIED),
    "complete_follow_up": (*OPEN, S.DISQUALIFIED, S.CONVERTED),
}
# Event types that count as a touch (who acts on the lead); automatic assignment does not.
TOUCHES = (
    InterestRegistered, LeadHandedOff, ContactAttempted, LeadCallLogged,
    LeadQualified, LeadDisqualified, LeadConverted,
)  # fmt: skip


def is_employee(actor: str) -> bool:
    return not actor.startswith("system:")


class Lead(Aggregate):
    channel: str
    contact: ContactData
    status: S
    holder: str | None
    first_touch: str | None
    contacted: bool
    response_flags: set[bool]
    follow_ups: set[UUID]
    status_before_close: S
    merged_into: UUID | None
    counterparty_id: UUID | None

    @staticmethod
    def id_for_external_ref(channel: str, external_ref: str) -> UUID:
        return stable_id("lead", f"{channel}:{external_ref}")

    @classmethod
    def register(cls, ctx: Context, id: UUID, interest: InterestRegistered) -> Lead:
        lead = cls.blank(id)
        lead._record(ctx, interest)
        if is_employee(interest.received_by):
            lead._touched(ctx, interest.received_by, interest)
        return lead

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def allowed_actions(self) -> list[str]:
        return [action for action, states in ALLOWED.items() if self.status in states]

    # --- distribution and handoff ---

    def assign(self, ctx: Context, assignee: str, route: AssignmentRoute, counterparty_id: UUID | None) -> None:
        self._require("assign")
        self._record(ctx, LeadAssigned(assignee=assignee, route=route, counterparty_id=counterparty_id))

    def hand_off(self, ctx: Context, to: str, reason: str) -> None:
        self._require("hand_off")
        self._require_holder_or_head(ctx, "hand off")
        if to == self.holder:
            raise ConflictError(f"the lead is already held by {to}")
        self._touch(ctx, LeadHandedOff(from_employee=self.holder, to_employee=to, by=ctx.actor, reason=reason))

    # --- working the lead ---

    def attempt_contact(self, ctx: Context, outcome: ContactOutcome, note: str) -> None:
        self._require("attempt_contact")
        self._require_holder_or_head(ctx, "record contact attempts on")
        self._touch(ctx, ContactAttempted(employee=ctx.actor, outcome=outcome, note=note))

    def log_call(self, ctx: Context, call_id: UUID, employee: str, outcome: str) -> None:
        self._require("log_call")
        call = LeadCallLogged(call_id=call_id, employee=employee, outcome=outcome)
        self._record(ctx, call)
        self._touched(ctx, employee, call)

    def qualify(self, ctx: Context, note: str) -> None:
        self._require("qualify")
        self._require_holder_or_head(ctx, "qualify")
        self._touch(ctx, LeadQualified(employee=ctx.actor, note=note))

    def disqualify(self, ctx: Context, reason: str, comment: str | None) -> None:
        self._require("disqualify")
        self._require_holder_or_head(ctx, "disqualify")
        self._touch(ctx, LeadDisqualified(employee=ctx.actor, reason=reason, comment=comment))

    def mark_spam(self, ctx: Context, comment: str | None) -> None:
        self._require("mark_spam")
        self._require_holder_or_head(ctx, "mark as spam")
        self._record(ctx, LeadMarkedSpam(employee=ctx.actor, comment=comment))

    def convert(self, ctx: Context, counterparty_id: UUID, contact_id: UUID | None, created: bool) -> None:
        self._require("convert")
        self._require_holder_or_head(ctx, "convert")
        self._touch(
            ctx,
            LeadConverted(
                employee=ctx.actor,
                counterparty_id=counterparty_id,
                contact_id=contact_id,
                counterparty_created=created,
            ),
        )

    # --- head of sales ---

    def reopen(self, ctx: Context, comment: str) -> None:
        require_head_of_sales(ctx, "reopen a lead")
        self._require("reopen")
        self._record(ctx, LeadReopened(status=self.status_before_close, comment=comment))

    def merge_into(self, ctx: Context, survivor: Lead, comment: str | None) -> None:
        require_head_of_sales(ctx, "merge leads")
        if survivor.id == self.id:
            raise ConflictError("a lead cannot be merged into itself")
        self._require("merge")
        survivor._require("absorb")
        self._record(ctx, LeadMergedInto(survivor_id=survivor.id, comment=comment))
        survivor._record(ctx, DuplicateLeadAbsorbed(merged_lead_id=self.id))

    # --- follow-ups and response control ---

    def schedule_follow_up(self, ctx: Context, follow_up_id: UUID, due_at, note: str) -> None:
        self._require("schedule_follow_up")
        assignee = self.holder or ctx.actor
        self._record(
            ctx, LeadFollowUpScheduled(follow_up_id=follow_up_id, assignee=assignee, due_at=due_at, note=note)
        )

    def complete_follow_up(self, ctx: Context, follow_up_id: UUID, note: str) -> None:
        self._require("complete_follow_up")
        if follow_up_id not in self.follow_ups:
            raise ConflictError(f"follow-up {follow_up_id} is not open on this lead")
        self._record(ctx, LeadFollowUpCompleted(follow_up_id=follow_up_id, note=note))

    def flag_response_overdue(self, ctx: Context, escalated: bool, sla_minutes: int) -> bool:
        """Record that the lead passed its response SLA; False when there is nothing (new) to flag."""
        if not self.is_open or self.contacted or escalated in self.response_flags:
            return False
        self._record(ctx, LeadResponseOverdue(holder=self.holder, escalated=escalated, sla_minutes=sla_minutes))
        recipients = [HEAD_OF_SALES] if escalated or self.holder is None else [self.holder]
        self._notify(ctx, NotificationKind.RESPONSE_SLA, recipients, f"Lead not contacted within {sla_minutes} min")
        return True

    # --- helpers ---

    def _require(self, action: str) -> None:
        if self.status not in ALLOWED[action]:
            raise InvalidTransitionError(action.replace("_", " "), self.status, self.allowed_actions())

    def _require_holder_or_head(self, ctx: Context, verb: str) -> None:
        if ctx.actor != self.holder and not ctx.is_head_of_sales:
            raise ForbiddenError(f"only the lead's holder or the head of sales may {verb} this lead")

    def _touch(self, ctx: Context, payload: EventPayload) -> None:
        self._record(ctx, payload)
        if is_employee(ctx.actor):
            self._touched(ctx, ctx.actor, payload)

    def _touched(self, ctx: Context, employee: str, payload: EventPayload) -> None:
        if self.first_touch is None and isinstance(payload, TOUCHES):
            self._record(ctx, FirstTouchRecorded(employee=employee, touch=type(payload).__name__))

    # --- state ---

    @on(InterestRegistered)
    def _registered(self, e: InterestRegistered) -> None:
        self.channel, self.contact = e.channel, e.contact
        human = is_employee(e.received_by)
        self.holder = e.received_by if human else None
        self.status = S.ASSIGNED if human else S.NEW
        self.status_before_close = self.status
        self.first_touch, self.contacted = None, False
        self.response_flags, self.follow_ups = set(), set()
        self.merged_into = self.counterparty_id = None

    @on(FirstTouchRecorded)
    def _first_touch(self, e: FirstTouchRecorded) -> None:
        self.first_touch = e.employee

    @on(LeadAssigned)
    def _assigned(self, e: LeadAssigned) -> None:
        self.holder, self.status = e.assignee, S.ASSIGNED

    @on(LeadHandedOff)
    def _handed_off(self, e: LeadHandedOff) -> None:
        self.holder = e.to_employee
        if self.status is S.NEW:
            self.status = S.ASSIGNED

    @on(ContactAttempted)
    def _contact_attempted(self, e: ContactAttempted) -> None:
        self._contacted()

    @on(LeadCallLogged)
    def _call_logged(self, e: LeadCallLogged) -> None:
        self._contacted()

    def _contacted(self) -> None:
        self.contacted = True
        if self.status is S.ASSIGNED:
            self.status = S.IN_PROGRESS

    @on(LeadQualified)
    def _qualified(self, e: LeadQualified) -> None:
        self.status = S.QUALIFIED

    @on(LeadDisqualified)
    def _disqualified(self, e: LeadDisqualified) -> None:
        self.status_before_close, self.status = self.status, S.DISQUALIFIED

    @on(LeadMarkedSpam)
    def _spam(self, e: LeadMarkedSpam) -> None:
        self.status_before_close, self.status = self.status, S.SPAM

    @on(LeadConverted)
    def _converted(self, e: LeadConverted) -> None:
        self.status, self.counterparty_id = S.CONVERTED, e.counterparty_id

    @on(LeadReopened)
    def _reopened(self, e: LeadReopened) -> None:
        self.status = e.status

    @on(LeadMergedInto)
    def _merged(self, e: LeadMergedInto) -> None:
        self.status, self.merged_into = S.MERGED, e.survivor_id

    @on(DuplicateLeadAbsorbed)
    def _absorbed(self, e: DuplicateLeadAbsorbed) -> None:
        pass

    @on(LeadFollowUpScheduled)
    def _follow_up_scheduled(self, e: LeadFollowUpScheduled) -> None:
        self.follow_ups.add(e.follow_up_id)

    @on(LeadFollowUpCompleted)
    def _follow_up_completed(self, e: LeadFollowUpCompleted) -> None:
        self.follow_ups.discard(e.follow_up_id)

    @on(LeadResponseOverdue)
    def _response_overdue(self, e: LeadResponseOverdue) -> None:
        self.response_flags.add(e.escalated)
