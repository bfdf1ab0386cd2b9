"""Funnel: stages reached (skips allowed), stage-to-stage conversion, time in stage, win rate, cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi.testclient import TestClient

from schemas import counterparties as c, deals as d, needs as n
from schemas.employees import Role
from tests.conftest import HEAD, deliver, logged_events, manager, product, rebuild, rows, seed_department
from voronka.wiring import bootstrap, create_app

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_funnel_known_answer(app_settings, store):
    container = bootstrap(app_settings, store)
    s = container.service
    seed_department(s)
    cp = UUID(s.handle(c.RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, owner="anna"), HEAD).id)
    me = manager("anna")
    lines = [{"product_id": product(0), "quantity": 1, "unit_price": "100"}]

    def deal(day: int) -> UUID:
        items = [{"product_id": product(0), "quantity": 1, "period": {"start": "2026-12-01", "end": "2026-12-31"}}]
        need = s.handle(n.RegisterNeed(counterparty_id=cp, items=items, occurred_at=T0), me)
        deal_id = UUID(s.handle(n.ConvertNeedToDeal(need_id=need.id, occurred_at=T0 + timedelta(days=day)), me).id)
        s.handle(d.IssueProposal(deal_id=deal_id, lines=lines, occurred_at=T0 + timedelta(days=day)), me)
        return deal_id

    won = deal(0)  # proposal 2 days -> documents (skips negotiation) 1 day -> paid ... won on day 6
    for step, day in ((d.SendDocuments(deal_id=won, invoice_number="1", contract_number="1"), 2),
                      (d.SignContract(deal_id=won, signed_on="2026-11-05"), 3),
                      (d.RecordPayment(deal_id=won, amount="100", paid_on="2026-11-05"), 3),
                      (d.StartFulfilment(deal_id=won, mode="own_stock"), 4),
                      (d.RecordShipment(deal_id=won, items=[{"product_id": product(0), "quantity": 1}], shipped_on="2026-11-06"), 5),
                      (d.ReceiveClosingDocuments(deal_id=won), 6), (d.WinDeal(deal_id=won), 6)):  # fmt: skip
        s.handle(step.model_copy(update={"occurred_at": T0 + timedelta(days=day)}), me)
    lost = deal(0)
    s.handle(d.StartNegotiation(deal_id=lost, occurred_at=T0 + timedelta(days=4)), me)
    s.handle(d.LoseDeal(deal_id=lost, reason="price", occurred_at=T0 + timedelta(days=10)), me)
    open_deal = deal(1)

    with TestClient(create_app(container)) as client:
        token = s.handle(d.ScheduleFollowUp(deal_id=open_deal, kind="call", due_at=T0 + timedelta(days=20)), me).token
        report = client.get("/reports/funnel", headers={"Authorization": f"Bearer {container.tokens.issue('boss', Role.HEAD_OF_SALES)}",
                                                        "X-Consistency-Token": token}).json()  # fmt: skip
    stages = {f["stage"]: f for f in report["stages"]}
    assert (stages["proposal"]["reached"], stages["proposal"]["now_in_stage"]) == (3, 1)
    assert stages["proposal"]["to_next_stage"] == round(2 / 3, 4)  # the won one skipped negotiation
    assert stages["proposal"]["median_days_in_stage"] == 3.0  # 2 days and 4 days
    assert stages["negotiation"]["reached"] == 1 and stages["negotiation"]["to_next_stage"] == 0.0
    assert stages["closing_documents"]["to_next_stage"] == 1.0
    assert (report["won"], report["lost"], report["win_rate"]) == (1, 1, 0.5)
    assert report["median_cycle_days"] == 8.0  # 6 days and 10 days


def test_funnel_rows_survive_redelivery(app_settings, store, tmp_path):
    from projections.funnel import FunnelProjection, stays

    test_funnel_known_answer(app_settings, store)
    clean = rows(rebuild(FunnelProjection, store, tmp_path / "a.sqlite"), stays)
    events = logged_events(store)
    twice = rows(deliver(FunnelProjection, events + events[: len(events) // 2] + events, tmp_path / "b.sqlite"), stays)
    assert twice == clean and len(clean) == 11  # 7 + 3 + 1 stays
