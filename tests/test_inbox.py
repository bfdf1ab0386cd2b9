"""Inbox: alerts reach the named employees and the head of sales; read and dismissed per employee."""

from __future__ import annotations

import time

from functools import partial

from fastapi.testclient import TestClient

from aggregates.catalog import product_id
from schemas.employees import Role
from tests.conftest import PRODUCTS, bearer, seed_department
from voronka.wiring import bootstrap, create_app


def test_a_duplicate_alert_reaches_all_three_and_each_reads_or_dismisses_their_own(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)

    as_ = partial(bearer, container)

    with TestClient(create_app(container)) as client:
        cp = client.post("/commands/register-counterparty", headers=as_("boss", Role.HEAD_OF_SALES), json={
            "counterparty": {"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, "owner": "anna"}).json()["id"]  # fmt: skip
        items = [{"product_id": str(product_id(PRODUCTS[i])), "quantity": "1", "period": {"start": "2026-12-01", "end": "2026-12-31"}} for i in (0, 1)]
        client.post("/commands/register-need", headers=as_("anna"), json={"counterparty_id": cp, "items": items})
        client.post("/commands/register-need", headers=as_("boris"), json={"counterparty_id": cp, "items": items})

        def inbox(who, role=Role.MANAGER, **params):
            for _ in range(200):  # the duplicate check runs in the background loop
                answer = client.get("/inbox", headers=as_(who, role), params=params).json()
                if answer or params:
                    return answer
                time.sleep(0.02)
            return answer

        boss_view, anna_view, boris_view = inbox("boss", Role.HEAD_OF_SALES), inbox("anna"), inbox("boris")
        assert [n["kind"] for n in boss_view] == [n["kind"] for n in anna_view] == [n["kind"] for n in boris_view] == ["duplicate_need"]
        assert inbox("vera") == []
        notice = anna_view[0]["notification_id"]
        client.post("/commands/mark-notification-read", headers=as_("anna"), json={"notification_id": notice})
        done = client.post("/commands/dismiss-notification", headers=as_("boris"), json={"notification_id": notice}).json()
        anna_now = client.get("/inbox", headers=as_("anna", token=done["token"])).json()
        assert anna_now[0]["read"] is True and anna_now[0]["dismissed"] is False
        assert client.get("/inbox", headers=as_("boris")).json() == []
        assert client.get("/inbox", headers=as_("boris"), params={"include_dismissed": True}).json()[0]["dismissed"] is True
        assert client.get("/inbox", headers=as_("boss", Role.HEAD_OF_SALES)).json()[0]["read"] is False
        assert client.get("/inbox", headers=as_("olga", Role.OPS)).status_code == 403


def test_a_duplicate_alert_shows_the_other_record_and_hides_its_client_and_prices_from_other_managers(app_settings, store):
    from schemas import counterparties as c, deals as d, needs as n
    from tests.conftest import HEAD, manager, product, seed_department
    from voronka.wiring import bootstrap, create_app, step

    container = bootstrap(app_settings, store)
    s = container.service
    seed_department(s)
    dealer = s.handle(c.RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО МедДилер"}, owner="anna"), HEAD).id
    clinic = s.handle(c.RegisterCounterparty(counterparty={"inn": "7736050003", "kpp": "773601001", "name": "ГБУЗ ГКБ 7"}, owner="boris"), HEAD).id
    items = [{"product_id": str(product(i)), "quantity": 2, "period": {"start": "2026-12-01", "end": "2026-12-31"}} for i in (0, 1)]
    anna_need = s.handle(n.RegisterNeed(counterparty_id=dealer, items=items), manager("anna")).id
    deal = s.handle(n.ConvertNeedToDeal(need_id=anna_need), manager("anna")).id
    s.handle(d.IssueProposal(deal_id=deal, lines=[{"product_id": product(i), "quantity": 2, "unit_price": "990.50"} for i in (0, 1)]), manager("anna"))
    s.handle(n.RegisterNeed(counterparty_id=clinic, items=items), manager("boris"))
    while step(container):
        pass
    with TestClient(create_app(container)) as client:
        def alert_for(employee, role=Role.MANAGER):
            notices = client.get("/inbox", headers=bearer(container, employee, role)).json()
            return next(x["details"] for x in notices if x["kind"] == "duplicate_need")

        boris, anna, head = alert_for("boris"), alert_for("anna"), alert_for("boss", Role.HEAD_OF_SALES)
    assert (boris["other_kind"], boris["other_owner"], boris["match"]) == ("deal", "anna", "exact")
    assert boris["other_number"] == "N-2026-000001"
    assert sorted(p["name"] for p in boris["products"]) == ["Шприц 0 мл", "Шприц 1 мл"] == sorted(p["name"] for p in boris["overlap"])
    assert boris["counterparty"] is None and all(p["unit_price"] is None for p in boris["products"])  # another manager's deal
    for privileged in (anna, head):
        assert privileged["counterparty"] == "ООО МедДилер"
        assert {p["unit_price"] for p in privileged["products"]} == {"990.50"}
