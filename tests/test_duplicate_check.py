"""The duplicate-work check as a process manager over the log (seed 001, SPEC 1.5)."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import create_engine

from aggregates.need import Need
from consumers.duplicate_check import DuplicateCheck
from consumers.process_runner import ProcessRunner
from schemas import counterparties as c, needs as n
from tests.conftest import HEAD, manager, product

PERIOD = {"start": "2026-12-01", "end": "2026-12-31"}


@pytest.fixture
def check(department, store, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")

    def runner() -> ProcessRunner:
        return ProcessRunner(engine, store.read_batch, DuplicateCheck(department.handle, 0.8), "duplicate_check")

    return runner


def counterparty(service, inn: str, name: str) -> UUID:
    return UUID(service.handle(c.RegisterCounterparty(counterparty={"inn": inn, "kpp": "773601001", "name": name}, owner="anna"), HEAD).id)


def need(service, who: str, client: UUID, *products: int, **extra) -> UUID:
    items = [{"product_id": product(i), "quantity": 3, "period": PERIOD} for i in products]
    return UUID(service.handle(n.RegisterNeed(counterparty_id=client, items=items, **extra), manager(who)).id)


def alerts(store, need_id: UUID) -> list:
    return list(store.get(Need, need_id).alerts.values())


def test_dealer_and_end_buyer_needs_with_the_same_products_alert_all_three(department, store, check):
    dealer, clinic = counterparty(department, "7707083893", "ООО МедДилер"), counterparty(department, "7736050003", "ГБУЗ ГКБ 7")
    first = need(department, "anna", dealer, 0, 1, 2, end_customer={"name": "ГБУЗ ГКБ 7"})
    second = need(department, "boris", clinic, 2, 1, 0)
    check().run_until_caught_up()
    [alert] = alerts(store, second)
    assert (alert.other_id, alert.match, alert.other_owner, alert.saved_by) == (first, "exact", "anna", "boris")
    notice = [e.payload for _, e in store.read(topics=["NotificationRequested"])][-1]
    assert notice.recipients == ["boris", "anna", "role:head_of_sales"] and alerts(store, first) == []


def test_similar_above_the_threshold_alerts_and_below_does_not(department, store, check):
    client = counterparty(department, "7707083893", "ООО Клиника")
    base = need(department, "anna", client, 0, 1, 2, 3, 4)
    above = need(department, "boris", client, 0, 1, 2, 3, 4, 5)  # 5/6 = 0.83
    below = need(department, "vera", client, 1, 2, 3, 4, 6, 7)  # with base 4/7, with above 4/8
    check().run_until_caught_up()
    assert [(a.other_id, a.match) for a in alerts(store, above)] == [(base, "similar")]
    assert alerts(store, below) == []


def test_a_closed_need_and_the_deal_made_from_a_need_are_not_matched(department, store, check):
    client = counterparty(department, "7707083893", "ООО Клиника")
    cancelled = need(department, "anna", client, 0, 1)
    department.handle(n.CancelNeed(need_id=cancelled, reason="other", comment="передумали"), manager("anna"))
    converted = need(department, "anna", client, 3, 4)
    department.handle(n.ConvertNeedToDeal(need_id=converted), manager("anna"))
    fresh = need(department, "boris", client, 0, 1)
    check().run_until_caught_up()
    assert alerts(store, fresh) == [] and alerts(store, converted) == []
    repeat = need(department, "vera", client, 3, 4)
    check().run_until_caught_up()
    assert [a.other_kind for a in alerts(store, repeat)] == ["deal"]  # the open deal's products


def test_a_restart_raises_nothing_new_and_saving_the_same_set_again_raises_nothing(department, store, check):
    client = counterparty(department, "7707083893", "ООО Клиника")
    need(department, "anna", client, 0, 1)
    second = need(department, "boris", client, 0, 1)
    check().run_until_caught_up()
    items = [{"product_id": product(i), "quantity": 9, "period": PERIOD} for i in (0, 1)]
    department.handle(n.ChangeNeedItems(need_id=second, items=items), manager("boris"))  # quantities only
    check().run_until_caught_up()  # a new process: state rebuilt silently, then acts on what is new
    assert len(list(store.read(topics=["DuplicateWorkFlagged"]))) == 1


def test_a_crash_before_the_position_is_saved_repeats_commands_harmlessly(department, store, check, tmp_path):
    from sqlalchemy import delete

    from projections.base import tracking

    client = counterparty(department, "7707083893", "ООО Клиника")
    need(department, "anna", client, 0, 1)
    need(department, "boris", client, 0, 1)
    runner = check()
    runner.run_until_caught_up()
    with runner.engine.begin() as conn:  # as if the process died after dispatching, before saving
        conn.execute(delete(tracking))
    check().run_until_caught_up()
    assert len(list(store.read(topics=["DuplicateWorkFlagged"]))) == 1
