"""The need lifecycle as a state machine, checked step by step against a simple model of the rules.

Rules modelled (from the business rules, not from `aggregates/need.py`):

* a need is open until it is closed as a duplicate, cancelled, or converted into a deal;
* only its owner or the head of sales may change items, close, cancel, convert or dismiss alerts;
* a closed need refuses everything with InvalidTransitionError, except that flagging duplicate work on
  it just answers False; the closed state is checked before the actor;
* a duplicate-work alert is raised at most once per other record; flagging it again answers False;
* converting with an alert not yet dismissed is a conflict, unless the head of sales overrides;
  a manager asking to override is forbidden;
* changing items to the very same items records nothing and answers False.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aggregates.base import Context, Event
from aggregates.errors import ConflictError, DomainError, ForbiddenError, InvalidTransitionError
from aggregates.need import Need
from schemas.base import Period
from schemas.employees import Role
from schemas.needs import (
    DuplicateAlertDismissed,
    DuplicateWorkFlagged,
    FlagDuplicateWork,
    MatchKind,
    NeedCancelled,
    NeedClosedAsDuplicate,
    NeedConverted,
    NeedItem,
    NeedItemsChanged,
    NeedRegistered,
)
from schemas.notifications import NotificationRequested
from tests.conftest import NOW, product

MANAGERS = ("anna", "boris")
HEAD = "boss"
EMPLOYEES = (*MANAGERS, HEAD)
OTHER_RECORDS = [uuid.UUID(int=i + 1) for i in range(3)]
PERIOD = Period(start=date(2026, 12, 1), end=date(2026, 12, 31))

# Item lists in a canonical order (by product index), so "the same items" means the same list.
items_strategy = st.dictionaries(st.integers(0, 3), st.integers(1, 3), min_size=1, max_size=3).map(
    lambda chosen: [
        NeedItem(product_id=product(i), quantity=Decimal(q), period=PERIOD) for i, q in sorted(chosen.items())
    ]
)


def context(actor: str) -> Context:
    if actor.startswith("system:"):
        return Context(actor, Role.INTEGRATION, NOW)
    return Context(actor, Role.HEAD_OF_SALES if actor == HEAD else Role.MANAGER, NOW)


def registered(owner: str, items: list[NeedItem]) -> NeedRegistered:
    return NeedRegistered(
        number="П-2026-00001",
        counterparty_id=uuid.uuid4(),
        end_customer=None,
        owner=owner,
        lead_id=None,
        channel="existing_client",
        meeting_id=None,
        meeting_held_by=None,
        items=items,
        comment=None,
    )


def duplicate_work(need_id: UUID, other: UUID) -> FlagDuplicateWork:
    return FlagDuplicateWork(
        need_id=need_id,
        saved_by="anna",
        other_id=other,
        other_kind="deal",
        other_number="П-2025-00042",
        other_owner="boris",
        match=MatchKind.SIMILAR,
        similarity=0.75,
        overlap=[product(0)],
    )


@dataclass
class NeedModel:
    owner: str
    items: list[NeedItem]
    status: str = "open"
    alerts: dict[UUID, UUID] = field(default_factory=dict)  # other record -> alert id
    dismissed: set[UUID] = field(default_factory=set)

    @property
    def closed(self) -> bool:
        return self.status != "open"

    @property
    def pending_alerts(self) -> set[UUID]:
        return set(self.alerts.values()) - self.dismissed

    def check(self, actor: str) -> type[DomainError] | None:
        """The common gate: open first, then owner or head."""
        if self.closed:
            return InvalidTransitionError
        if actor not in (self.owner, HEAD):
            return ForbiddenError
        return None


class NeedMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.need: Need
        self.model: NeedModel
        self.events: list[Event] = []

    def attempt(self, expected: type[DomainError] | None, operation):
        """Run `operation`; success exactly when `expected` is None. Returns (result, new events)."""
        version = self.need.version
        if expected is None:
            result = operation()
            new = self.need.collect_events()
            self.events.extend(new)
            assert self.need.version == version + len(new)
            return result, new
        with pytest.raises(DomainError) as info:
            operation()
        assert type(info.value) is expected, f"expected {expected.__name__}, got {info.value!r}"
        assert self.need.collect_events() == [], "a refused operation records nothing"
        assert self.need.version == version
        return info.value, []

    @initialize(owner=st.sampled_from(MANAGERS), items=items_strategy)
    def register(self, owner: str, items: list[NeedItem]) -> None:
        self.need = Need.register(context(owner), uuid.uuid4(), registered(owner, items))
        self.events = self.need.collect_events()
        self.model = NeedModel(owner=owner, items=items)

    # --- rules ---

    @rule(actor=st.sampled_from(EMPLOYEES), items=items_strategy)
    def change_items(self, actor: str, items: list[NeedItem]) -> None:
        self._change_items(actor, items)

    @rule(actor=st.sampled_from(EMPLOYEES))
    def change_items_to_the_same_items(self, actor: str) -> None:
        self._change_items(actor, list(self.model.items))

    def _change_items(self, actor: str, items: list[NeedItem]) -> None:
        expected = self.model.check(actor)
        changed, new = self.attempt(expected, lambda: self.need.change_items(context(actor), items))
        if expected is None:
            same = items == self.model.items
            assert changed is (not same)
            assert [type(e.payload) for e in new] == ([] if same else [NeedItemsChanged])
            self.model.items = items

    @rule(other=st.sampled_from(OTHER_RECORDS))
    def flag_duplicate(self, other: UUID) -> None:
        raised, new = self.attempt(None, lambda: self.need.flag_duplicate(context("system:dedup"), duplicate_work(self.need.id, other)))
        should_raise = not self.model.closed and other not in self.model.alerts
        assert raised is should_raise
        if should_raise:
            assert [type(e.payload) for e in new] == [DuplicateWorkFlagged, NotificationRequested]
            assert new[0].payload.other_id == other
            assert new[0].payload.alert_id not in self.model.alerts.values(), "each alert has its own id"
            self.model.alerts[other] = new[0].payload.alert_id
        else:
            assert new == [], "a repeated (or late) alert records nothing"

    @rule(actor=st.sampled_from(EMPLOYEES), other=st.sampled_from(OTHER_RECORDS))
    def dismiss_alert(self, actor: str, other: UUID) -> None:
        self._dismiss(actor, other)

    # Open or closed (a closed need must refuse it like everything else: regression for a missing check).
    @precondition(lambda self: self.model.pending_alerts)
    @rule(actor=st.sampled_from((HEAD, "owner", "owner")))
    def dismiss_a_pending_alert(self, actor: str) -> None:
        other = next(o for o, a in self.model.alerts.items() if a not in self.model.dismissed)
        self._dismiss(self.model.owner if actor == "owner" else actor, other)

    def _dismiss(self, actor: str, other: UUID) -> None:
        alert_id = self.model.alerts.get(other, uuid.uuid5(uuid.NAMESPACE_URL, f"no-such-alert:{other}"))
        expected = self.model.check(actor)
        if expected is None and (alert_id not in self.model.alerts.values() or alert_id in self.model.dismissed):
            expected = ConflictError
        _, new = self.attempt(expected, lambda: self.need.dismiss_alert(context(actor), alert_id, "не дубль"))
        if expected is None:
            assert [type(e.payload) for e in new] == [DuplicateAlertDismissed]
            self.model.dismissed.add(alert_id)

    @rule(actor=st.sampled_from(EMPLOYEES), how=st.sampled_from(["duplicate", "duplicate of itself", "cancel"]))
    def close(self, actor: str, how: str) -> None:
        """Closing as a duplicate (never of itself) or cancelling: one rule, so walks stay open for a while."""
        expected = self.model.check(actor)
        if expected is None and how == "duplicate of itself":
            expected = ConflictError
        if how == "cancel":
            closed_by, status = NeedCancelled, "cancelled"

            def operation() -> None:
                self.need.cancel(context(actor), "no_budget", "нет денег")
        else:
            closed_by, status = NeedClosedAsDuplicate, "duplicate"
            duplicate_of = self.need.id if how == "duplicate of itself" else OTHER_RECORDS[0]

            def operation() -> None:
                self.need.close_as_duplicate(context(actor), duplicate_of, "повтор")
        _, new = self.attempt(expected, operation)
        if expected is None:
            assert [type(e.payload) for e in new] == [closed_by]
            self.model.status = status

    @rule(actor=st.sampled_from(EMPLOYEES), override=st.booleans())
    def convert(self, actor: str, override: bool) -> None:
        expected = self.model.check(actor)
        if expected is None and override and actor != HEAD:
            expected = ForbiddenError
        if expected is None and self.model.pending_alerts and not override:
            expected = ConflictError
        deal_id = uuid.uuid4()
        _, new = self.attempt(expected, lambda: self.need.convert(context(actor), deal_id, override))
        if expected is None:
            assert [type(e.payload) for e in new] == [NeedConverted]
            assert new[0].payload.deal_id == deal_id
            assert new[0].payload.alert_overridden is bool(self.model.pending_alerts)
            self.model.status = "converted"

    def teardown(self) -> None:
        if hasattr(self, "need"):
            event(f"ended {self.need.status} with {len(self.model.alerts)} alert(s)")

    # --- invariants ---

    @invariant()
    def need_matches_the_model(self) -> None:
        m = self.model
        assert (self.need.status, self.need.owner, self.need.items) == (m.status, m.owner, m.items)
        assert {a.other_id: a.alert_id for a in self.need.alerts.values()} == m.alerts
        assert {a.alert_id for a in self.need.unresolved_alerts} == m.pending_alerts

    @invariant()
    def replay_of_all_events_rebuilds_the_same_need(self) -> None:
        rebuilt = Need.replay(None, self.events)
        fields = ("id", "version", "number", "owner", "status", "items", "alerts", "dismissed", "alerted_with")
        assert {f: getattr(rebuilt, f) for f in fields} == {f: getattr(self.need, f) for f in fields}
        assert self.need.version == len(self.events)

    @invariant()
    def an_alert_is_raised_at_most_once_per_other_record(self) -> None:
        others = [e.payload.other_id for e in self.events if isinstance(e.payload, DuplicateWorkFlagged)]
        assert len(others) == len(set(others))


TestNeedLifecycle = NeedMachine.TestCase
# Walks are cheap (a few ms) and rare paths need many of them: three times the active profile's examples.
TestNeedLifecycle.settings = settings(max_examples=3 * settings.default.max_examples)


# --- named examples ---


def new_need(owner: str = "anna") -> Need:
    need = Need.register(context(owner), uuid.uuid4(), registered(owner, [NeedItem(product_id=product(0), quantity=Decimal(5), period=PERIOD)]))
    need.collect_events()
    return need


def test_an_undismissed_alert_blocks_conversion_unless_the_head_overrides() -> None:
    need = new_need()
    assert need.flag_duplicate(context("system:dedup"), duplicate_work(need.id, OTHER_RECORDS[0]))
    with pytest.raises(ConflictError):
        need.convert(context("anna"), uuid.uuid4(), False)
    with pytest.raises(ForbiddenError):
        need.convert(context("anna"), uuid.uuid4(), True)
    need.convert(context("boss"), uuid.uuid4(), True)
    assert need.status == "converted"


@pytest.mark.parametrize("close", ["cancel", "close_as_duplicate", "convert_with_override"])
def test_a_closed_need_refuses_to_dismiss_alerts(close: str) -> None:
    need = new_need()
    need.flag_duplicate(context("system:dedup"), duplicate_work(need.id, OTHER_RECORDS[0]))
    alert_id = next(iter(need.alerts))
    if close == "cancel":
        need.cancel(context("anna"), "no_budget", "нет денег")
    elif close == "close_as_duplicate":
        need.close_as_duplicate(context("anna"), OTHER_RECORDS[1], "повтор")
    else:
        need.convert(context("boss"), uuid.uuid4(), True)
    need.collect_events()
    with pytest.raises(InvalidTransitionError):
        need.dismiss_alert(context("anna"), alert_id, "поздно")
    assert need.collect_events() == []
