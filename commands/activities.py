"""Calls, meetings and survey answers."""

from __future__ import annotations

from uuid import uuid4

from aggregates.activities import Call, Meeting, Survey
from aggregates.base import Context
from aggregates.deal import Deal
from aggregates.errors import ForbiddenError
from aggregates.inbox import Inbox
from aggregates.lead import Lead
from commands.deps import Deps, Outcome
from schemas.activities import (
    CallLogged,
    CancelMeeting,
    LogCall,
    MeetingCommand,
    MeetingScheduled,
    RecordMeetingHeld,
    RecordMeetingNoShow,
    ScheduleMeeting,
    ScoreCall,
)
from schemas.notifications import DismissNotification, MarkNotificationRead, RecordSurveyAnswer


def log_call(cmd: LogCall, ctx: Context, deps: Deps) -> Outcome:
    """Idempotent on the PBX call id; unmatched calls are matched to a lead or client by phone."""
    if ctx.employee and ctx.employee != cmd.employee and not ctx.is_head_of_sales:
        raise ForbiddenError("a manager logs only their own calls")
    deps.employee("employee", cmd.employee)
    call_id = Call.id_for_pbx(cmd.pbx_call_id) if cmd.pbx_call_id else uuid4()
    if cmd.pbx_call_id and deps.store.load(Call, call_id) is not None:
        return Outcome(call_id, 1, deps.store.position_of(call_id, 1), ["pbx_call_id already logged"])
    refs = cmd.model_dump(include={"lead_id", "counterparty_id", "deal_id"})
    matched = not any(refs.values())
    if matched:
        for lookup in deps.lookups(phone=cmd.phone):
            refs["lead_id"] = lookup.leads[-1] if lookup.leads else None
            refs["counterparty_id"] = lookup.counterparties[0] if lookup.counterparties else None
    lead = deps.reference(Lead, "lead_id", refs["lead_id"]) if refs["lead_id"] else None
    if refs["deal_id"]:
        deps.reference(Deal, "deal_id", refs["deal_id"])
    details = CallLogged(matched_by_phone=matched, **{**cmd.model_dump(exclude={"occurred_at"}), **refs})
    call = Call.log(ctx, call_id, details)
    if lead is not None:
        lead.log_call(ctx, call_id, cmd.employee, cmd.outcome)
    return deps.save(call, *([lead] if lead else []))


def score_call(cmd: ScoreCall, ctx: Context, deps: Deps) -> Outcome:
    call = deps.store.get(Call, cmd.call_id)
    call.score_quality(ctx, cmd.score, cmd.comment)
    return deps.save(call)


def schedule_meeting(cmd: ScheduleMeeting, ctx: Context, deps: Deps) -> Outcome:
    deps.employee("converter", cmd.converter)
    if cmd.lead_id:
        deps.reference(Lead, "lead_id", cmd.lead_id)
    details = MeetingScheduled(generator=ctx.actor, **cmd.model_dump(exclude={"occurred_at"}))
    return deps.save(Meeting.schedule(ctx, uuid4(), details))


MEETING_ACTIONS = {
    RecordMeetingHeld: lambda m, ctx, c: m.record_held(ctx),
    RecordMeetingNoShow: lambda m, ctx, c: m.record_no_show(ctx, c.party),
    CancelMeeting: lambda m, ctx, c: m.cancel(ctx, c.reason),
}


def act_on_meeting(cmd: MeetingCommand, ctx: Context, deps: Deps) -> Outcome:
    meeting = deps.store.get(Meeting, cmd.meeting_id)
    MEETING_ACTIONS[type(cmd)](meeting, ctx, cmd)
    return deps.save(meeting)


def change_inbox(cmd: MarkNotificationRead | DismissNotification, ctx: Context, deps: Deps) -> Outcome:
    template = Inbox.of(ctx)
    inbox = deps.store.load(Inbox, template.id) or template
    (inbox.mark_read if isinstance(cmd, MarkNotificationRead) else inbox.dismiss)(ctx, cmd.notification_id)
    return deps.save(inbox)


def record_survey_answer(cmd: RecordSurveyAnswer, ctx: Context, deps: Deps) -> Outcome:
    survey = deps.store.get(Survey, cmd.survey_id)
    survey.answer(ctx, cmd.score, cmd.comment)
    return deps.save(survey)
