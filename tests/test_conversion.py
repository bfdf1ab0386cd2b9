"""Conversion by channel: a small hand-computed history, spam left out, business-time buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi.testclient import TestClient

from aggregates.lead import Lead
from schemas import counterparties as c, deals as d, leads as l, needs as n
from schemas.employees import Role
from tests.conftest import HEAD, SITE, deliver, logged_events, manager, product, rebuild, rows, seed_department
from voronka.wiring import bootstrap, create_app

T0 = datetime(2026, 10, 31, 20, 30, tzinfo=UTC)  # 23:30 in Moscow: still 31 October


def test_conversion_by_channel_known_answer(app_settings, store):
    container = bootstrap(app_settings, store)
    s = container.service
    seed_department(s)

    def lead(channel: str, email: str, at: datetime) -> tuple[UUID, str]:
        lead_id = UUID(s.handle(l.RegisterInterest(channel=channel, contact={"email": email}, occurred_at=at), SITE).id)
        return lead_id, store.get(Lead, lead_id).holder

    a, ha = lead("exhibition", "a@x.ru", T0)
    s.handle(l.RecordContactAttempt(lead_id=a, outcome="answered", occurred_at=T0 + timedelta(minutes=20)), manager(ha))
    s.handle(l.QualifyLead(lead_id=a, occurred_at=T0 + timedelta(minutes=25)), manager(ha))
    b, hb = lead("exhibition", "b@x.ru", T0 + timedelta(hours=1))  # 1 November in Moscow
    s.handle(l.RecordContactAttempt(lead_id=b, outcome="no_answer", occurred_at=T0 + timedelta(hours=2)), manager(hb))
    spam, hs = lead("exhibition", "s@x.ru", T0)
    s.handle(l.MarkLeadSpam(lead_id=spam), manager(hs))
    lead("site_form", "c@x.ru", T0)

    s.handle(l.ConvertLead(lead_id=a, counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО К"},
                           occurred_at=T0 + timedelta(hours=3)), manager(ha))  # fmt: skip
    cp = store.get(Lead, a).counterparty_id
    items = [{"product_id": product(0), "quantity": 2, "period": {"start": "2026-11-01", "end": "2026-11-30"}}]
    need = s.handle(n.RegisterNeed(counterparty_id=cp, lead_id=a, items=items, occurred_at=T0 + timedelta(days=2)), manager(ha))
    deal = UUID(s.handle(n.ConvertNeedToDeal(need_id=need.id, occurred_at=T0 + timedelta(days=3)), manager(ha)).id)
    s.handle(d.IssueProposal(deal_id=deal, lines=[{"product_id": product(0), "quantity": 2, "unit_price": "500"}]), manager(ha))
    s.handle(d.SendDocuments(deal_id=deal, invoice_number="1", contract_number="1"), manager(ha))
    s.handle(d.RecordPayment(deal_id=deal, amount="1000", paid_on="2026-11-05"), manager(ha))

    head = {"Authorization": f"Bearer {container.tokens.issue('boss', Role.HEAD_OF_SALES)}"}
    with TestClient(create_app(container)) as client:
        token = s.handle(c.AddContact(counterparty_id=cp, contact={"name": "Ирина"}), HEAD).token
        rows = client.get("/reports/conversion-by-channel?period=month", headers=head | {"X-Consistency-Token": token}).json()
        days = client.get("/reports/conversion-by-channel?period=day", headers=head).json()
    table = {(r["channel"], r["period"]): r for r in rows}
    october, november = table[("exhibition", "2026-10")], table[("exhibition", "2026-11")]
    assert (october["interests"], october["contacted"], october["qualified"]) == (1, 1, 1)  # spam left out
    assert october["median_speed_to_lead_seconds"] == 20 * 60 and october["contacted_rate"] == 1.0
    assert (november["interests"], november["contacted"], november["needs"], november["deals"]) == (1, 1, 1, 1)
    assert november["revenue"] == "1000.00" and november["median_speed_to_lead_seconds"] == 3600
    assert table[("site_form", "2026-10")]["interests"] == 1 and table[("site_form", "2026-10")]["contacted"] == 0
    assert {r["period"] for r in days if r["channel"] == "exhibition"} >= {"2026-10-31", "2026-11-01"}


def test_redelivered_events_do_not_double_count(department, store, tmp_path):
    from projections.conversion import conversion_projection, leads

    for i in range(4):
        lead_id = UUID(department.handle(l.RegisterInterest(channel="email", contact={"email": f"c{i}@x.ru"}), SITE).id)
        holder = manager(store.get(Lead, lead_id).holder)
        department.handle(l.RecordContactAttempt(lead_id=lead_id, outcome="no_answer"), holder)
        department.handle(l.RecordContactAttempt(lead_id=lead_id, outcome="answered"), holder)
    projection = conversion_projection("Europe/Moscow")
    clean = rows(rebuild(projection, store, tmp_path / "a.sqlite"), leads)
    events = logged_events(store)
    twice = rows(deliver(projection, events + events[: len(events) // 2] + events, tmp_path / "b.sqlite"), leads)
    assert twice == clean and {r[-2] for r in clean} == {2}  # two touches per lead
