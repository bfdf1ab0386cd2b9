"""Every command route through HTTP: valid input, each kind of bad input, idempotent replays."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from aggregates.catalog import product_id
from aggregates.lead import Lead
from commands.http import path_for
from commands.routing import COMMANDS
from schemas.catalog import ImportCatalog
from schemas.employees import Role
from tests.conftest import PRODUCTS, seed_department
from voronka.wiring import bootstrap, create_app

PERIOD = {"start": "2026-12-01", "end": "2026-12-31"}
ORG = {"inn": "7707083893", "kpp": "773601001", "name": "ГБУЗ ГКБ №7"}


class Api:
    def __init__(self, client: TestClient, tokens, store) -> None:
        self.client, self.tokens, self.store, self.called = client, tokens, store, set()

    def token(self, employee: str, role: Role = Role.MANAGER) -> str:
        return self.tokens.issue(employee, role)

    def post(self, path: str, body: dict, as_: str = "boss", role: Role | None = None, status: int = 200) -> dict:
        role = role or (Role.HEAD_OF_SALES if as_ == "boss" else Role.INTEGRATION if as_.startswith("system:") else Role.MANAGER)
        response = self.client.post(
            f"/commands/{path}", json=body, headers={"Authorization": f"Bearer {self.token(as_, role)}"}
        )
        assert response.status_code == status, response.text
        self.called.add(f"/{path}")
        return response.json()


@pytest.fixture
def api(app_settings, store) -> Api:
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    return Api(TestClient(create_app(container)), container.tokens, store)


def items(*indexes: int) -> list[dict]:
    return [{"product_id": str(product_id(PRODUCTS[i])), "quantity": "10", "period": PERIOD} for i in indexes]


def register_lead(api: Api, **extra) -> tuple[str, str]:
    body = {"channel": "site_form", "contact": {"name": "Ирина", "email": "irina@gkb7.ru", "phone": "+74951234567"}}
    accepted = api.post("register-interest", body | extra, as_="system:site")
    return accepted["id"], lead_holder(api, accepted["id"])


def lead_holder(api: Api, lead_id: str) -> str:
    return api.store.get(Lead, UUID(lead_id)).holder


def test_every_command_route_accepts_valid_input(api: Api, store):
    answer = api.post("register-interest", {"channel": "email", "contact": {"email": "a@b.ru", "name": "А"}}, as_="system:mail")
    assert set(answer) >= {"id", "position", "token"} and answer["position"] > 0
    lead, holder = answer["id"], lead_holder(api, answer["id"])
    other = "boris" if holder != "boris" else "vera"
    api.post("record-contact-attempt", {"lead_id": lead, "outcome": "no_answer"}, as_=holder)
    api.post("schedule-lead-follow-up", {"lead_id": lead, "due_at": "2026-12-24T10:00:00+03:00"}, as_=holder)
    follow_up = next(e.payload.follow_up_id for _, e in store.read(topics=["LeadFollowUpScheduled"]))
    api.post("complete-lead-follow-up", {"lead_id": lead, "follow_up_id": str(follow_up)}, as_=holder)
    api.post("hand-off-lead", {"lead_id": lead, "to": other, "reason": "отпуск"}, as_=holder)
    api.post("qualify-lead", {"lead_id": lead}, as_=other)
    converted = api.post("convert-lead", {"lead_id": lead, "counterparty": ORG}, as_=other)
    assert converted["id"] == lead

    spam, spam_holder = register_lead(api, external_ref="form-1")
    api.post("mark-lead-spam", {"lead_id": spam}, as_=spam_holder)
    api.post("reopen-lead", {"lead_id": spam, "comment": "не спам"})
    dup, dup_holder = register_lead(api, external_ref="form-2")
    api.post("merge-lead", {"lead_id": dup, "into_lead_id": spam})
    gone, gone_holder = register_lead(api, external_ref="form-3")
    api.post("disqualify-lead", {"lead_id": gone, "reason": "no_budget", "comment": "нет бюджета"}, as_=gone_holder)
    api.post("flag-response-overdue", {"lead_id": spam, "escalated": False}, as_="system:scheduler")

    api.post("register-employee", {"employee_id": "gleb", "name": "Глеб", "role": "manager", "sales_profile": "farmer"})
    api.post("add-to-rotation", {"employee_id": "gleb"})
    api.post("mark-away", {"employee_id": "gleb"}, as_="gleb")
    api.post("mark-back", {"employee_id": "gleb"})
    api.post("remove-from-rotation", {"employee_id": "gleb"})
    api.post("set-monthly-plan", {"employee_id": "anna", "month": "2026-12", "revenue": "1500000.00", "deals_won": 4})

    counterparty = api.post("register-counterparty", {"counterparty": {**ORG, "kpp": "773601002"}, "owner": "anna"})["id"]
    api.post("add-contact", {"counterparty_id": counterparty, "contact": {"name": "Олег", "email": "o@gkb7.ru"}})
    api.post("change-account-owner", {"counterparty_id": counterparty, "new_owner": "vera", "reason": "фермер"})
    api.post("link-counterparty-to1c", {"counterparty_id": counterparty, "onec_id": "1c-000123"})

    need = api.post("register-need", {"counterparty_id": counterparty, "items": items(0, 1)}, as_="vera")["id"]
    api.post("change-need-items", {"need_id": need, "items": items(0, 1, 2)}, as_="vera")
    twin = api.post("register-need", {"counterparty_id": counterparty, "items": items(0, 1, 2)}, as_="anna")["id"]
    alert = {"need_id": twin, "saved_by": "anna", "other_id": need, "other_kind": "need", "other_number": "N-2026-000001",
             "other_owner": "vera", "match": "exact", "similarity": 1.0, "overlap": []}  # fmt: skip
    api.post("flag-duplicate-work", alert, as_="system:dupcheck")
    refused = api.post("convert-need-to-deal", {"need_id": twin}, as_="anna", status=409)
    assert "duplicate alert" in refused["detail"]
    alert_id = next(e.payload.alert_id for _, e in store.read(topics=["DuplicateWorkFlagged"]))
    api.post("dismiss-duplicate-alert", {"need_id": twin, "alert_id": str(alert_id), "comment": "дилер и клиника"}, as_="anna")
    notice = next(e.payload.notification_id for _, e in store.read(topics=["NotificationRequested"]))
    api.post("mark-notification-read", {"notification_id": str(notice)}, as_="anna")
    api.post("dismiss-notification", {"notification_id": str(notice)}, as_="anna")
    api.post("close-need-as-duplicate", {"need_id": twin, "duplicate_of": need, "comment": "тот же запрос"}, as_="anna")
    spare = api.post("register-need", {"counterparty_id": counterparty, "items": items(5)}, as_="anna")["id"]
    api.post("cancel-need", {"need_id": spare, "reason": "price_too_high", "comment": "дорого"}, as_="anna")

    deal = api.post("convert-need-to-deal", {"need_id": need, "payment_terms": "postpaid"}, as_="vera")["id"]
    lines = [{"product_id": str(product_id(PRODUCTS[i])), "quantity": "10", "unit_price": "99.90"} for i in (0, 1, 2)]
    as_vera = {"as_": "vera"}
    api.post("issue-proposal", {"deal_id": deal, "lines": lines}, **as_vera)
    api.post("start-negotiation", {"deal_id": deal}, **as_vera)
    api.post("schedule-follow-up", {"deal_id": deal, "kind": "call", "due_at": "2026-11-20T10:00:00+03:00"}, **as_vera)
    follow_up = next(e.payload.follow_up_id for _, e in store.read(topics=["FollowUpScheduled"]))
    api.post("flag-overdue-follow-up", {"deal_id": deal, "follow_up_id": str(follow_up)}, as_="system:scheduler")
    api.post("complete-follow-up", {"deal_id": deal, "follow_up_id": str(follow_up), "outcome": "перезвонить"}, **as_vera)
    api.post("flag-deal-without-follow-up", {"deal_id": deal}, as_="system:scheduler")
    api.post("schedule-follow-up", {"deal_id": deal, "kind": "email", "due_at": "2026-12-20T10:00:00+03:00"}, **as_vera)
    second = [e.payload.follow_up_id for _, e in store.read(topics=["FollowUpScheduled"])][-1]
    api.post("cancel-follow-up", {"deal_id": deal, "follow_up_id": str(second), "comment": "не нужно"}, **as_vera)
    api.post("send-documents", {"deal_id": deal, "invoice_number": "СЧ-1", "contract_number": "Д-1"}, **as_vera)
    api.post("sign-contract", {"deal_id": deal, "signed_on": "2026-11-25"}, **as_vera)
    api.post("start-fulfilment", {"deal_id": deal, "mode": "supplier_order", "supplier_order_ref": "ЗП-7"}, **as_vera)
    shipment = [{"product_id": line["product_id"], "quantity": "10"} for line in lines]
    api.post("record-shipment", {"deal_id": deal, "items": shipment, "shipped_on": "2026-12-01"}, **as_vera)
    api.post("receive-closing-documents", {"deal_id": deal}, **as_vera)
    api.post("record-payment", {"deal_id": deal, "amount": "2997.00", "paid_on": "2026-12-05"}, **as_vera)
    api.post("win-deal", {"deal_id": deal}, **as_vera)
    api.post("hand-off-deal", {"deal_id": deal, "to": "anna", "reason": "x"}, as_="vera", status=409)
    lost_need = api.post("register-need", {"counterparty_id": counterparty, "items": items(6)}, as_="vera")["id"]
    lost = api.post("convert-need-to-deal", {"need_id": lost_need}, as_="vera")["id"]
    api.post("hand-off-deal", {"deal_id": lost, "to": "anna", "reason": "нагрузка"}, as_="vera")
    api.post("lose-deal", {"deal_id": lost, "reason": "price", "comment": "дорого"}, as_="anna")
    api.post("reopen-deal", {"deal_id": lost, "comment": "клиент вернулся"})

    call = {"pbx_call_id": "pbx-1", "employee": "anna", "direction": "outbound", "phone": "+7 (495) 123-45-67",
            "started_at": "2026-11-23T10:00:00+03:00", "duration_seconds": 95, "outcome": "answered"}  # fmt: skip
    call_id = api.post("log-call", call, as_="system:pbx")["id"]
    api.post("score-call", {"call_id": call_id, "score": 85})
    meeting = api.post("schedule-meeting", {"lead_id": spam, "converter": "vera",
                                            "scheduled_for": "2026-11-26T11:00:00+03:00"}, as_="anna")["id"]  # fmt: skip
    api.post("record-meeting-held", {"meeting_id": meeting}, as_="vera")
    for name, body in (("record-meeting-no-show", {"party": "client"}), ("cancel-meeting", {"reason": "перенос"})):
        other_meeting = api.post("schedule-meeting", {"converter": "vera", "scheduled_for": "2026-11-27T11:00:00+03:00"}, as_="anna")["id"]
        api.post(name, {"meeting_id": other_meeting, **body}, as_="vera")
    survey = next(e.payload.survey_id for _, e in store.read(topics=["SurveyRequested"]))
    api.post("record-survey-answer", {"survey_id": str(survey), "score": 9, "comment": "спасибо"}, as_="system:survey")

    api.post("reassign-portfolio", {"employee_id": "vera", "to": "anna"}, status=200)
    api.post("record-employee-left", {"employee_id": "vera"})

    routes = {path_for(command) for command in COMMANDS if command is not ImportCatalog}
    assert routes - api.called == set(), "command routes without a valid-input test"


def test_missing_field_is_named(api: Api):
    answer = api.post("register-interest", {"contact": {"email": "a@b.ru"}}, as_="system:site", status=422)
    assert any(err["loc"][-1] == "channel" and err["type"] == "missing" for err in answer["detail"])


def test_wrong_type_is_named(api: Api):
    body = {"channel": "email", "contact": {"email": "a@b.ru"}, "occurred_at": "вчера"}
    answer = api.post("register-interest", body, as_="system:site", status=422)
    assert answer["detail"][0]["loc"][-1] == "occurred_at"


def test_unknown_channel_is_refused_with_the_allowed_ones(api: Api):
    answer = api.post("register-interest", {"channel": "telepathy", "contact": {"email": "a@b.ru"}}, as_="system:site", status=422)
    assert answer["detail"][0]["loc"] == ["body", "channel"]
    assert "site_form" in answer["detail"][0]["msg"]


def test_unknown_product_is_refused(api: Api):
    counterparty = api.post("register-counterparty", {"counterparty": ORG, "owner": "anna"})["id"]
    bogus = [{"product_id": "00000000-0000-0000-0000-000000000001", "quantity": "1", "period": PERIOD}]
    answer = api.post("register-need", {"counterparty_id": counterparty, "items": bogus}, as_="anna", status=422)
    assert answer["detail"][0]["loc"] == ["body", "items"] and "not in the product catalog" in answer["detail"][0]["msg"]


def test_illegal_transition_says_what_is_allowed(api: Api, store):
    lead, holder = register_lead(api)
    answer = api.post("convert-lead", {"lead_id": lead, "counterparty": ORG}, as_=holder, status=409)
    assert "cannot convert" in answer["detail"] and "qualify" in answer["allowed"]


def test_invalid_inn_is_refused_with_the_reason(api: Api):
    answer = api.post("register-counterparty", {"counterparty": {**ORG, "inn": "7707083894"}}, status=422)
    assert answer["detail"][0]["loc"][-1] == "inn" and "INN" in answer["detail"][0]["msg"]


def test_replayed_external_ref_returns_the_first_lead(api: Api):
    body = {"channel": "email", "contact": {"email": "a@b.ru"}, "external_ref": "<msg-1@mail.ru>"}
    first = api.post("register-interest", body, as_="system:mail")
    again = api.post("register-interest", body, as_="system:mail")
    assert (again["id"], again["position"]) == (first["id"], first["position"])
    other_channel = api.post("register-interest", body | {"channel": "site_form"}, as_="system:mail")
    assert other_channel["id"] != first["id"]


def test_replayed_pbx_call_is_logged_once(api: Api):
    call = {"pbx_call_id": "pbx-9", "employee": "anna", "direction": "inbound", "phone": "+74950000000",
            "started_at": "2026-11-23T10:00:00+03:00", "duration_seconds": 5, "outcome": "missed"}  # fmt: skip
    first = api.post("log-call", call, as_="system:pbx")
    assert api.post("log-call", call, as_="system:pbx")["position"] == first["position"]


def test_unknown_id_is_404(api: Api):
    api.post("qualify-lead", {"lead_id": "00000000-0000-0000-0000-000000000002"}, as_="anna", status=404)


def test_without_a_valid_token_is_401(api: Api):
    body = {"channel": "email", "contact": {"email": "a@b.ru"}}
    assert api.client.post("/commands/register-interest", json=body).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert api.client.post("/commands/register-interest", json=body, headers=bad).status_code == 401
    expired = api.tokens.issue("anna", Role.MANAGER, ttl=timedelta(seconds=-1))
    response = api.client.post("/commands/register-interest", json=body, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_read_only_roles_may_not_issue_commands(api: Api):
    body = {"channel": "email", "contact": {"email": "a@b.ru"}}
    for role in (Role.ANALYST, Role.AUDITOR, Role.OPS):
        answer = api.post("register-interest", body, as_="olga", role=role, status=403)
        assert role.value in answer["detail"]


def test_a_manager_may_not_act_on_another_managers_lead(api: Api, store):
    lead, holder = register_lead(api)
    stranger = next(m for m in ("anna", "boris", "vera") if m != holder)
    api.post("qualify-lead", {"lead_id": lead}, as_=stranger, status=403)
