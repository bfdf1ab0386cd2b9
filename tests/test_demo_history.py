"""The demo's generated history: realistic by the seeds' figures, written through the domain, and repeatable.

One generation is shared by the module (a few seconds); it runs on the embedded SQLite store whatever
VORONKA_TEST_BACKEND says, since the generator is the demo's and the facts checked do not depend on the store.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from aggregates.policy import DEFAULT_CHANNELS
from tests.conftest import logged_events
from voronka.demo_history import CALLS_PER_DAY, generate
from voronka.logging import configure_logging
from voronka.settings import Settings
from voronka.wiring import bootstrap

MOSCOW = ZoneInfo("Europe/Moscow")
END = datetime(2026, 11, 20, 18, 30, tzinfo=MOSCOW)  # a Friday evening: every day of the window is whole
DAYS = 35


def history(tmp_path, seed: int = 7, scale: float = 0.2, days: int = DAYS, end: datetime | None = END):
    configure_logging("warning")
    container = bootstrap(Settings(data_dir=tmp_path))
    generate(container, random.Random(seed), scale=scale, days=days, end=end)
    return logged_events(container.store)


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    return history(tmp_path_factory.mktemp("demo"))


def of(events, *types):
    return [e for e in events if e.type in types]


def test_every_default_channel_brings_interests(events):
    channels = {e.payload.channel for e in of(events, "InterestRegistered")}
    assert channels == set(DEFAULT_CHANNELS)


def test_generators_dial_within_the_seed_range_on_every_working_day(events):
    generators = {e.payload.employee_id for e in of(events, "EmployeeRegistered") if e.payload.sales_profile == "generator"}
    per_day = defaultdict(int)
    for call in of(events, "CallLogged"):
        if call.payload.employee in generators:
            per_day[(call.payload.employee, call.payload.started_at.astimezone(MOSCOW).date())] += 1
    low, high = CALLS_PER_DAY["generator"]
    assert per_day and all(low <= count <= high for count in per_day.values()), sorted(per_day.values())
    working_days = {day for _, day in per_day}
    assert len(working_days) >= DAYS * 5 // 7 - 2 and all(day.weekday() < 5 for day in working_days)
    assert len(per_day) == len(generators) * len(working_days)


def test_calls_have_realistic_outcomes_and_durations(events):
    calls = [e.payload for e in of(events, "CallLogged")]
    answered = [c for c in calls if c.outcome == "answered"]
    assert {c.outcome for c in calls} == {"answered", "missed", "busy"}
    assert 0.3 < len(answered) / len(calls) < 0.7
    assert any(c.duration_seconds < 20 for c in answered) and any(c.duration_seconds > 30 * 60 for c in answered)
    assert of(events, "CallScored"), "the head of sales listens to a few calls a week (seed 003)"


def test_meetings_set_by_generators_are_held_missed_or_cancelled(events):
    assert {e.type for e in of(events, "MeetingHeld", "MeetingNoShow", "MeetingCancelled")} == {
        "MeetingHeld", "MeetingNoShow", "MeetingCancelled"}  # fmt: skip
    set_by = {e.payload.generator for e in of(events, "MeetingScheduled")}
    profiles = {e.payload.employee_id: e.payload.sales_profile for e in of(events, "EmployeeRegistered")}
    assert "generator" in {profiles[g] for g in set_by}


def test_a_dealer_and_its_end_buyer_asking_for_the_same_goods_raise_a_duplicate_alert(events):
    needs = {e.originator_id: e.payload for e in of(events, "NeedRegistered")}
    deals = {e.originator_id: needs[e.payload.need_id] for e in of(events, "DealOpened")}
    inn = {e.originator_id: e.payload.inn for e in of(events, "CounterpartyRegistered")}

    def dealer_for(need, other) -> bool:
        return bool(need.end_customer and need.end_customer.inn == inn[other.counterparty_id])

    pairs = [(needs[alert.originator_id], needs.get(alert.payload.other_id) or deals[alert.payload.other_id])
             for alert in of(events, "DuplicateWorkFlagged")]  # fmt: skip
    assert any(dealer_for(a, b) or dealer_for(b, a) for a, b in pairs)


def test_deals_go_through_the_stages_to_won_and_lost(events):
    assert of(events, "DealWon") and of(events, "DealLost")
    terms = [e.payload.payment_terms for e in of(events, "DealOpened")]
    assert terms.count("prepaid") > terms.count("postpaid")  # seed 001: "almost always" prepaid
    reached = {e.payload.to_stage for e in of(events, "DealStageChanged")}
    assert {"negotiation", "documents", "paid", "fulfilment", "shipped", "closing_documents"} <= reached
    assert of(events, "PaymentReceived") and of(events, "ShipmentDispatched") and of(events, "ContractSigned")


def test_leads_are_disqualified_with_reasons_and_handed_between_people(events):
    assert len({e.payload.reason for e in of(events, "LeadDisqualified")}) >= 4
    assert of(events, "LeadHandedOff") and of(events, "LeadQualified") and of(events, "LeadConverted")
    assert of(events, "SurveyRequested") and of(events, "SurveyAnswered")


def test_the_scheduler_flags_overdue_follow_ups_at_business_hours(events):
    overdue = of(events, "FollowUpBecameOverdue")
    assert overdue
    for flag in overdue:
        at = flag.occurred_at.astimezone(MOSCOW)
        assert flag.payload.due_at <= flag.occurred_at and time(9) <= at.time() <= time(18) and at.weekday() < 5
    assert of(events, "LeadResponseOverdue"), "some interests wait past the response SLA"


def test_business_times_stay_within_the_window(events):
    first_day = (END - timedelta(days=DAYS - 1)).date()
    times = [e.occurred_at for e in events]
    assert min(times).astimezone(MOSCOW).date() >= first_day and max(times) <= END
    assert all(e.recorded_at >= e.occurred_at for e in events)


def test_a_window_ending_now_never_writes_the_future(tmp_path):
    events = history(tmp_path, scale=0.05, days=5, end=None)
    assert events and max(e.occurred_at for e in events) <= datetime.now(UTC)


def test_the_same_seed_writes_the_same_history(tmp_path):
    first = history(tmp_path / "a", seed=11, scale=0.05, days=5)
    again = history(tmp_path / "b", seed=11, scale=0.05, days=5)
    assert len(first) > 500
    assert [e.type for e in first] == [e.type for e in again]
    assert [e.occurred_at for e in first] == [e.occurred_at for e in again]
