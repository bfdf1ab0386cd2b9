"""The needs registry through HTTP: own vs all, open/closed filters, pagination, CSV; 401 and 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aggregates.catalog import product_id
from schemas.employees import Role
from tests.conftest import PRODUCTS, bearer, seed_department
from voronka.wiring import bootstrap, create_app

PERIOD = {"start": "2026-12-01", "end": "2026-12-31"}


auth = bearer


@pytest.fixture
def api(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    with TestClient(create_app(container)) as client:
        boss = auth(container, "boss", Role.HEAD_OF_SALES)
        client_id = client.post("/commands/register-counterparty", headers=boss, json={
            "counterparty": {"inn": "7707083893", "kpp": "773601001", "name": "ООО Клиника"}, "owner": "anna"}).json()["id"]  # fmt: skip
        ids = {}
        for who, product in (("anna", 0), ("anna", 1), ("boris", 2)):
            items = [{"product_id": str(product_id(PRODUCTS[product])), "quantity": "5", "period": PERIOD}]
            ids[(who, product)] = client.post("/commands/register-need", headers=auth(container, who),
                                              json={"counterparty_id": client_id, "items": items}).json()  # fmt: skip
        last = client.post("/commands/cancel-need", headers=auth(container, "anna"), json={
            "need_id": ids[("anna", 1)]["id"], "reason": "price_too_high", "comment": "дорого"}).json()  # fmt: skip
        client.get("/needs", headers=auth(container, "boss", Role.HEAD_OF_SALES, last["token"]))  # wait for the projections
        yield client, container, ids


def test_a_manager_sees_only_their_own_needs_and_the_head_of_sales_sees_all(api):
    client, container, ids = api
    own = client.get("/needs", headers=auth(container, "anna")).json()["items"]
    assert [n["owner"] for n in own] == ["anna", "anna"]
    everything = client.get("/needs", headers=auth(container, "boss", Role.HEAD_OF_SALES)).json()["items"]
    assert [n["number"] for n in everything] == ["N-2026-000001", "N-2026-000002", "N-2026-000003"]
    assert everything[0]["items"][0]["product_name"] == "Шприц 0 мл"


@pytest.mark.parametrize("path", ["/needs/{id}", "/needs", "/needs.csv"])
def test_another_managers_need_is_invisible_on_every_route(api, path):
    client, container, ids = api
    borises = ids[("boris", 2)]["id"]
    response = client.get(path.format(id=borises), headers=auth(container, "anna"))
    if "{id}" in path:
        assert response.status_code == 404
    else:
        assert response.status_code == 200 and "N-2026-000003" not in response.text and borises not in response.text
    assert client.get(path.format(id=borises)).status_code == 401


def test_open_and_closed_filters_and_pagination(api):
    client, container, _ = api
    boss = auth(container, "boss", Role.HEAD_OF_SALES)
    assert [n["status"] for n in client.get("/needs?status=closed", headers=boss).json()["items"]] == ["cancelled"]
    assert len(client.get("/needs?status=open", headers=boss).json()["items"]) == 2
    first = client.get("/needs?limit=2", headers=boss).json()
    second = client.get(f"/needs?limit=2&cursor={first['next_cursor']}", headers=boss).json()
    assert [n["number"] for n in first["items"] + second["items"]] == ["N-2026-000001", "N-2026-000002", "N-2026-000003"]
    assert second["next_cursor"] is None
    assert client.get("/needs?status=lost", headers=boss).status_code == 422


def test_needs_csv_lists_each_product_with_its_name(api):
    client, container, _ = api
    response = client.get("/needs.csv?status=open", headers=auth(container, "boss", Role.HEAD_OF_SALES))
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert response.headers["content-type"].startswith("text/csv")
    assert lines[0].startswith("Номер;Статус") and len(lines) == 3 and "Шприц 2 мл" in lines[2]
