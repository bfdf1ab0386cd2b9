"""KPI: a client's first deal and a deal's first payment do not depend on the order the deals' events arrive in.

The later deal's events arriving first (another Kafka partition, a back-dated opening) must not make it the
client's first deal; a back-dated payment recorded after others is still the deal's first payment.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from projections.kpi import days, deals, first_deals, kpi_projection
from projections.writes import execute_events
from read_api import kpi as kpi_routes
from read_api.consistency import Consistency
from read_api.kpi_figures import KpiRules
from tests.conftest import HEAD, deliver, logged_events, rows
from tests.test_kpi import TODAY, History, at

ZONE = "Europe/Moscow"


def two_deals_of_one_client(service) -> tuple:
    """kostya's deal from his held meeting, opened on 5 November (the first), then fedya's opened on the 11th."""
    h = History(service)
    client = h.client("7736050003", "kostya")
    first = h.deal("kostya", client, at(5), h.meeting(at(2), "held"))
    h.sign("kostya", first, at(6))
    h.pay("kostya", first, "60", at(8))
    h.pay("kostya", first, "30", at(7))  # recorded later, paid earlier: the deal's first payment
    h.pay("kostya", first, "60", at(9))
    h.win("kostya", first, at(10))
    later = h.deal("fedya", client, at(11))
    h.sign("fedya", later, at(12))
    h.pay("fedya", later, "150", at(12))
    h.win("fedya", later, at(13))
    return first, later


def later_deal_first(events: list, later) -> list:
    """The later deal's events before everything else, each aggregate's own order kept."""
    return [e for e in events if e.originator_id == later] + [e for e in events if e.originator_id != later]


def grouped(projection, events: list, path):
    """Delivered as the runner does, in one batch: the statements of distinct aggregates run together."""
    engine = create_engine(f"sqlite:///{path}")
    projection.metadata.create_all(engine)
    with engine.begin() as conn:
        execute_events(conn, ((e.originator_id, projection.changes(e)) for e in events))
    return engine


def kpi_figures(engine, period: str = "month") -> dict:
    app = FastAPI()
    app.include_router(kpi_routes.build_router(engine, lambda: HEAD, Consistency(lambda: 0), KpiRules(), ZONE, clock=lambda: TODAY))
    body = TestClient(app).get("/reports/kpi", params={"period": period, "date_from": "2026-11-01", "date_to": "2026-11-23"}).json()
    return {(row["employee"], row["period"]): row["figures"] for row in body["employees"]}


def test_first_deal_and_first_payment_whatever_order_the_deals_arrive_in(service, store, tmp_path):
    first, later = two_deals_of_one_client(service)
    projection = kpi_projection(ZONE)
    events = logged_events(store)
    assert events.index(next(e for e in events if e.originator_id == first)) < events.index(next(e for e in events if e.originator_id == later))
    engines = {
        "log order": deliver(projection, events, tmp_path / "log.sqlite"),
        "later deal first": deliver(projection, later_deal_first(events, later), tmp_path / "later.sqlite"),
        "later deal first, grouped": grouped(projection, later_deal_first(events, later), tmp_path / "grouped.sqlite"),
    }
    for order, engine in engines.items():
        month = kpi_figures(engine)
        kostya, fedya = month[("kostya", "2026-11")], month[("fedya", "2026-11")]
        # the first deal is kostya's: his converter credit, his new client, its first payment the back-dated 30
        assert (kostya["converter_first_deals"], kostya["new_clients"], kostya["first_payments"]) == (1, 1, 1), order
        assert Decimal(kostya["first_payment_amount"]) == 30, order
        assert (fedya["new_clients"], fedya["first_payments"], Decimal(fedya["first_payment_amount"])) == (0, 0, 0), order
        # both deals still count as contracts and wins, with revenue by payment date
        assert (kostya["contracts_signed"], kostya["deals_won"], Decimal(kostya["revenue"])) == (1, 1, 150), order
        assert (fedya["contracts_signed"], fedya["deals_won"], Decimal(fedya["revenue"])) == (1, 1, 150), order
        day = kpi_figures(engine, "day")
        assert day[("kostya", "2026-11-07")]["first_payments"] == 1 and day[("kostya", "2026-11-08")]["first_payments"] == 0, order
    for table in (first_deals, deals, days):
        assert len({repr(rows(engine, table)) for engine in engines.values()}) == 1, table.name


def test_a_later_opened_deal_recorded_first_is_not_the_first_deal(service, store, tmp_path):
    """Opened (in business time) before the client's other deal, but recorded after it and after its credits."""
    h = History(service)
    client = h.client("7736050003", "kostya")
    recorded_first = h.deal("fedya", client, at(11))
    h.sign("fedya", recorded_first, at(12))
    h.pay("fedya", recorded_first, "150", at(12))
    earlier = h.deal("kostya", client, at(5), h.meeting(at(2), "held"))  # back-dated: the client's first deal
    h.sign("kostya", earlier, at(13))
    month = kpi_figures(deliver(kpi_projection(ZONE), logged_events(store), tmp_path / "read.sqlite"))
    assert month[("kostya", "2026-11")]["converter_first_deals"] == 1
    assert month[("fedya", "2026-11")]["first_payments"] == 0  # fedya's deal lost its first-deal credits
