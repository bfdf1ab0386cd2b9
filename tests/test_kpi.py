"""KPI: a small hand-computed history — credit rules, calls, revenue, retention, plan vs fact, anomalies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from schemas import activities as a, counterparties as c, deals as d, employees as e, needs as n
from schemas.auth import Caller
from schemas.employees import Role
from tests.conftest import HEAD, bearer, deliver, logged_events, manager, product, rebuild, rows, seed_department
from voronka.wiring import bootstrap, create_app

NOV = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday; 12:00 in Moscow
TODAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PBX = Caller(employee="system:pbx", role=Role.INTEGRATION)
SCHEDULER = Caller(employee="system:scheduler", role=Role.INTEGRATION)
ITEMS = [{"product_id": str(product(0)), "quantity": 1, "period": {"start": "2026-12-01", "end": "2026-12-31"}}]


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


class History:
    """A generator (gena), a converter (kostya) and a farmer (fedya), and what they did."""

    def __init__(self, service):
        self.s = service
        seed_department(service)
        for login, profile in (("gena", "generator"), ("kostya", "converter"), ("fedya", "farmer")):
            service.handle(e.RegisterEmployee(employee_id=login, name=login.title(), role="manager", sales_profile=profile), HEAD)

    def client(self, inn: str, owner: str) -> UUID:
        cp = c.RegisterCounterparty(counterparty={"inn": inn, "kpp": "770101001", "name": f"ООО {inn}"}, owner=owner)
        return UUID(self.s.handle(cp, HEAD).id)

    def call(self, day: datetime, seconds: int, outcome: str = "answered") -> UUID:
        call = a.LogCall(employee="gena", direction="outbound", phone="+7 495 000-00-00", started_at=day,
                         duration_seconds=seconds, outcome=outcome)  # fmt: skip
        return UUID(self.s.handle(call, PBX).id)

    def meeting(self, day: datetime, outcome: str) -> UUID:
        meeting = UUID(self.s.handle(a.ScheduleMeeting(converter="kostya", scheduled_for=day + timedelta(days=1), occurred_at=day), manager("gena")).id)
        ending = {"held": a.RecordMeetingHeld(meeting_id=meeting), "no_show": a.RecordMeetingNoShow(meeting_id=meeting, party="client")}[outcome]
        self.s.handle(ending.model_copy(update={"occurred_at": day + timedelta(days=1)}), manager("kostya"))
        return meeting

    def deal(self, owner: str, client: UUID, opened: datetime, meeting: UUID | None = None) -> UUID:
        me = manager(owner)
        need = self.s.handle(n.RegisterNeed(counterparty_id=client, items=ITEMS, meeting_id=meeting, occurred_at=opened), me)
        deal = UUID(self.s.handle(n.ConvertNeedToDeal(need_id=need.id, occurred_at=opened), me).id)
        lines = [{"product_id": product(0), "quantity": 1, "unit_price": "150"}]
        self.s.handle(d.IssueProposal(deal_id=deal, lines=lines, occurred_at=opened), me)
        return deal

    def sign(self, owner: str, deal: UUID, day: datetime) -> None:
        self.s.handle(d.SendDocuments(deal_id=deal, invoice_number="1", contract_number="1", occurred_at=day), manager(owner))
        self.s.handle(d.SignContract(deal_id=deal, signed_on=day.date(), occurred_at=day), manager(owner))

    def pay(self, owner: str, deal: UUID, amount: str, day: datetime) -> None:
        self.s.handle(d.RecordPayment(deal_id=deal, amount=amount, paid_on=day.date(), occurred_at=day), manager(owner))

    def win(self, owner: str, deal: UUID, day: datetime) -> None:
        me = manager(owner)
        for step in (d.StartFulfilment(deal_id=deal, mode="own_stock"),
                     d.RecordShipment(deal_id=deal, items=[{"product_id": product(0), "quantity": 1}], shipped_on=day.date()),
                     d.ReceiveClosingDocuments(deal_id=deal), d.WinDeal(deal_id=deal)):  # fmt: skip
            self.s.handle(step.model_copy(update={"occurred_at": day}), me)

    def closed_deal(self, owner: str, client: UUID, opened: datetime, won: datetime, price: str, meeting: UUID | None = None) -> UUID:
        deal = self.deal(owner, client, opened, meeting)
        if price != "150":
            self.s.handle(d.IssueProposal(deal_id=deal, lines=[{"product_id": product(0), "quantity": 1, "unit_price": price}],
                                          occurred_at=opened), manager(owner))  # fmt: skip
        self.sign(owner, deal, won)
        self.pay(owner, deal, price, won)
        self.win(owner, deal, won)
        return deal


def build(service) -> tuple[History, str]:
    h = History(service)
    s = h.s
    # gena's calls on Monday 2 November: one too short, one missed, one too long; one scored 80
    scored = h.call(NOV, 60)
    for minute, (seconds, outcome) in enumerate(((10, "answered"), (0, "missed"), (2000, "answered")), start=5):
        h.call(NOV + timedelta(minutes=minute), seconds, outcome)
    s.handle(a.ScoreCall(call_id=scored, score=80), HEAD)
    # three meetings set by gena for kostya: held, no-show, held
    held_1 = h.meeting(NOV, "held")
    h.meeting(NOV, "no_show")
    held_2 = h.meeting(at(3), "held")
    # kostya: the client's first deal from his meeting (credited), then a second deal from another held meeting (not)
    alpha = h.client("7736050003", "kostya")
    first = h.deal("kostya", alpha, at(5), held_1)
    h.sign("kostya", first, at(6))
    h.pay("kostya", first, "100", at(6))
    h.pay("kostya", first, "50", at(9))
    h.win("kostya", first, at(10))
    second = h.deal("kostya", alpha, at(11), held_2)
    h.sign("kostya", second, at(12))
    # fedya the farmer: two clients won in the year before November, one buys again in November, cheaply
    beta, gamma = h.client("7702070139", "fedya"), h.client("7728168971", "fedya")
    h.closed_deal("fedya", beta, at(1, 8), at(20, 8), "150")
    h.closed_deal("fedya", gamma, at(1, 9), at(15, 9), "150")
    h.closed_deal("fedya", beta, at(2), at(16), "10")
    # an open deal since July: a long cycle; flagged for having no next follow-up
    stale = h.deal("fedya", h.client("7710140679", "fedya"), at(1, 7))
    s.handle(d.FlagDealWithoutFollowUp(deal_id=stale, occurred_at=at(17)), SCHEDULER)
    accepted = s.handle(e.SetMonthlyPlan(employee_id="kostya", month="2026-11", revenue="300", deals_won=2, meetings_held=4), HEAD)
    return h, accepted.token


@pytest.fixture
def kpi_app(app_settings, store):
    container = bootstrap(app_settings, store)
    container.service.clock = lambda: TODAY  # "now" for long cycles and working days, and for undated commands
    _, token = build(container.service)
    return container, token


def report(container, token, role=Role.HEAD_OF_SALES, who="boss", **params) -> dict:
    params = {"date_from": "2026-11-01", "date_to": "2026-11-23", **params}
    with TestClient(create_app(container)) as client:
        response = client.get("/reports/kpi", params=params, headers=bearer(container, who, role, token))
    assert response.status_code == 200, response.text
    return response.json()


def by_employee(body: dict) -> dict[str, dict]:
    return {row["employee"]: row for row in body["employees"]}


def test_kpi_known_answer(kpi_app):
    container, token = kpi_app
    body = report(container, token)
    rows = by_employee(body)
    assert all(row["period"] == "2026-11" for row in body["employees"])
    gena = rows["gena"]["figures"]
    assert (gena["calls"], gena["calls_total_seconds"], gena["calls_too_short"], gena["calls_too_long"]) == (4, 2070, 1, 1)
    assert (gena["calls_average_seconds"], gena["calls_average_score"]) == (517.5, 80.0)
    # generator credit only for held meetings
    assert (gena["meetings_set"], gena["meetings_held"], gena["meetings_no_show"]) == (3, 2, 1)
    kostya = rows["kostya"]["figures"]
    # converter credit: only the client's FIRST deal, signed, from a meeting he held -> 1 of 2 meetings held
    assert (kostya["meetings_held_as_converter"], kostya["converter_first_deals"], kostya["converter_conversion"]) == (2, 1, 0.5)
    assert (kostya["contracts_signed"], kostya["deals_won"], kostya["new_clients"]) == (2, 1, 1)
    assert Decimal(kostya["revenue"]) == 150 and Decimal(kostya["average_check"]) == 150
    assert (kostya["first_payments"], Decimal(kostya["first_payment_amount"])) == (1, 100)  # the first of two payments
    plan = {p["metric"]: p for p in rows["kostya"]["plan_vs_fact"]}
    assert (Decimal(plan["revenue"]["fact"]), plan["revenue"]["done"]) == (150, 0.5)
    assert (Decimal(plan["meetings_held"]["fact"]), plan["meetings_held"]["done"]) == (2, 0.5)
    assert plan["deals_won"]["done"] == 0.5
    fedya = rows["fedya"]["figures"]
    # retention: beta and gamma were won in the previous 12 months; only beta bought again in November
    assert (fedya["retention_base"], fedya["retention"], fedya["new_clients"]) == (2, 0.5, 0)
    assert (fedya["deals_won"], fedya["deals_per_client"], fedya["deals_without_follow_up"]) == (1, 1.0, 1)
    anomalies = {(x["kind"], x["employee"]) for x in body["anomalies"]}
    assert anomalies == {("too_short_calls", "gena"), ("too_long_calls", "gena"), ("long_deal_cycle", "fedya"),
                         ("low_average_check", "fedya")}  # fmt: skip
    teams = {(row["team"], row["period"]): row["figures"] for row in body["teams"]}
    assert teams[("department", "2026-11")]["deals_won"] == 2
    assert Decimal(teams[("department", "2026-11")]["revenue"]) == 160
    assert teams[("generator", "2026-11")]["calls"] == 4


def test_kpi_by_day_and_week(kpi_app):
    container, token = kpi_app
    days = report(container, token, period="day")
    gena_days = {row["period"]: row["figures"] for row in days["employees"] if row["employee"] == "gena"}
    assert gena_days["2026-11-02"]["calls"] == 4 and gena_days["2026-11-03"]["meetings_held"] == 1
    weeks = report(container, token, period="week")
    kostya_weeks = {row["period"]: row["figures"] for row in weeks["employees"] if row["employee"] == "kostya"}
    assert kostya_weeks["2026-W45"]["revenue"] != kostya_weeks["2026-W46"]["revenue"]
    assert Decimal(kostya_weeks["2026-W45"]["revenue"]) == 100 and Decimal(kostya_weeks["2026-W46"]["revenue"]) == 50


def test_kpi_visibility(kpi_app):
    container, token = kpi_app
    own = report(container, token, role=Role.MANAGER, who="kostya")
    assert {row["employee"] for row in own["employees"]} == {"kostya"} and own["teams"] == []
    assert own["anomalies"] == []
    with TestClient(create_app(container)) as client:
        assert client.get("/reports/kpi").status_code == 401
        assert client.get("/reports/kpi", headers=bearer(container, "ops", Role.OPS)).status_code == 403
        bad = client.get("/reports/kpi", params={"date_from": "2026-11-20", "date_to": "2026-11-01"}, headers=bearer(container, "boss", Role.HEAD_OF_SALES))
        assert bad.status_code == 422 and "date_from" in bad.text


def test_kpi_rows_survive_redelivery(kpi_app, store, tmp_path):
    from projections.kpi import calls, days, deals, first_deals, kpi_projection, meetings

    projection = kpi_projection("Europe/Moscow")
    clean = rebuild(projection, store, tmp_path / "a.sqlite")
    events = logged_events(store)
    twice = deliver(projection, events + events[: len(events) // 2] + events, tmp_path / "b.sqlite")
    for table in (calls, days, meetings, deals, first_deals):
        assert rows(twice, table) == rows(clean, table) and rows(clean, table)
    assert date(2026, 11, 2) in {r[3] for r in rows(clean, calls)}


def test_a_logged_call_is_two_fixed_shape_writes(department, store):
    """Calls are half of all events: one count into the employee's day, one insert of the call's own (minimal) row."""
    from projections.kpi import COUNT_CALL, calls, kpi_projection
    from projections.writes import Write, insert_once_template

    department.handle(a.LogCall(employee="anna", direction="outbound", phone="+7 495 000-00-00", started_at=NOV,
                                duration_seconds=30, outcome="answered"), PBX)  # fmt: skip
    call = next(event for event in logged_events(store) if isinstance(event.payload, a.CallLogged))
    changes = list(kpi_projection("Europe/Moscow").changes(call))
    assert all(isinstance(change, Write) for change in changes) and len(changes) == 2
    assert changes[0].template is COUNT_CALL and changes[1].template is insert_once_template(calls)
    assert set(changes[1].params) == {"call_id", "version", "employee", "day"}


def test_kpi_rebuilt_beside_the_live_tables_equals_the_live_model(kpi_app, store):
    """The statements also run schema-qualified, in a rebuild's staging area (an attached file, a PostgreSQL schema)."""
    from consumers.rebuild import rebuild as rebuild_beside
    from projections.kpi import metadata

    container, _ = kpi_app
    container.runner.run_until_caught_up()
    projection = next(p for p in container.runner.projections if p.name == "kpi")
    live = {table.name: rows(container.runner.engine, table) for table in metadata.sorted_tables}
    assert rebuild_beside(container.runner.engine, [projection], store.read_batch, batch_size=7) == store.max_position()
    assert {table.name: rows(container.runner.engine, table) for table in metadata.sorted_tables} == live
    assert all(live.values())


def test_kpi_month_totals_agree_with_the_days(kpi_app):
    """A month the window covers entirely is read from its total, a partial one from its days: the same figures."""
    from fastapi import FastAPI
    from sqlalchemy import select

    from projections.kpi import COUNTERS, KOPECKS, MONTH_TOTAL, days
    from read_api import kpi as kpi_routes
    from read_api.consistency import Consistency
    from read_api.kpi_figures import KpiRules

    container, _ = kpi_app
    container.runner.run_until_caught_up()  # no scheduler here: both reports see the same events
    app = FastAPI()
    app.include_router(kpi_routes.build_router(container.runner.engine, lambda: HEAD, Consistency(lambda: 0), KpiRules(),
                                               "Europe/Moscow", clock=lambda: TODAY))  # fmt: skip
    with TestClient(app) as client:
        whole, partial = (client.get("/reports/kpi", params={"date_from": "2026-08-01", "date_to": last}).json()
                          for last in ("2026-11-30", "2026-11-29"))  # fmt: skip
    assert [(r["employee"], r["figures"]) for r in whole["employees"]] == [(r["employee"], r["figures"]) for r in partial["employees"]]
    assert whole["teams"] == partial["teams"] and whole["anomalies"] == partial["anomalies"] and len(whole["employees"]) > 3
    totals, sums = {}, {}
    with container.runner.engine.connect() as conn:
        counted = conn.execute(select(days.c.employee, days.c.month, days.c.day_of_month, *(days.c[c] for c in (*COUNTERS, *KOPECKS)))).all()
    for employee, month, day_of_month, *values in counted:
        if day_of_month == MONTH_TOTAL:
            totals[(employee, month)] = values
        else:
            sums[(employee, month)] = [a + b for a, b in zip(sums.get((employee, month), [0] * len(values)), values)]
    assert totals == sums and totals


def test_kpi_window_whole_months_are_the_months_it_covers_entirely():
    from read_api.kpi_figures import Window

    def month_end(label: str) -> date:
        start = date.fromisoformat(label + "-01")
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    for first, last in ((date(2025, 12, 20) + timedelta(days=i), date(2025, 12, 20) + timedelta(days=i + k))
                        for i in range(0, 75, 3) for k in range(0, 75, 2)):  # fmt: skip
        w = Window("month", first, last)
        low, high = w.whole_months()
        whole = [m for m in w.labels() if w.bounds(m) == (date.fromisoformat(m + "-01"), month_end(m))]
        assert [m for m in w.labels() if low <= m <= high] == whole, (first, last)
