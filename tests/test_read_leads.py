"""Lead card and audit through HTTP: read-your-writes, first touch and chain, visibility by role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from schemas.employees import Role
from tests.conftest import seed_department
from voronka.wiring import bootstrap, create_app


@pytest.fixture
def container(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    return container


def auth(container, employee: str, role: Role) -> dict:
    return {"Authorization": f"Bearer {container.tokens.issue(employee, role)}"}


def register(client: TestClient, container) -> dict:
    body = {"channel": "site_form", "contact": {"name": "Ирина", "email": "irina@gkb7.ru"}}
    return client.post("/commands/register-interest", json=body, headers=auth(container, "system:site", Role.INTEGRATION)).json()


def test_a_query_with_the_commands_token_sees_the_write(container):
    with TestClient(create_app(container)) as client:
        accepted = register(client, container)
        card = client.get(f"/leads/{accepted['id']}", headers=auth(container, "boss", Role.HEAD_OF_SALES)
                          | {"X-Consistency-Token": accepted["token"]})  # fmt: skip
        assert card.status_code == 200, card.text
        assert card.json()["status"] == "assigned" and card.json()["holder"] in ("anna", "boris", "vera")


def test_the_audit_shows_the_first_touch_and_the_chain(container):
    with TestClient(create_app(container)) as client:
        lead = register(client, container)
        boss = auth(container, "boss", Role.HEAD_OF_SALES)
        holder = client.get(f"/leads/{lead['id']}", headers=boss | {"X-Consistency-Token": lead["token"]}).json()["holder"]
        other = next(m for m in ("anna", "boris", "vera") if m != holder)
        handed = client.post("/commands/hand-off-lead", json={"lead_id": lead["id"], "to": other, "reason": "отпуск"},
                             headers=auth(container, holder, Role.MANAGER)).json()  # fmt: skip
        audit = client.get(f"/leads/{lead['id']}/audit", headers=boss | {"X-Consistency-Token": handed["token"]}).json()
    assert audit["first_touch"] == holder  # the handoff was the first act on a distributed lead
    assert [e["event_type"] for e in audit["chain"]] == ["InterestRegistered", "LeadAssigned", "LeadHandedOff", "FirstTouchRecorded"]
    assert audit["chain"][2]["holder_after"] == other


def test_managers_see_only_leads_they_hold_or_held_and_ops_see_none(container):
    with TestClient(create_app(container)) as client:
        lead = register(client, container)
        boss = auth(container, "boss", Role.HEAD_OF_SALES) | {"X-Consistency-Token": lead["token"]}
        holder = client.get(f"/leads/{lead['id']}", headers=boss).json()["holder"]
        stranger = next(m for m in ("anna", "boris", "vera") if m != holder)
        assert client.get(f"/leads/{lead['id']}", headers=auth(container, holder, Role.MANAGER)).status_code == 200
        assert client.get(f"/leads/{lead['id']}", headers=auth(container, stranger, Role.MANAGER)).status_code == 404
        assert client.get(f"/leads/{lead['id']}/audit", headers=auth(container, stranger, Role.MANAGER)).status_code == 404
        assert client.get(f"/leads/{lead['id']}", headers=auth(container, "olga", Role.OPS)).status_code == 403
        assert client.get(f"/leads/{lead['id']}", headers=auth(container, "ana", Role.AUDITOR)).status_code == 200
        assert client.get(f"/leads/{lead['id']}").status_code == 401


def test_without_the_projections_running_a_token_query_answers_503(container):
    client = TestClient(create_app(container))  # no lifespan: nothing follows the log
    lead = register(client, container)
    answer = client.get(f"/leads/{lead['id']}", headers=auth(container, "boss", Role.HEAD_OF_SALES) | {"X-Consistency-Token": lead["token"]})
    assert answer.status_code == 503 and "not yet" in answer.json()["detail"]["message"]
    bad = client.get(f"/leads/{lead['id']}", headers=auth(container, "boss", Role.HEAD_OF_SALES) | {"X-Consistency-Token": "???"})
    assert bad.status_code == 422


def test_serving_runs_the_duplicate_check_and_conversion_waits_for_it(container):
    import time

    from aggregates.catalog import product_id
    from tests.conftest import PRODUCTS

    with TestClient(create_app(container)) as client:
        boss = auth(container, "boss", Role.HEAD_OF_SALES)
        cp = client.post("/commands/register-counterparty", headers=boss,
                         json={"counterparty": {"inn": "7707083893", "kpp": "773601001", "name": "ООО Дилер"}, "owner": "anna"}).json()  # fmt: skip
        items = [{"product_id": str(product_id(PRODUCTS[i])), "quantity": "1", "period": {"start": "2026-12-01", "end": "2026-12-31"}} for i in (0, 1)]
        body = {"counterparty_id": cp["id"], "items": items}
        client.post("/commands/register-need", json=body, headers=auth(container, "anna", Role.MANAGER))
        second = client.post("/commands/register-need", json=body, headers=auth(container, "boris", Role.MANAGER)).json()
        deadline = time.monotonic() + 5
        while not list(container.store.read(topics=["DuplicateWorkFlagged"])) and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = client.post("/commands/convert-need-to-deal", json={"need_id": second["id"]}, headers=auth(container, "boris", Role.MANAGER))
    assert refused.status_code == 409 and "duplicate alert" in refused.json()["detail"]


def test_raw_events_of_a_lead_validate_against_the_envelope_and_respect_visibility(container, tmp_path):
    import json

    import jsonschema

    from voronka.schema_export import export_schemas

    export_schemas(tmp_path)
    schema = json.loads((tmp_path / "envelope.json").read_text())
    with TestClient(create_app(container)) as client:
        lead = register(client, container)
        auditor = auth(container, "ana", Role.AUDITOR)
        holder = client.get(f"/leads/{lead['id']}", headers=auditor | {"X-Consistency-Token": lead["token"]}).json()["holder"]
        stranger = next(m for m in ("anna", "boris", "vera") if m != holder)
        events = client.get(f"/events?aggregate_id={lead['id']}", headers=auditor).json()
        assert client.get(f"/events?aggregate_id={lead['id']}", headers=auth(container, holder, Role.MANAGER)).status_code == 200
        assert client.get(f"/events?aggregate_id={lead['id']}", headers=auth(container, stranger, Role.MANAGER)).status_code == 404
    assert [e["type"] for e in events] == ["InterestRegistered", "LeadAssigned"]
    assert [e["position"] for e in events] == [lead["position"] - 1, lead["position"]]
    for e in events:
        jsonschema.validate(e, schema)
        assert e["aggregate_type"] == "lead" and e["aggregate_id"] == lead["id"]


def test_health_and_metrics_report_position_lag_and_commands(container):
    with TestClient(create_app(container)) as client:
        lead = register(client, container)
        client.get(f"/leads/{lead['id']}", headers=auth(container, "boss", Role.HEAD_OF_SALES) | {"X-Consistency-Token": lead["token"]})
        client.post("/commands/register-interest", json={"channel": "nope", "contact": {"email": "a@b.ru"}},
                    headers=auth(container, "system:site", Role.INTEGRATION))  # fmt: skip
        health = client.get("/health").json()
        text = client.get("/metrics").text
    assert health["position"] >= lead["position"] and set(health["projection_lag"]) >= {"lead_card", "needs"}
    assert 'voronka_commands_total{command="register-interest",outcome="accepted"}' in text
    assert 'outcome="refused_422"' in text and "voronka_projection_lag_events" in text


def test_a_query_waits_for_a_position_and_answers_503_with_the_position_reached(app_settings, store):
    container = bootstrap(app_settings.model_copy(update={"consistency_timeout_seconds": 0.2}), store)
    with TestClient(create_app(container)) as client:
        lead = register(client, container)
        head = auth(container, "boss", Role.HEAD_OF_SALES)
        reached = client.get(f"/leads/{lead['id']}", headers=head | {"X-Min-Position": str(lead["position"])})
        assert reached.status_code == 200
        ahead = client.get(f"/leads/{lead['id']}", headers=head | {"X-Min-Position": str(lead["position"] + 1000)})
        assert ahead.status_code == 503 and ahead.json()["detail"]["position"] == lead["position"]
        assert ahead.headers["Retry-After"] == "1"
