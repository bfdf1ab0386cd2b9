"""The scheduler records late leads, overdue follow-ups and deals left without a follow-up, once each."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import create_engine

from aggregates.lead import Lead
from consumers.process_runner import ProcessRunner
from consumers.scheduler import Scheduler
from schemas import counterparties as c, deals as d, leads as l, needs as n
from tests.conftest import HEAD, NOW, SITE, manager, product


@pytest.fixture
def scheduler(department, store, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    scheduler = Scheduler(department.handle, timedelta(hours=2), timedelta(days=1))
    runner = ProcessRunner(engine, store.read_batch, scheduler, "scheduler")

    def tick(at):
        runner.run_until_caught_up()
        scheduler.tick(at)
        runner.run_until_caught_up()

    return tick


def events(store, kind: str) -> list:
    return [e for _, e in store.read(topics=[kind])]


def test_an_uncontacted_lead_is_flagged_to_its_holder_then_to_the_head_of_sales(department, store, scheduler):
    lead = UUID(department.handle(l.RegisterInterest(channel="email", contact={"email": "a@b.ru"}, occurred_at=NOW), SITE).id)
    holder = store.get(Lead, lead).holder
    contacted = UUID(department.handle(l.RegisterInterest(channel="email", contact={"email": "z@b.ru"}, occurred_at=NOW), SITE).id)
    department.handle(l.RecordContactAttempt(lead_id=contacted, outcome="answered", occurred_at=NOW + timedelta(minutes=10)),
                      manager(store.get(Lead, contacted).holder))  # fmt: skip
    scheduler(NOW + timedelta(hours=1))
    assert events(store, "LeadResponseOverdue") == []
    scheduler(NOW + timedelta(hours=2, minutes=1))
    scheduler(NOW + timedelta(hours=3))
    flags = [(e.originator_id, e.payload.escalated) for e in events(store, "LeadResponseOverdue")]
    assert flags == [(lead, False)]
    scheduler(NOW + timedelta(hours=4, minutes=1))
    notices = [e.payload.recipients for e in events(store, "NotificationRequested") if e.payload.kind == "response_sla"]
    assert notices == [[holder], ["role:head_of_sales"]]


def test_overdue_follow_ups_and_deals_without_a_next_step_are_flagged_once(department, store, scheduler):
    client = UUID(department.handle(c.RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, owner="anna"), HEAD).id)
    items = [{"product_id": product(0), "quantity": 1, "period": {"start": "2026-12-01", "end": "2026-12-31"}}]
    need = department.handle(n.RegisterNeed(counterparty_id=client, items=items, occurred_at=NOW), manager("anna"))
    deal = UUID(department.handle(n.ConvertNeedToDeal(need_id=need.id, occurred_at=NOW), manager("anna")).id)
    department.handle(d.ScheduleFollowUp(deal_id=deal, kind="call", due_at=NOW + timedelta(hours=5), occurred_at=NOW), manager("anna"))
    scheduler(NOW + timedelta(hours=4))
    assert events(store, "FollowUpBecameOverdue") == []
    scheduler(NOW + timedelta(hours=6))
    scheduler(NOW + timedelta(hours=7))
    assert len(events(store, "FollowUpBecameOverdue")) == 1
    scheduler(NOW + timedelta(hours=6) + timedelta(days=1, minutes=1))
    scheduler(NOW + timedelta(days=3))
    assert len(events(store, "DealLeftWithoutFollowUp")) == 1
