"""Demand report: quantities by product, month and outcome; the projection is order- and repeat-safe."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from fastapi.testclient import TestClient
from projections.demand import DemandProjection, demand
from schemas import counterparties as c, needs as n
from schemas.employees import Role
from tests.conftest import HEAD, deliver, logged_events, manager, product, rebuild, rows, seed_department
from voronka.wiring import bootstrap, create_app

DEC = {"start": "2026-12-01", "end": "2026-12-31"}
JAN = {"start": "2027-01-10", "end": "2027-01-31"}


def history(service) -> None:
    client = UUID(service.handle(c.RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, owner="anna"), HEAD).id)

    def need(who, *items):
        lines = [{"product_id": product(i), "quantity": q, "period": p} for i, q, p in items]
        return service.handle(n.RegisterNeed(counterparty_id=client, items=lines), manager(who)).id

    a = need("anna", (0, 10, DEC), (1, 5, JAN))
    b = need("boris", (0, 7, DEC))
    cancelled = need("vera", (0, 100, DEC))
    service.handle(n.CancelNeed(need_id=cancelled, reason="price_too_high", comment="дорого"), manager("vera"))
    service.handle(n.ChangeNeedItems(need_id=a, items=[{"product_id": product(0), "quantity": 12, "period": DEC},
                                                       {"product_id": product(2), "quantity": 1, "period": JAN}]), manager("anna"))  # fmt: skip
    service.handle(n.ConvertNeedToDeal(need_id=b), manager("boris"))


def test_demand_by_product_month_and_outcome(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    history(container.service)
    head = {"Authorization": f"Bearer {container.tokens.issue('boss', Role.HEAD_OF_SALES)}"}
    with TestClient(create_app(container)) as client:
        token = client.post("/commands/set-monthly-plan", headers=head, json={"employee_id": "anna", "month": "2026-12"}).json()["token"]
        lines = client.get("/reports/demand", headers=head | {"X-Consistency-Token": token}).json()
        assert client.get("/reports/demand", headers={"Authorization": f"Bearer {container.tokens.issue('anna', Role.MANAGER)}"}).status_code == 403
    table = {(line["product_name"], line["month"], line["outcome"], line["reason"]): (Decimal(line["quantity"]), line["needs"]) for line in lines}
    assert table == {
        ("Шприц 0 мл", "2026-12", "open", None): (Decimal(12), 1),
        ("Шприц 0 мл", "2026-12", "converted", None): (Decimal(7), 1),
        ("Шприц 0 мл", "2026-12", "cancelled", "price_too_high"): (Decimal(100), 1),
        ("Шприц 2 мл", "2027-01", "open", None): (Decimal(1), 1),
    }


def test_a_redelivered_older_half_changes_nothing(department, store, tmp_path):
    history(department)
    rebuilt = rows(rebuild(DemandProjection, store, tmp_path / "a.sqlite"), demand)
    events = logged_events(store)
    half = len(events) // 2
    twice = rows(deliver(DemandProjection, events + events[:half] + events[half:], tmp_path / "b.sqlite"), demand)
    assert twice == rebuilt and len(rebuilt) == 4
