"""KPI: the route serialises plain values itself; its body must be exactly what the declared `KpiReport` gives."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from read_api.kpi import KpiReport
from schemas import employees as e
from schemas.employees import Role
from tests.conftest import HEAD, bearer
from tests.test_kpi import kpi_app  # noqa: F401 (the fixture)
from voronka.wiring import create_app


@pytest.mark.parametrize("period", ["month", "week", "day"])
@pytest.mark.parametrize(("who", "role"), [("boss", Role.HEAD_OF_SALES), ("kostya", Role.MANAGER)])
def test_the_body_is_what_the_declared_model_gives(kpi_app, period, who, role):  # noqa: F811
    container, _ = kpi_app
    plan = e.SetMonthlyPlan(employee_id="gena", month="2026-11", calls_per_day=20, meetings_held=3)  # a fact that is a float
    token = container.service.handle(plan, HEAD).token
    params = {"period": period, "date_from": "2026-06-01", "date_to": "2026-11-23"}
    with TestClient(create_app(container)) as client:
        response = client.get("/reports/kpi", params=params, headers=bearer(container, who, role, token))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.content
    assert KpiReport.model_validate_json(body).model_dump_json().encode() == body  # same fields, order, types and forms
    if period == "month" and role is Role.HEAD_OF_SALES:  # a float fact in its shortest form: 4 calls / 16 working days
        assert b'{"metric":"calls_per_day","plan":"20","fact":"0.2","done":0.01}' in body


def test_the_declared_model_is_in_the_openapi_schema(kpi_app):  # noqa: F811
    container, _ = kpi_app
    with TestClient(create_app(container)) as client:
        schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/reports/kpi"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/KpiReport"}
