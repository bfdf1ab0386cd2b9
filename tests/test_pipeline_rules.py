"""Rules that span aggregates, checked through the command service on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given, strategies as st

from aggregates.catalog import CATALOG_ID, Catalog, Product, product_id
from aggregates.deal import Deal
from aggregates.duplicates import jaccard, match
from aggregates.errors import ConflictError, InvalidValueError
from aggregates.lead import Lead
from aggregates.need import Need
from schemas import counterparties as c, deals as d, employees as e, leads as l, needs as n
from schemas.activities import LogCall
from schemas.auth import Caller
from schemas.catalog import ImportCatalog, ProductRecord
from schemas.needs import MatchKind
from tests.conftest import HEAD, MANAGERS, SITE, manager, product

PERIOD = {"start": "2026-12-01", "end": "2026-12-31"}
ORG = {"inn": "7707083893", "kpp": "773601001", "name": "ГБУЗ ГКБ №7"}


def need_items(*indexes: int) -> list[dict]:
    return [{"product_id": product(i), "quantity": 5, "period": PERIOD} for i in indexes]


def new_counterparty(service, owner="anna", **details) -> UUID:
    return UUID(service.handle(c.RegisterCounterparty(counterparty=ORG | details, owner=owner), HEAD).id)


# --- distribution ---


def test_a_lead_from_a_known_client_goes_to_the_account_owner(department, store):
    department.handle(
        c.RegisterCounterparty(counterparty=ORG, owner="vera", contacts=[{"name": "Ирина", "email": "irina@gkb7.ru"}]), HEAD
    )
    lead = department.handle(l.RegisterInterest(channel="email", contact={"email": "irina@gkb7.ru"}), SITE)
    assert store.get(Lead, UUID(lead.id)).holder == "vera"
    by_inn = department.handle(l.RegisterInterest(channel="b2b_portal", contact={"inn": ORG["inn"]}), SITE)
    assert store.get(Lead, UUID(by_inn.id)).holder == "vera"
    slots = list(store.read(topics=["RotationAdvanced"]))
    assert slots == [], "sticky ownership must not use a rotation slot"


def test_a_departed_owner_does_not_keep_the_client(department, store):
    department.handle(c.RegisterCounterparty(counterparty=ORG, owner="vera", contacts=[{"name": "И", "phone": "+74950001122"}]), HEAD)
    department.handle(e.RecordEmployeeLeft(employee_id="vera"), HEAD)
    lead = department.handle(l.RegisterInterest(channel="inbound_call", contact={"phone": "8 (495) 000-11-22"}), SITE)
    assert store.get(Lead, UUID(lead.id)).holder in ("anna", "boris")


def test_with_everyone_away_the_lead_waits_unassigned(department, store):
    for name in MANAGERS:
        department.handle(e.MarkAway(employee_id=name), HEAD)
    lead = store.get(Lead, UUID(department.handle(l.RegisterInterest(channel="chatbot", contact={"email": "x@y.ru"}), SITE).id))
    assert (lead.status, lead.holder) == ("new", None)


def test_a_human_registration_is_the_first_touch(department, store):
    lead = department.handle(l.RegisterInterest(channel="inbound_call", contact={"phone": "+74950000001"}), HEAD)
    stored = store.get(Lead, UUID(lead.id))
    assert (stored.holder, stored.first_touch, stored.status) == ("boss", "boss", "assigned")


def test_a_pbx_call_from_a_leads_number_is_matched_and_touches_it(department, store):
    lead = department.handle(l.RegisterInterest(channel="site_form", contact={"phone": "+74950000002"}), SITE)
    holder = store.get(Lead, UUID(lead.id)).holder
    call = {"pbx_call_id": "c-1", "employee": holder, "direction": "outbound", "phone": "+7 495 000-00-02",
            "started_at": datetime(2026, 11, 23, 10, tzinfo=UTC), "duration_seconds": 60, "outcome": "answered"}  # fmt: skip
    department.handle(LogCall(**call), SITE)
    stored = store.get(Lead, UUID(lead.id))
    assert (stored.first_touch, stored.status) == (holder, "in_progress")


# --- departures ---


def test_a_departing_managers_portfolio_goes_through_the_rotation(department, store):
    leads = [UUID(department.handle(l.RegisterInterest(channel="email", contact={"email": f"c{i}@x.ru"}), SITE).id) for i in range(9)]
    held_by_vera = [i for i in leads if store.get(Lead, i).holder == "vera"]
    counterparty = new_counterparty(department, owner="vera")
    need = UUID(department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(0)), manager("vera")).id)
    department.handle(e.RecordEmployeeLeft(employee_id="vera"), HEAD)
    department.handle(e.ReassignPortfolio(employee_id="vera"), HEAD)
    assert held_by_vera and all(store.get(Lead, i).holder in ("anna", "boris") for i in held_by_vera)
    assert store.get(Need, need).owner in ("anna", "boris")
    assert all(store.get(Lead, i).holder != "vera" for i in leads)


def test_work_cannot_be_handed_to_someone_who_left(department, store):
    department.handle(e.RecordEmployeeLeft(employee_id="vera"), HEAD)
    lead = department.handle(l.RegisterInterest(channel="email", contact={"email": "q@x.ru"}), SITE)
    holder = store.get(Lead, UUID(lead.id)).holder
    with pytest.raises(InvalidValueError, match="'vera' has left"):
        department.handle(l.HandOffLead(lead_id=lead.id, to="vera", reason="x"), manager(holder))


# --- needs ---


def test_need_numbers_are_gap_free_per_year_even_after_a_refused_save(department):
    counterparty = new_counterparty(department)
    numbers = []
    for i in range(3):
        accepted = department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(i)), manager("anna"))
        numbers.append(department.deps.store.get(Need, UUID(accepted.id)).number)
    with pytest.raises(InvalidValueError):
        bogus = [{"product_id": product_id("nope"), "quantity": 1, "period": PERIOD}]
        department.handle(n.RegisterNeed(counterparty_id=counterparty, items=bogus), manager("anna"))
    accepted = department.handle(
        n.RegisterNeed(counterparty_id=counterparty, items=need_items(4), occurred_at=datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
        manager("anna"),
    )
    next_year = department.deps.store.get(Need, UUID(accepted.id)).number
    later = department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(5)), manager("anna"))
    assert numbers == ["N-2026-000001", "N-2026-000002", "N-2026-000003"]
    assert next_year == "N-2027-000001"  # 03:30 in Moscow on 1 January
    assert department.deps.store.get(Need, UUID(later.id)).number == "N-2026-000004"


def test_a_deal_carries_the_need_number_and_where_it_came_from(department, store):
    counterparty = new_counterparty(department)
    lead = department.handle(l.RegisterInterest(channel="exhibition", contact={"email": "e@x.ru"}), SITE)
    need = department.handle(n.RegisterNeed(counterparty_id=counterparty, lead_id=lead.id, items=need_items(1)), manager("anna"))
    deal = store.get(Deal, UUID(department.handle(n.ConvertNeedToDeal(need_id=need.id), manager("anna")).id))
    assert deal.number == store.get(Need, UUID(need.id)).number
    assert (deal.opened.channel, deal.opened.lead_id, deal.opened.need_id) == ("exhibition", UUID(lead.id), UUID(need.id))
    with pytest.raises(Exception, match="cannot convert"):
        department.handle(n.ConvertNeedToDeal(need_id=need.id), manager("anna"))


def test_a_manager_may_not_override_a_duplicate_alert_but_the_head_of_sales_may(department, store):
    counterparty = new_counterparty(department)
    first = department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(0, 1)), manager("anna"))
    second = department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(0, 1)), manager("boris"))
    flag = n.FlagDuplicateWork(need_id=second.id, saved_by="boris", other_id=first.id, other_kind="need",
                               other_number="N-2026-000001", other_owner="anna", match="exact", similarity=1, overlap=[])  # fmt: skip
    department.handle(flag, Caller(employee="system:dup", role="integration"))
    with pytest.raises(ConflictError, match="unresolved duplicate alert"):
        department.handle(n.ConvertNeedToDeal(need_id=second.id), manager("boris"))
    with pytest.raises(Exception, match="only the head of sales may override"):
        department.handle(n.ConvertNeedToDeal(need_id=second.id, override_duplicate_alert=True), manager("boris"))
    department.handle(n.ConvertNeedToDeal(need_id=second.id, override_duplicate_alert=True), HEAD)
    notices = [ev.payload for _, ev in store.read(topics=["NotificationRequested"])]
    assert notices[-1].recipients == ["boris", "anna", "role:head_of_sales"]


@given(st.frozensets(st.integers(0, 9)), st.frozensets(st.integers(0, 9)))
def test_duplicate_rule_matches_the_definition(a, b):
    ids_a, ids_b = frozenset(map(product, [i % 8 for i in a])), frozenset(map(product, [i % 8 for i in b]))
    kind = match(ids_a, ids_b, 0.8)
    if ids_a and ids_a == ids_b:
        assert kind is MatchKind.EXACT
    elif len(ids_a) >= 2 and len(ids_b) >= 2 and jaccard(ids_a, ids_b) >= 0.8:
        assert kind is MatchKind.SIMILAR
    else:
        assert kind is None


def test_similar_sets_just_above_and_below_the_threshold():
    five = {product(i) for i in range(5)}
    assert match(five, five | {product(5)}, 0.8) is MatchKind.SIMILAR  # 5/6 = 0.83
    assert match(five, {product(i) for i in range(1, 6)}, 0.8) is None  # 4/6 = 0.67
    assert match({product(0)}, {product(0), product(1)}, 0.5) is None  # one product is never "similar"


# --- catalog ---


def test_catalog_reimport_is_idempotent_updates_archives_and_restores(department, store):
    catalog_events = len(store.history(CATALOG_ID))
    records = [ProductRecord(onec_id=f"prod-{i}", name=f"Шприц {i} мл", registry_code="РЗН 2019/8827") for i in range(8)]
    same = department.handle(ImportCatalog(source="again", records=records), HEAD)
    assert same.report["unchanged"] == 8 and len(store.history(CATALOG_ID)) == catalog_events

    changed = [records[0].model_copy(update={"name": "Шприц 0 мл, 3-х комп."}), *records[1:7]]
    report = department.handle(ImportCatalog(source="v2", records=changed), HEAD).report
    assert (report["updated"], report["archived"]) == (["prod-0"], ["prod-7"])
    assert store.get(Product, product_id("prod-7")).archived
    with pytest.raises(InvalidValueError, match="not in the product catalog"):
        store.get(Catalog, CATALOG_ID).require_products("items", [product_id("prod-7")])

    report = department.handle(ImportCatalog(source="v3", records=records), HEAD).report
    assert report["restored"] == ["prod-7"] and not store.get(Product, product_id("prod-7")).archived


# --- deals ---


def test_a_lost_deal_notifies_the_head_of_sales_and_surveys_the_client(department, store):
    counterparty = UUID(department.handle(
        c.RegisterCounterparty(counterparty=ORG, owner="anna", contacts=[{"name": "Ирина", "email": "irina@gkb7.ru"}]), HEAD).id)
    need = department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(2)), manager("anna"))
    deal = department.handle(n.ConvertNeedToDeal(need_id=need.id), manager("anna"))
    with pytest.raises(InvalidValueError, match="reason"):
        department.handle(d.LoseDeal(deal_id=deal.id, reason="bad_karma"), manager("anna"))
    department.handle(d.LoseDeal(deal_id=deal.id, reason="price"), manager("anna"))
    notice = [ev.payload for _, ev in store.read(topics=["NotificationRequested"])][-1]
    survey = [ev.payload for _, ev in store.read(topics=["SurveyRequested"])][-1]
    assert notice.recipients == ["role:head_of_sales"] and notice.kind == "deal_lost"
    assert (survey.kind, survey.recipient, survey.subject_id) == ("farewell", "irina@gkb7.ru", UUID(deal.id))


def test_a_disqualified_lead_gets_a_farewell_survey_and_spam_gets_none(department, store):
    lead = department.handle(l.RegisterInterest(channel="email", contact={"email": "z@x.ru"}), SITE)
    holder = store.get(Lead, UUID(lead.id)).holder
    department.handle(l.DisqualifyLead(lead_id=lead.id, reason="no_budget"), manager(holder))
    spam = department.handle(l.RegisterInterest(channel="email", contact={"email": "s@x.ru"}), SITE)
    department.handle(l.MarkLeadSpam(lead_id=spam.id), manager(store.get(Lead, UUID(spam.id)).holder))
    surveys = [ev.payload for _, ev in store.read(topics=["SurveyRequested"])]
    assert [(s.subject_id, s.kind) for s in surveys] == [(UUID(lead.id), "farewell")]


def test_an_id_of_another_kind_of_record_is_not_found(department, store, app_settings):
    from aggregates.errors import NotFoundError
    from commands.store import EventStore

    counterparty = new_counterparty(department)
    store.get(Need, UUID(department.handle(n.RegisterNeed(counterparty_id=counterparty, items=need_items(0)), manager("anna")).id))
    with pytest.raises(NotFoundError):
        department.handle(l.QualifyLead(lead_id=counterparty), manager("anna"))  # cached as a Counterparty
    with pytest.raises(InvalidValueError, match="unknown lead"):
        department.handle(n.RegisterNeed(counterparty_id=counterparty, lead_id=counterparty, items=need_items(1)), manager("anna"))
    assert EventStore(app_settings.event_store_env()).load(Lead, counterparty) is None  # not cached: replay refuses
