"""Every use case in one table: command -> handler, who may issue it, whether a conflict is retried."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commands import activities, catalog, counterparties, deals, employees, leads, needs
from schemas import activities as a, catalog as cat, counterparties as c, deals as d, employees as e
from schemas import leads as l, needs as n, notifications as s  # noqa: E741
from schemas.employees import Role

SALES = frozenset({Role.MANAGER, Role.HEAD_OF_SALES})
HEAD = frozenset({Role.HEAD_OF_SALES})
INTAKE = SALES | {Role.INTEGRATION}
SCHEDULER = frozenset({Role.INTEGRATION})


@dataclass(frozen=True)
class Route:
    handler: Callable
    roles: frozenset[Role]
    retry: bool = False  # safe to rerun on an optimistic-concurrency conflict
    tag: str = ""


COMMANDS: dict[type, Route] = {
    # leads
    l.RegisterInterest: Route(leads.register_interest, INTAKE, retry=True, tag="leads"),
    l.HandOffLead: Route(leads.hand_off_lead, SALES, tag="leads"),
    l.RecordContactAttempt: Route(leads.record_contact_attempt, SALES, tag="leads"),
    l.QualifyLead: Route(leads.qualify_lead, SALES, tag="leads"),
    l.DisqualifyLead: Route(leads.disqualify_lead, SALES, tag="leads"),
    l.MarkLeadSpam: Route(leads.mark_lead_spam, SALES, tag="leads"),
    l.ConvertLead: Route(leads.convert_lead, SALES, tag="leads"),
    l.ReopenLead: Route(leads.reopen_lead, HEAD, tag="leads"),
    l.MergeLead: Route(leads.merge_lead, HEAD, tag="leads"),
    l.ScheduleLeadFollowUp: Route(leads.schedule_lead_follow_up, SALES, tag="leads"),
    l.CompleteLeadFollowUp: Route(leads.complete_lead_follow_up, SALES, tag="leads"),
    l.FlagResponseOverdue: Route(leads.flag_response_overdue, SCHEDULER, retry=True, tag="scheduler"),
    # employees, rotation, plans
    e.RegisterEmployee: Route(employees.register_employee, HEAD, tag="employees"),
    e.RecordEmployeeLeft: Route(employees.record_employee_left, HEAD, retry=True, tag="employees"),
    e.ReassignPortfolio: Route(employees.reassign_portfolio, HEAD, tag="employees"),
    e.AddToRotation: Route(employees.change_rotation, HEAD, retry=True, tag="employees"),
    e.RemoveFromRotation: Route(employees.change_rotation, HEAD, retry=True, tag="employees"),
    e.MarkAway: Route(employees.change_rotation, SALES, retry=True, tag="employees"),
    e.MarkBack: Route(employees.change_rotation, SALES, retry=True, tag="employees"),
    e.SetMonthlyPlan: Route(employees.set_monthly_plan, HEAD, tag="employees"),
    # counterparties
    c.RegisterCounterparty: Route(counterparties.register_counterparty, INTAKE, retry=True, tag="counterparties"),
    c.AddContact: Route(counterparties.add_contact, SALES, retry=True, tag="counterparties"),
    c.ChangeAccountOwner: Route(counterparties.change_account_owner, SALES, tag="counterparties"),
    c.LinkCounterpartyTo1C: Route(counterparties.link_counterparty_to_1c, HEAD, tag="counterparties"),
    # catalog
    cat.ImportCatalog: Route(catalog.import_catalog, HEAD | {Role.INTEGRATION}, tag="catalog"),
    # needs
    n.RegisterNeed: Route(needs.register_need, SALES, retry=True, tag="needs"),
    n.ChangeNeedItems: Route(needs.change_need_items, SALES, tag="needs"),
    n.CloseNeedAsDuplicate: Route(needs.close_need_as_duplicate, SALES, tag="needs"),
    n.CancelNeed: Route(needs.cancel_need, SALES, tag="needs"),
    n.DismissDuplicateAlert: Route(needs.dismiss_duplicate_alert, SALES, tag="needs"),
    n.ConvertNeedToDeal: Route(needs.convert_need_to_deal, SALES, tag="needs"),
    n.FlagDuplicateWork: Route(needs.flag_duplicate_work, SCHEDULER, retry=True, tag="scheduler"),
    # deals
    d.IssueProposal: Route(deals.issue_proposal, SALES, tag="deals"),
    d.HandOffDeal: Route(deals.hand_off_deal, SALES, tag="deals"),
    d.WinDeal: Route(deals.win_deal, SALES, tag="deals"),
    d.LoseDeal: Route(deals.lose_deal, SALES, tag="deals"),
    **{cmd: Route(deals.act_on_deal, SALES, tag="deals") for cmd in deals.DEAL_ACTIONS},
    d.ReopenDeal: Route(deals.act_on_deal, HEAD, tag="deals"),
    d.FlagOverdueFollowUp: Route(deals.act_on_deal, SCHEDULER, retry=True, tag="scheduler"),
    d.FlagDealWithoutFollowUp: Route(deals.act_on_deal, SCHEDULER, retry=True, tag="scheduler"),
    # calls, meetings, surveys
    a.LogCall: Route(activities.log_call, INTAKE, retry=True, tag="calls"),
    a.ScoreCall: Route(activities.score_call, HEAD, tag="calls"),
    a.ScheduleMeeting: Route(activities.schedule_meeting, SALES, tag="meetings"),
    **{cmd: Route(activities.act_on_meeting, SALES, tag="meetings") for cmd in activities.MEETING_ACTIONS},
    s.MarkNotificationRead: Route(activities.change_inbox, SALES, retry=True, tag="inbox"),
    s.DismissNotification: Route(activities.change_inbox, SALES, retry=True, tag="inbox"),
    s.RecordSurveyAnswer: Route(activities.record_survey_answer, HEAD | {Role.INTEGRATION}, tag="surveys"),
}
