"""Lead use cases: registration with distribution, handoffs, contact, qualification, conversion."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID, uuid4

from aggregates.activities import Survey
from aggregates.base import Context
from aggregates.counterparty import Counterparty
from aggregates.employee import Employee
from aggregates.lead import Lead, is_employee
from aggregates.lookup import Lookup
from aggregates.policy import require_code
from aggregates.roster import ROSTER_ID, Roster
from commands.counterparties import new_counterparty
from commands.deps import Deps, Outcome
from commands.store import ConcurrencyError
from schemas.counterparties import ContactPerson
from schemas.leads import (
    AssignmentRoute,
    CompleteLeadFollowUp,
    ContactData,
    ConvertLead,
    DisqualifyLead,
    FlagResponseOverdue,
    HandOffLead,
    InterestRegistered,
    MarkLeadSpam,
    MergeLead,
    QualifyLead,
    RecordContactAttempt,
    RegisterInterest,
    ReopenLead,
    ScheduleLeadFollowUp,
)
from schemas.notifications import SurveyKind


def contact_lookups(deps: Deps, contact: ContactData) -> list[Lookup]:
    return deps.lookups(email=contact.email, phone=contact.phone, inn=contact.inn)


def account_owner(deps: Deps, lookups: list[Lookup]) -> tuple[str, UUID] | None:
    """Sticky ownership: the owner of a counterparty this contact already belongs to, if still active."""
    for lookup in lookups:
        for counterparty_id in lookup.counterparties:
            counterparty = deps.store.load(Counterparty, counterparty_id)
            owner = counterparty.owner if counterparty else None
            employee = deps.store.load(Employee, Employee.id_for(owner)) if owner else None
            if employee and employee.can_hold_work:
                return owner, counterparty_id
    return None


def register_interest(cmd: RegisterInterest, ctx: Context, deps: Deps) -> Outcome:
    require_code("channel", cmd.channel, deps.policy.channels)
    received_by = cmd.received_by or ctx.actor
    if is_employee(received_by):
        deps.employee("received_by", received_by)
    lead_id = Lead.id_for_external_ref(cmd.channel, cmd.external_ref) if cmd.external_ref else uuid4()
    fields = {name: getattr(cmd, name) for name in InterestRegistered.model_fields if name != "received_by"}
    lead = Lead.register(ctx, lead_id, InterestRegistered(received_by=received_by, **fields))
    by_phone = deps.lookups(phone=cmd.contact.phone)
    roster = distribute(ctx, deps, lead, [*by_phone, *deps.lookups(email=cmd.contact.email, inn=cmd.contact.inn)])
    for lookup in by_phone:  # so that calls from this number find the lead
        lookup.add(ctx, "lead", lead_id)
    try:
        return deps.save(lead, *roster, *by_phone)
    except ConcurrencyError:  # a repeated external_ref collides on the lead's derived id
        if cmd.external_ref and deps.store.load(Lead, lead_id) is not None:
            return replayed_registration(deps, lead_id)
        raise


def replayed_registration(deps: Deps, lead_id: UUID) -> Outcome:
    """Answer a repeated external_ref with the original registration's id and position."""
    first = deps.store.history(lead_id, lte=2)
    version = 2 if len(first) == 2 and first[1].type in ("LeadAssigned", "FirstTouchRecorded") else 1
    position = deps.store.position_of(lead_id, version)
    return Outcome(lead_id, version, position, ["external_ref already registered: the first lead is returned"])


def distribute(ctx: Context, deps: Deps, lead: Lead, lookups: list[Lookup]) -> list[Roster]:
    """Give a lead nobody received in person to its account owner, else to the next in the rotation."""
    if lead.holder is not None:
        return []
    sticky = account_owner(deps, lookups)
    if sticky:
        lead.assign(ctx, sticky[0], AssignmentRoute.ACCOUNT_OWNER, sticky[1])
        return []
    roster = deps.store.load(Roster, ROSTER_ID) or Roster()
    assignee = roster.assign(ctx, lead.id)
    if assignee:
        lead.assign(ctx, assignee, AssignmentRoute.ROTATION, None)
    return [roster]


def hand_off_lead(cmd: HandOffLead, ctx: Context, deps: Deps) -> Outcome:
    deps.employee("to", cmd.to)
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.hand_off(ctx, cmd.to, cmd.reason)
    return deps.save(lead)


def record_contact_attempt(cmd: RecordContactAttempt, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.attempt_contact(ctx, cmd.outcome, cmd.note)
    return deps.save(lead)


def qualify_lead(cmd: QualifyLead, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.qualify(ctx, cmd.note)
    return deps.save(lead)


def disqualify_lead(cmd: DisqualifyLead, ctx: Context, deps: Deps) -> Outcome:
    require_code("reason", cmd.reason, deps.policy.disqualification_reasons)
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.disqualify(ctx, cmd.reason, cmd.comment)
    survey = Survey.request(ctx, lead, SurveyKind.FAREWELL, lead.contact.email) if lead.contact.email else None
    return deps.save(lead, *([survey] if survey else []))


def mark_lead_spam(cmd: MarkLeadSpam, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.mark_spam(ctx, cmd.comment)
    return deps.save(lead)


def convert_lead(cmd: ConvertLead, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    warnings: list[str] = []
    if cmd.existing_counterparty_id:
        counterparty, others = deps.store.get(Counterparty, cmd.existing_counterparty_id), []
    else:
        owner = lead.holder or ctx.actor
        counterparty, others, warnings = new_counterparty(ctx, deps, cmd.counterparty, owner, lead.id)
    contact_id = None
    if lead.contact.name:
        contact = lead.contact
        person = ContactPerson(name=contact.name, position=contact.position, email=contact.email, phone=contact.phone)
        contact_id = counterparty.add_contact(ctx, person)
    for lookup in contact_lookups(deps, lead.contact):
        lookup.add(ctx, "counterparty", counterparty.id)
        others.append(lookup)
    lead.convert(ctx, counterparty.id, contact_id, created=cmd.existing_counterparty_id is None)
    return replace(deps.save(lead, counterparty, *others), warnings=warnings)


def reopen_lead(cmd: ReopenLead, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.reopen(ctx, cmd.comment)
    return deps.save(lead)


def merge_lead(cmd: MergeLead, ctx: Context, deps: Deps) -> Outcome:
    duplicate = deps.store.get(Lead, cmd.lead_id)
    survivor = deps.store.get(Lead, cmd.into_lead_id, "survivor lead")
    duplicate.merge_into(ctx, survivor, cmd.comment)
    return deps.save(duplicate, survivor)


def schedule_lead_follow_up(cmd: ScheduleLeadFollowUp, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.schedule_follow_up(ctx, uuid4(), cmd.due_at, cmd.note)
    return deps.save(lead)


def complete_lead_follow_up(cmd: CompleteLeadFollowUp, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.complete_follow_up(ctx, cmd.follow_up_id, cmd.note)
    return deps.save(lead)


def flag_response_overdue(cmd: FlagResponseOverdue, ctx: Context, deps: Deps) -> Outcome:
    lead = deps.store.get(Lead, cmd.lead_id)
    lead.flag_response_overdue(ctx, cmd.escalated, int(deps.policy.response_sla.total_seconds() // 60))
    return deps.save(lead)
