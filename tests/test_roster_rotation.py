"""The round-robin rotation, checked assignment by assignment against a simple model.

Rules: members join at the end of the roster; away members are skipped; each assignment goes to the
next available member after the last assignee in roster order, wrapping around; nobody available means
no assignment; a member leaving keeps the order of the rest (and the turn passes on from where the
leaver stood). Only the head of sales adds members; a member joins once; marking away/back applies to
members only.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import event, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aggregates.base import Context, Event
from aggregates.errors import ConflictError, DomainError, ForbiddenError
from aggregates.roster import Roster
from schemas.employees import Role, RotationAdvanced
from tests.conftest import NOW

PEOPLE = ("anna", "boris", "vera", "gleb", "dina")
HEAD = Context("boss", Role.HEAD_OF_SALES, NOW)
MANAGER = Context("anna", Role.MANAGER, NOW)
SYSTEM = Context("system:router", Role.INTEGRATION, NOW)


@dataclass
class RotationModel:
    members: list[str] = field(default_factory=list)
    away: set[str] = field(default_factory=set)
    # Whose turn comes after: the last assignee, or (if that one left) whoever stood before them.
    # None means "start from the top of the roster".
    after: str | None = None

    def leave(self, name: str) -> None:
        position = self.members.index(name)
        if self.after == name:
            self.after = self.members[position - 1] if position > 0 else None
        self.members.remove(name)
        self.away.discard(name)

    def next_assignee(self) -> str | None:
        start = 0 if self.after is None else self.members.index(self.after) + 1
        n = len(self.members)
        for step in range(n):
            candidate = self.members[(start + step) % n]
            if candidate not in self.away:
                return candidate
        return None


class RosterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.roster = Roster()
        self.model = RotationModel()
        self.events: list[Event] = []
        self.assignments = 0

    def attempt(self, expected: type[DomainError] | None, operation) -> list[Event]:
        version = self.roster.version
        if expected is None:
            operation()
            new = self.roster.collect_events()
            self.events.extend(new)
            assert self.roster.version == version + len(new)
            return new
        with pytest.raises(DomainError) as info:
            operation()
        assert type(info.value) is expected, f"expected {expected.__name__}, got {info.value!r}"
        assert self.roster.collect_events() == []
        assert self.roster.version == version
        return []

    @initialize(names=st.lists(st.sampled_from(PEOPLE), unique=True, max_size=4))
    def start_with_members(self, names: list[str]) -> None:
        for name in names:
            self.join(name, by_head=True)

    @rule(name=st.sampled_from(PEOPLE), by_head=st.sampled_from([True, True, False]))
    def join(self, name: str, by_head: bool) -> None:
        expected = None if by_head else ForbiddenError
        if expected is None and name in self.model.members:
            expected = ConflictError
        if self.attempt(expected, lambda: self.roster.join(HEAD if by_head else MANAGER, name)):
            self.model.members.append(name)

    @rule(name=st.sampled_from(PEOPLE))
    def leave(self, name: str) -> None:
        new = self.attempt(None, lambda: self.roster.leave(HEAD, name))
        if name in self.model.members:
            assert len(new) == 1
            self.model.leave(name)
        else:
            assert new == [], "leaving when not a member records nothing"

    @precondition(lambda self: self.model.after is not None)
    @rule()
    def last_assignee_leaves(self) -> None:
        self.leave(self.model.after)

    @rule(name=st.sampled_from(PEOPLE))
    def mark_away(self, name: str) -> None:
        expected = None if name in self.model.members else ConflictError
        new = self.attempt(expected, lambda: self.roster.mark_away(HEAD, name))
        if expected is None:
            assert len(new) == (0 if name in self.model.away else 1)
            self.model.away.add(name)

    @rule(name=st.sampled_from(PEOPLE))
    def mark_back(self, name: str) -> None:
        expected = None if name in self.model.members else ConflictError
        new = self.attempt(expected, lambda: self.roster.mark_back(HEAD, name))
        if expected is None:
            assert len(new) == (1 if name in self.model.away else 0)
            self.model.away.discard(name)

    @rule(times=st.integers(1, 4))
    def assign(self, times: int) -> None:
        for _ in range(times):
            self._assign_once()

    def _assign_once(self) -> None:
        subject = uuid.uuid4()
        expected = self.model.next_assignee()
        version = self.roster.version
        assignee = self.roster.assign(SYSTEM, subject)
        new = self.roster.collect_events()
        assert assignee == expected, f"rotation gave {assignee}, the rules say {expected}"
        if expected is None:
            assert new == [] and self.roster.version == version
        else:
            assert [e.payload for e in new] == [RotationAdvanced(subject_id=subject, assignee=expected)]
            self.events.extend(new)
            self.model.after = expected
            self.assignments += 1

    def teardown(self) -> None:
        event(f"{min(self.assignments, 10)}{'+' if self.assignments >= 10 else ''} assignments")

    @invariant()
    def roster_matches_the_model(self) -> None:
        assert self.roster.members == self.model.members
        assert self.roster.away == self.model.away
        assert self.roster.available() == [m for m in self.model.members if m not in self.model.away]

    @invariant()
    def replay_of_all_events_rebuilds_the_same_roster(self) -> None:
        rebuilt = Roster.replay(None, self.events) or Roster()
        fields = ("id", "version", "members", "away", "next_index")
        assert {f: getattr(rebuilt, f) for f in fields} == {f: getattr(self.roster, f) for f in fields}
        assert self.roster.version == len(self.events)


TestRosterRotation = RosterMachine.TestCase
# Walks are cheap (a few ms) and rare paths need many of them: three times the active profile's examples.
TestRosterRotation.settings = settings(max_examples=3 * settings.default.max_examples)


def roster_of(*names: str) -> Roster:
    roster = Roster()
    for name in names:
        roster.join(HEAD, name)
    return roster


@given(members=st.integers(1, len(PEOPLE)), assignments=st.integers(0, 60))
def test_rotation_shares_work_evenly_among_available_members(members: int, assignments: int) -> None:
    roster = roster_of(*PEOPLE[:members])
    counts = Counter(roster.assign(SYSTEM, uuid.uuid4()) for _ in range(assignments))
    assert None not in counts
    for name in PEOPLE[:members]:
        assert assignments // members <= counts[name] <= -(-assignments // members)


@given(members=st.integers(2, len(PEOPLE)), away=st.data(), assignments=st.integers(0, 40))
def test_away_members_get_nothing_and_the_rest_share_evenly(members: int, away: st.DataObject, assignments: int) -> None:
    names = PEOPLE[:members]
    gone = away.draw(st.sets(st.sampled_from(names), max_size=members - 1))
    roster = roster_of(*names)
    for name in gone:
        roster.mark_away(HEAD, name)
    counts = Counter(roster.assign(SYSTEM, uuid.uuid4()) for _ in range(assignments))
    present = len(names) - len(gone)
    assert not set(counts) & gone
    for name in set(names) - gone:
        assert assignments // present <= counts[name] <= -(-assignments // present)


def test_nobody_available_means_no_assignment() -> None:
    roster = roster_of("anna", "boris")
    roster.mark_away(HEAD, "anna")
    roster.mark_away(HEAD, "boris")
    roster.collect_events()
    assert roster.assign(SYSTEM, uuid.uuid4()) is None
    assert roster.collect_events() == []


def test_a_member_leaving_keeps_the_order_of_the_rest() -> None:
    roster = roster_of("anna", "boris", "vera", "gleb")
    assert roster.assign(SYSTEM, uuid.uuid4()) == "anna"
    assert roster.assign(SYSTEM, uuid.uuid4()) == "boris"
    roster.leave(HEAD, "boris")
    assert [roster.assign(SYSTEM, uuid.uuid4()) for _ in range(4)] == ["vera", "gleb", "anna", "vera"]


def test_a_member_who_joins_after_the_last_assignee_is_next() -> None:
    roster = roster_of("anna", "boris")
    assert [roster.assign(SYSTEM, uuid.uuid4()) for _ in range(2)] == ["anna", "boris"]
    roster.join(HEAD, "vera")
    assert roster.assign(SYSTEM, uuid.uuid4()) == "vera", "vera stands right after boris, the last assignee"
