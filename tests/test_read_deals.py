"""Deals through HTTP: stage and payments as projected; a manager sees deals they hold or held."""

from __future__ import annotations

from functools import partial

from fastapi.testclient import TestClient

from aggregates.catalog import product_id
from schemas.employees import Role
from tests.conftest import PRODUCTS, bearer, seed_department
from voronka.wiring import bootstrap, create_app


def test_deal_list_and_card_follow_the_stages_and_visibility(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)

    as_ = partial(bearer, container)

    with TestClient(create_app(container)) as client:
        cp = client.post("/commands/register-counterparty", headers=as_("boss", Role.HEAD_OF_SALES), json={
            "counterparty": {"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, "owner": "anna"}).json()["id"]  # fmt: skip
        pid = str(product_id(PRODUCTS[0]))
        need = client.post("/commands/register-need", headers=as_("anna"), json={"counterparty_id": cp, "items": [
            {"product_id": pid, "quantity": "2", "period": {"start": "2026-12-01", "end": "2026-12-31"}}]}).json()["id"]  # fmt: skip
        deal = client.post("/commands/convert-need-to-deal", headers=as_("anna"), json={"need_id": need}).json()["id"]
        client.post("/commands/issue-proposal", headers=as_("anna"), json={"deal_id": deal, "lines": [
            {"product_id": pid, "quantity": "2", "unit_price": "150.00"}]})  # fmt: skip
        client.post("/commands/send-documents", headers=as_("anna"), json={"deal_id": deal, "invoice_number": "1", "contract_number": "2"})
        paid = client.post("/commands/record-payment", headers=as_("anna"), json={"deal_id": deal, "amount": "100.00", "paid_on": "2026-11-23"}).json()
        handed = client.post("/commands/hand-off-deal", headers=as_("anna"), json={"deal_id": deal, "to": "boris", "reason": "отпуск"}).json()
        card = client.get(f"/deals/{deal}", headers=as_("anna", token=handed["token"])).json()
        assert (card["stage"], card["owner"], card["total"], card["paid"]) == ("documents", "boris", "300.00", "100.00")
        assert paid["position"] < handed["position"]
        assert [d["number"] for d in client.get("/deals", headers=as_("boris")).json()["items"]] == [card["number"]]
        assert client.get(f"/deals/{deal}", headers=as_("vera")).status_code == 404
        assert client.get("/deals", headers=as_("vera")).json()["items"] == []
        assert client.get("/deals?stage=documents", headers=as_("ana", Role.ANALYST)).json()["items"][0]["deal_id"] == deal
