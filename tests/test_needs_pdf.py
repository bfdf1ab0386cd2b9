"""Needs printed as PDF through HTTP: Cyrillic text really in the document, the font embedded, visibility, 503 without fonts."""

from __future__ import annotations

import io
import uuid
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from aggregates.catalog import product_id
from schemas.employees import Role
from tests.conftest import PRODUCTS, bearer, seed_department
from voronka.wiring import bootstrap, create_app

PERIOD = {"start": "2026-12-01", "end": "2026-12-31"}
BOSS = ("boss", Role.HEAD_OF_SALES)


@contextmanager
def serve(settings, store):
    """Anna owns N-2026-000001 (open, for an end customer) and N-2026-000002 (cancelled); Boris owns N-2026-000003."""
    container = bootstrap(settings, store)
    seed_department(container.service)
    with TestClient(create_app(container)) as client:
        boss = bearer(container, *BOSS)
        client_id = client.post("/commands/register-counterparty", headers=boss, json={
            "counterparty": {"inn": "7707083893", "kpp": "773601001", "name": "ООО Клиника"}, "owner": "anna"}).json()["id"]  # fmt: skip
        ids = {}
        for who, product in (("anna", 0), ("anna", 1), ("boris", 2)):
            need = {"counterparty_id": client_id, "items": [{"product_id": str(product_id(PRODUCTS[product])), "quantity": "5", "period": PERIOD}]}
            if product == 0:
                need["end_customer"] = {"name": "ГБУЗ Городская больница № 7"}
            ids[who, product] = client.post("/commands/register-need", headers=bearer(container, who), json=need).json()["id"]
        last = client.post("/commands/cancel-need", headers=bearer(container, "anna"), json={
            "need_id": ids["anna", 1], "reason": "price_too_high", "comment": "дорого"}).json()  # fmt: skip
        client.get("/needs", headers=bearer(container, *BOSS, token=last["token"]))  # wait for the projections
        yield client, container, ids


@pytest.fixture
def api(app_settings, store):
    with serve(app_settings, store) as running:
        yield running


def text_of(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_the_head_of_sales_prints_every_need_in_cyrillic_with_the_font_embedded(api):
    client, container, _ = api
    response = client.get("/needs.pdf", headers=bearer(container, *BOSS))
    text = text_of(response)
    assert "Реестр потребностей — все" in text and "стр. 1" in text
    assert all(f"N-2026-00000{n}" in text for n in (1, 2, 3))
    assert "Шприц 0 мл" in text and "Шприц 2 мл" in text and "ГБУЗ Городская больница № 7" in text
    assert "отменена" in text and "01.12.2026 – 31.12.2026" in text
    assert response.headers["content-disposition"].startswith('attachment; filename="needs-all-')
    fonts = {}
    for page in PdfReader(io.BytesIO(response.content)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"].split("+")[-1]] = "/FontDescriptor" in font and "/FontFile2" in font["/FontDescriptor"]
    assert fonts == {"DejaVuSans": True, "DejaVuSans-Bold": True}  # only the embedded TrueType font, no bare Helvetica


def test_open_and_closed_filters(api):
    client, container, _ = api
    boss = bearer(container, *BOSS)
    opened = text_of(client.get("/needs.pdf?status=open", headers=boss))
    assert "открытые" in opened and "N-2026-000001" in opened and "N-2026-000003" in opened and "N-2026-000002" not in opened
    closed = text_of(client.get("/needs.pdf?status=closed", headers=boss))
    assert "закрытые" in closed and "N-2026-000002" in closed and "Комментарий: дорого" in closed
    assert "N-2026-000001" not in closed and "N-2026-000003" not in closed
    assert client.get("/needs.pdf?status=lost", headers=boss).status_code == 422


def test_a_manager_prints_only_their_own_needs(api):
    client, container, ids = api
    anna = bearer(container, "anna")
    listed = text_of(client.get("/needs.pdf", headers=anna))
    assert "N-2026-000001" in listed and "N-2026-000002" in listed and "N-2026-000003" not in listed and "Шприц 2 мл" not in listed
    own = client.get(f"/needs/{ids['anna', 0]}.pdf", headers=anna)
    assert "Потребность N-2026-000001" in text_of(own) and "Шприц 0 мл" in text_of(own)
    assert own.headers["content-disposition"] == 'attachment; filename="N-2026-000001.pdf"'
    for unseen in (ids["boris", 2], uuid.uuid4()):  # another's need answers exactly like one that does not exist
        response = client.get(f"/needs/{unseen}.pdf", headers=anna)
        assert response.status_code == 404 and response.json() == {"detail": f"need {unseen} not found"}
    assert "N-2026-000003" in text_of(client.get(f"/needs/{ids['boris', 2]}.pdf", headers=bearer(container, *BOSS)))


@pytest.mark.parametrize("path", ["/needs.pdf", "/needs/{id}.pdf"])
def test_no_token_is_401_and_ops_is_403(api, path):
    client, container, ids = api
    path = path.format(id=ids["anna", 0])
    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer(container, "olga", Role.OPS)).status_code == 403


def test_missing_fonts_answer_503_naming_the_path_and_the_package(app_settings, store, tmp_path):
    missing = tmp_path / "no-fonts"
    with serve(app_settings.model_copy(update={"pdf_font_dir": missing}), store) as (client, container, ids):
        for path in ("/needs.pdf", f"/needs/{ids['anna', 0]}.pdf"):
            response = client.get(path, headers=bearer(container, *BOSS))
            assert response.status_code == 503
            assert str(missing / "DejaVuSans.ttf") in response.json()["detail"] and "fonts-dejavu-core" in response.json()["detail"]


def test_the_pdf_routes_are_documented(api):
    client, _, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/needs.pdf", "/needs/{need_id}.pdf"):
        assert "application/pdf" in paths[path]["get"]["responses"]["200"]["content"]
