"""The lead lifecycle as a state machine, checked step by step against a simple model of the rules.

The model below is written from the business rules, not from `aggregates/lead.py`:

* statuses: new -> assigned -> in_progress -> qualified -> converted; or disqualified / spam; or merged;
* a human registration makes the receiver the holder and the first touch; a system one leaves the lead new;
* touches: human registration, hand-off (by the actor), contact attempt, call (by the call's employee),
  qualification, disqualification, conversion; automatic assignment and marking as spam are not touches;
* the first touch is recorded once, by the first touch in order, and never changes.

Where an attempt breaks two rules at once the model decides which error wins: for holder-or-head
operations the state is checked before the actor (a closed lead says "not now" to everybody), while
head-only operations (reopen, merge) refuse a non-head before looking at the state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from aggregates.base import Context, Event
from aggregates.errors import ConflictError, DomainError, ForbiddenError, InvalidTransitionError
from aggregates.lead import Lead
from schemas.employees import Role
from schemas.leads import (
    AssignmentRoute,
    ContactData,
    ContactOutcome,
    DuplicateLeadAbsorbed,
    FirstTouchRecorded,
    InterestRegistered,
)
from tests.conftest import NOW

MANAGERS = ("anna", "boris")
HEAD = "boss"
EMPLOYEES = (*MANAGERS, HEAD)
SITE = "system:site"
PBX = "system:pbx"

NEW, ASSIGNED, IN_PROGRESS, QUALIFIED = "new", "assigned", "in_progress", "qualified"
CONVERTED, DISQUALIFIED, SPAM, MERGED = "converted", "disqualified", "spam", "merged"
OPEN = {NEW, ASSIGNED, IN_PROGRESS, QUALIFIED}


def context(actor: str) -> Context:
    if actor.startswith("system:"):
        role = Role.INTEGRATION
    else:
        role = Role.HEAD_OF_SALES if actor == HEAD else Role.MANAGER
    return Context(actor, role, NOW)


def interest(received_by: str) -> InterestRegistered:
    return InterestRegistered(
        channel="site_form",
        source_detail=None,
        contact=ContactData(name="Ирина", email="irina@gkb7.ru"),
        message="",
        received_by=received_by,
        external_ref=None,
    )


@dataclass
class LeadModel:
    """What the rules say the lead looks like."""

    status: str
    holder: str | None
    first_touch: str | None
    status_before_close: str

    @classmethod
    def registered_by(cls, received_by: str) -> LeadModel:
        if received_by.startswith("system:"):
            return cls(NEW, None, None, NEW)
        return cls(ASSIGNED, received_by, received_by, ASSIGNED)

    def may_act(self, actor: str) -> bool:
        return actor == self.holder or actor == HEAD

    def touched_by(self, employee: str) -> None:
        if self.first_touch is None:
            self.first_touch = employee

    def contacted(self) -> None:
        if self.status == ASSIGNED:
            self.status = IN_PROGRESS

    def close(self, status: str) -> None:
        self.status_before_close, self.status = self.status, status

    # Each `check_*` returns the expected error class, or None when the rules allow the attempt.

    def check_worker_action(self, actor: str, states: set[str]) -> type[DomainError] | None:
        if self.status not in states:
            return InvalidTransitionError
        if not self.may_act(actor):
            return ForbiddenError
        return None

    def check_head_action(self, actor: str, states: set[str]) -> type[DomainError] | None:
        if actor != HEAD:
            return ForbiddenError
        if self.status not in states:
            return InvalidTransitionError
        return None


class LeadMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.lead: Lead
        self.model: LeadModel
        self.events: list[Event] = []
        self.first_touch_seen: str | None = None

    # --- driving the aggregate ---

    def attempt(self, expected: type[DomainError] | None, operation) -> list[Event]:
        """Run `operation`; it must succeed exactly when `expected` is None, else raise exactly `expected`."""
        version = self.lead.version
        if expected is None:
            operation()
            new = self.lead.collect_events()
            assert new, "a successful operation records at least one event"
            assert [e.originator_version for e in new] == list(range(version + 1, version + 1 + len(new)))
            self.events.extend(new)
            return new
        with pytest.raises(DomainError) as info:
            operation()
        assert type(info.value) is expected, f"expected {expected.__name__}, got {info.value!r}"
        assert self.lead.collect_events() == [], "a refused operation records nothing"
        assert self.lead.version == version
        return []

    @initialize(received_by=st.sampled_from((SITE, SITE, SITE, *EMPLOYEES)))
    def register(self, received_by: str) -> None:
        self.lead = Lead.register(context(received_by), uuid.uuid4(), interest(received_by))
        self.events = self.lead.collect_events()
        self.model = LeadModel.registered_by(received_by)
        touches = [e for e in self.events if isinstance(e.payload, FirstTouchRecorded)]
        if received_by == SITE:
            assert touches == [], "a registration by the site is not a touch"
        else:
            assert [t.payload.employee for t in touches] == [received_by]

    # --- rules ---

    @rule(assignee=st.sampled_from(MANAGERS))
    def assign_automatically(self, assignee: str) -> None:
        expected = None if self.model.status == NEW else InvalidTransitionError
        new = self.attempt(
            expected, lambda: self.lead.assign(context("system:router"), assignee, AssignmentRoute.ROTATION, None)
        )
        if new:
            assert not any(isinstance(e.payload, FirstTouchRecorded) for e in new), "assignment is not a touch"
            self.model.holder, self.model.status = assignee, ASSIGNED

    @rule(actor=st.sampled_from(EMPLOYEES), to=st.sampled_from(EMPLOYEES))
    def hand_off(self, actor: str, to: str) -> None:
        expected = self.model.check_worker_action(actor, OPEN)
        if expected is None and to == self.model.holder:
            expected = ConflictError
        if self.attempt(expected, lambda: self.lead.hand_off(context(actor), to, "отпуск")):
            self.model.holder = to
            if self.model.status == NEW:
                self.model.status = ASSIGNED
            self.model.touched_by(actor)

    @rule(actor=st.sampled_from(EMPLOYEES), outcome=st.sampled_from(ContactOutcome))
    def attempt_contact(self, actor: str, outcome: ContactOutcome) -> None:
        expected = self.model.check_worker_action(actor, {ASSIGNED, IN_PROGRESS, QUALIFIED})
        if self.attempt(expected, lambda: self.lead.attempt_contact(context(actor), outcome, "")):
            self.model.contacted()
            self.model.touched_by(actor)

    @rule(reporter=st.sampled_from((PBX, *EMPLOYEES)), employee=st.sampled_from(EMPLOYEES))
    def log_call(self, reporter: str, employee: str) -> None:
        allowed = self.model.status in OPEN | {CONVERTED, DISQUALIFIED}
        expected = None if allowed else InvalidTransitionError
        if self.attempt(expected, lambda: self.lead.log_call(context(reporter), uuid.uuid4(), employee, "answered")):
            self.model.contacted()
            self.model.touched_by(employee)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def qualify(self, actor: str) -> None:
        expected = self.model.check_worker_action(actor, {ASSIGNED, IN_PROGRESS})
        if self.attempt(expected, lambda: self.lead.qualify(context(actor), "")):
            self.model.status = QUALIFIED
            self.model.touched_by(actor)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def disqualify(self, actor: str) -> None:
        expected = self.model.check_worker_action(actor, OPEN)
        if self.attempt(expected, lambda: self.lead.disqualify(context(actor), "no_budget", None)):
            self.model.close(DISQUALIFIED)
            self.model.touched_by(actor)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def mark_spam(self, actor: str) -> None:
        expected = self.model.check_worker_action(actor, {NEW, ASSIGNED, IN_PROGRESS})
        new = self.attempt(expected, lambda: self.lead.mark_spam(context(actor), None))
        if new:
            assert not any(isinstance(e.payload, FirstTouchRecorded) for e in new), "spam is not a touch"
            self.model.close(SPAM)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def convert(self, actor: str) -> None:
        expected = self.model.check_worker_action(actor, {QUALIFIED})
        if self.attempt(expected, lambda: self.lead.convert(context(actor), uuid.uuid4(), None, True)):
            self.model.status = CONVERTED
            self.model.touched_by(actor)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def reopen(self, actor: str) -> None:
        expected = self.model.check_head_action(actor, {DISQUALIFIED, SPAM})
        if self.attempt(expected, lambda: self.lead.reopen(context(actor), "клиент вернулся")):
            self.model.status = self.model.status_before_close

    @rule(actor=st.sampled_from((*MANAGERS, *MANAGERS, HEAD)))  # merging ends the walk: let the head merge less often
    def merge_into_another_lead(self, actor: str) -> None:
        survivor = Lead.register(context("anna"), uuid.uuid4(), interest("anna"))
        survivor.collect_events()
        expected = self.model.check_head_action(actor, OPEN | {DISQUALIFIED, SPAM})
        if self.attempt(expected, lambda: self.lead.merge_into(context(actor), survivor, None)):
            self.model.status = MERGED
            absorbed = survivor.collect_events()
            assert [type(e.payload) for e in absorbed] == [DuplicateLeadAbsorbed]
        else:
            assert survivor.collect_events() == [], "a refused merge changes no survivor"

    def teardown(self) -> None:
        if hasattr(self, "lead"):
            event(f"ended {self.lead.status}, first touch {'set' if self.lead.first_touch else 'unset'}")

    # --- invariants ---

    @invariant()
    def lead_matches_the_model(self) -> None:
        m = self.model
        assert (self.lead.status, self.lead.holder, self.lead.first_touch) == (m.status, m.holder, m.first_touch)

    @invariant()
    def first_touch_never_changes(self) -> None:
        if self.first_touch_seen is not None:
            assert self.lead.first_touch == self.first_touch_seen, "the first touch changed after it was set"
        self.first_touch_seen = self.lead.first_touch

    @invariant()
    def first_touch_is_recorded_at_most_once(self) -> None:
        touches = [e.payload for e in self.events if isinstance(e.payload, FirstTouchRecorded)]
        assert len(touches) <= 1
        assert [t.employee for t in touches] == ([self.lead.first_touch] if self.lead.first_touch else [])

    @invariant()
    def replay_of_all_events_rebuilds_the_same_lead(self) -> None:
        rebuilt = Lead.replay(None, self.events)
        fields = ("id", "version", "status", "holder", "first_touch", "contacted", "status_before_close",
                  "merged_into", "counterparty_id")  # fmt: skip
        assert {f: getattr(rebuilt, f) for f in fields} == {f: getattr(self.lead, f) for f in fields}
        assert self.lead.version == len(self.events)


TestLeadLifecycle = LeadMachine.TestCase
# Walks are cheap (a few ms) and rare paths need many of them: three times the active profile's examples.
TestLeadLifecycle.settings = settings(max_examples=3 * settings.default.max_examples)


# --- a few named examples of the same rules ---


def run(*steps) -> Lead:
    lead = Lead.register(context(SITE), uuid.uuid4(), interest(SITE))
    for actor, method, *args in steps:
        getattr(lead, method)(context(actor), *args)
    return lead


def test_automatic_assignment_is_not_a_touch() -> None:
    lead = run(("system:router", "assign", "anna", AssignmentRoute.ROTATION, None))
    assert (lead.status, lead.holder, lead.first_touch) == (ASSIGNED, "anna", None)


def test_first_touch_never_changes() -> None:
    lead = run(
        ("system:router", "assign", "anna", AssignmentRoute.ROTATION, None),
        (PBX, "log_call", uuid.uuid4(), "boris", "answered"),
        ("anna", "attempt_contact", ContactOutcome.ANSWERED, ""),
        ("anna", "hand_off", "boss", "эскалация"),
        ("boss", "qualify", ""),
    )
    assert lead.first_touch == "boris"
    assert sum(isinstance(e.payload, FirstTouchRecorded) for e in lead.collect_events()) == 1


def test_reopen_returns_to_the_status_before_closing() -> None:
    lead = run(("boss", "mark_spam", None))
    with pytest.raises(ForbiddenError):
        lead.reopen(context("anna"), "не спам")
    lead.reopen(context("boss"), "не спам")
    assert (lead.status, lead.holder) == (NEW, None)
