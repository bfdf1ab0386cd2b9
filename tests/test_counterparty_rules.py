"""Counterparties: INN checksums, KPP by kind, duplicates refused, similar names warned."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aggregates.counterparty import normalise_name
from aggregates.errors import ConflictError
from schemas.counterparties import NewCounterparty, RegisterCounterparty
from tests.conftest import HEAD

VALID_ORG_INNS = ["7707083893", "7736050003", "5024002119"]
VALID_PERSON_INNS = ["500100732259", "773370857141"]


@pytest.mark.parametrize("inn", VALID_ORG_INNS)
def test_valid_organisation_inn_is_accepted(inn):
    assert NewCounterparty(inn=inn, kpp="773601001", name="ООО Тест").inn == inn


@pytest.mark.parametrize("inn", VALID_PERSON_INNS)
def test_valid_individual_inn_is_accepted_without_kpp(inn):
    assert NewCounterparty(inn=inn, name="ИП Иванов").kpp is None


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "770708389", "77070838930", "abcdefghij"])
def test_invalid_inn_is_refused(inn):
    with pytest.raises(ValidationError, match="inn"):
        NewCounterparty(inn=inn, kpp="773601001", name="ООО Тест")


def test_an_organisation_needs_a_kpp_and_an_individual_has_none():
    with pytest.raises(ValidationError, match="needs a KPP"):
        NewCounterparty(inn="7707083893", name="ПАО Сбербанк")
    with pytest.raises(ValidationError, match="has no KPP"):
        NewCounterparty(inn="500100732259", kpp="773601001", name="ИП Иванов")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('ООО "Ромашка"', "ромашка"),
        ("ООО «Медтехника-Плюс»", "Медтехника Плюс, ООО"),
        ("Акционерное общество «Фарм»", "АО Фарм"),
    ],
)
def test_names_differing_only_in_legal_form_quotes_and_case_normalise_alike(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_branches_share_the_inn_and_differ_by_kpp(department):
    first = department.handle(RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ПАО Сбербанк"}), HEAD)
    branch = department.handle(RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "771501001", "name": "ПАО Сбербанк, филиал"}), HEAD)
    assert first.id != branch.id
    assert branch.warnings == []  # "филиал" makes the normalised name differ


def test_same_inn_and_kpp_is_refused_with_the_existing_id(department):
    details = {"inn": "7707083893", "kpp": "773601001", "name": "ПАО Сбербанк"}
    first = department.handle(RegisterCounterparty(counterparty=details), HEAD)
    with pytest.raises(ConflictError) as refused:
        department.handle(RegisterCounterparty(counterparty=details | {"name": "Сбер"}), HEAD)
    assert str(refused.value.existing_id) == first.id


def test_a_similar_name_with_another_inn_gives_a_warning(department):
    first = department.handle(RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": 'ООО "Ромашка"'}), HEAD)
    second = department.handle(RegisterCounterparty(counterparty={"inn": "7736050003", "kpp": "773601001", "name": "Ромашка ООО"}), HEAD)
    assert second.warnings == [f"possible duplicate: counterparty {first.id} has a similar name"]
