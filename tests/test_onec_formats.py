"""1C exchange files: CommerceML 2 and CSV parsing, refusals with line numbers, export round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from commands.onec_formats import (
    FileFormatError,
    export_counterparties_commerceml,
    export_counterparties_csv,
    parse_catalog,
    parse_counterparties,
)
from schemas.counterparties import ContactPerson, CounterpartyExport

DATA = Path(__file__).resolve().parent.parent / "voronka" / "data"
NS = ' xmlns="urn:1C.ru:commerceml_2"'
SYRINGE = """\
    <Товар>
      <Ид>bd72d8f5-1c4e-11e6-80c5-001e67a4f3b1</Ид>
      <Артикул>MD-10234</Артикул>
      <Наименование>Шприц 5 мл с иглой 22G</Наименование>
      <БазоваяЕдиница Код="796" НаименованиеПолное="Штука">шт</БазоваяЕдиница>
      <ЗначенияРеквизитов>
        <ЗначениеРеквизита>
          <Наименование>РегистрационноеУдостоверение</Наименование><Значение>РЗН 2019/8827</Значение>
        </ЗначениеРеквизита>
        <ЗначениеРеквизита>
          <Наименование>Производитель</Наименование><Значение>ООО «Медполимер»</Значение>
        </ЗначениеРеквизита>
      </ЗначенияРеквизитов>
    </Товар>
"""
GLOVES = """\
    <Товар>
      <Ид>c01f7a2e-1c4e-11e6-80c5-001e67a4f3b1</Ид>
      <Наименование>Перчатки нитриловые, размер M</Наименование>
    </Товар>
"""
ORG = {"inn": "7707083893", "kpp": "773601001"}


def catalog_xml(*products: str, namespace: str = NS) -> str:
    body = "".join(products)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация{namespace} ВерсияСхемы="2.10">
  <Каталог СодержитТолькоИзменения="false">
   <Товары>
{body}   </Товары>
  </Каталог>
</КоммерческаяИнформация>
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th occurrence of `needle`."""
    position = -1
    for _ in range(occurrence):
        position = text.index(needle, position + 1)
    return text.count("\n", 0, position) + 1


def refused(parse, text: str | bytes) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        parse(text.encode() if isinstance(text, str) else text)
    return caught.value


# --- the shipped samples ---------------------------------------------------------------------


def test_sample_catalog_has_200_products_and_9_without_registry_code():
    records = parse_catalog((DATA / "sample_catalog.xml").read_bytes())
    assert len(records) == 200
    assert len({r.onec_id for r in records}) == 200
    assert sum(r.registry_code is None for r in records) == 9
    assert {r.unit for r in records} <= {"шт", "упак", "пара", "л"}
    assert all(r.sku.startswith("MD-") and "Производитель" in r.attributes for r in records)
    assert all("РегистрационноеУдостоверение" not in r.attributes for r in records)


def test_sample_counterparties_parse_with_valid_inns():
    counterparties = parse_counterparties((DATA / "sample_counterparties.xml").read_bytes())
    assert len(counterparties) >= 15
    individuals = [c for c in counterparties if len(c.inn) == 12]
    assert individuals and all(c.kpp is None for c in individuals)
    assert all(c.onec_id and c.address for c in counterparties)


# --- CommerceML 2 catalog --------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [NS, ""], ids=["namespace", "no-namespace"])
def test_commerceml_catalog_with_and_without_namespace(namespace):
    [syringe, gloves] = parse_catalog(catalog_xml(SYRINGE, GLOVES, namespace=namespace).encode())
    assert syringe.onec_id == "bd72d8f5-1c4e-11e6-80c5-001e67a4f3b1"
    assert syringe.sku == "MD-10234"
    assert syringe.unit == "шт"
    assert syringe.registry_code == "РЗН 2019/8827"
    assert syringe.attributes == {"Производитель": "ООО «Медполимер»"}
    assert (gloves.unit, gloves.sku, gloves.registry_code, gloves.attributes) == ("шт", "", None, {})


def test_registry_code_alternative_names_and_bom():
    product = SYRINGE.replace("РегистрационноеУдостоверение", "НомерРУ")
    [record] = parse_catalog(b"\xef\xbb\xbf" + catalog_xml(product).encode())
    assert record.registry_code == "РЗН 2019/8827"


def test_malformed_xml_reports_the_parsers_line():
    text = catalog_xml(SYRINGE, GLOVES).replace("<Артикул>MD-10234</Артикул>", "<Артикул>MD-10234</Арт>")
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "</Арт>")
    assert "malformed XML" in error.reason and "mismatched tag" in error.reason
    assert str(error).startswith(f"line {error.line}: ")


def test_product_without_id_reports_its_line():
    text = catalog_xml(SYRINGE, GLOVES.replace("<Ид>c01f7a2e-1c4e-11e6-80c5-001e67a4f3b1</Ид>", ""))
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "<Товар>", occurrence=2)
    assert "Ид" in error.reason


def test_product_without_name_reports_its_line():
    text = catalog_xml(GLOVES.replace("<Наименование>Перчатки нитриловые, размер M</Наименование>", ""), SYRINGE)
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "<Товар>")
    assert "Наименование" in error.reason


def test_duplicate_id_reports_the_second_product():
    text = catalog_xml(SYRINGE, GLOVES, SYRINGE)
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "<Товар>", occurrence=3)
    assert "duplicate Ид" in error.reason and f"line {line_of(text, '<Товар>')}" in error.reason


def test_validation_error_becomes_a_readable_refusal():
    text = catalog_xml(GLOVES.replace("<Наименование>", "<Артикул>" + "X" * 101 + "</Артикул><Наименование>"))
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "<Товар>")
    assert error.reason.startswith("sku: ") and "100 characters" in error.reason


def test_no_catalog_and_partial_catalog_and_empty_file_are_refused():
    no_goods = f'<?xml version="1.0"?>\n<КоммерческаяИнформация{NS}>\n <Классификатор/>\n</КоммерческаяИнформация>'
    assert refused(parse_catalog, no_goods).line == 2
    partial = catalog_xml(SYRINGE).replace('СодержитТолькоИзменения="false"', 'СодержитТолькоИзменения="true"')
    assert "only changes" in refused(parse_catalog, partial).reason
    assert refused(parse_catalog, b"  \n").reason == "the file is empty"
    assert refused(parse_catalog, catalog_xml()).reason == "the file lists no records"


def test_wrong_root_is_refused():
    error = refused(parse_catalog, "<?xml version='1.0'?>\n\n<Каталог><Товары/></Каталог>")
    assert error.line == 3 and "КоммерческаяИнформация" in error.reason


# --- hostile XML -----------------------------------------------------------------------------


def test_external_entity_is_refused():
    doctype = '<!DOCTYPE КоммерческаяИнформация [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
    text = catalog_xml(SYRINGE.replace("MD-10234", "&x;")).replace("<Коммерческая", doctype + "<Коммерческая", 1)
    error = refused(parse_catalog, text)
    assert error.line == line_of(text, "<!ENTITY")
    assert "XXE" in error.reason and "file:///etc/passwd" in error.reason


def test_billion_laughs_is_refused():
    entities = '<!ENTITY lol "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n' for i in range(1, 10)
    )
    text = f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n{entities}]>\n<Root>&lol9;</Root>'
    error = refused(parse_catalog, text)
    assert "entity expansion" in error.reason and "billion laughs" in error.reason
    assert error.line == 3


# --- CSV catalog -----------------------------------------------------------------------------

RU_HEADER = "Ид;Артикул;Наименование;Единица;РегистрационноеУдостоверение;Производитель"
EN_HEADER = "onec_id;SKU;Name;unit;registry_code;Производитель"


@pytest.mark.parametrize("header", [RU_HEADER, EN_HEADER], ids=["russian", "english"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_catalog(header, delimiter):
    rows = [
        header,
        'p-1;MD-10234;"Шприц 5 мл; с иглой 22G";шт;РЗН 2019/8827;ООО «Медполимер»',
        "p-2;;Перчатки нитриловые M;упак;;",
        "",
    ]
    text = "\r\n".join(row.replace(";", delimiter) for row in rows)
    [syringe, gloves] = parse_catalog(("\ufeff" + text).encode())
    assert syringe.name == f"Шприц 5 мл{delimiter} с иглой 22G"
    assert (syringe.onec_id, syringe.sku, syringe.unit) == ("p-1", "MD-10234", "шт")
    assert syringe.registry_code == "РЗН 2019/8827"
    assert syringe.attributes == {"Производитель": "ООО «Медполимер»"}
    assert (gloves.sku, gloves.unit, gloves.registry_code, gloves.attributes) == ("", "упак", None, {})


def test_csv_unit_defaults_to_pieces():
    [record] = parse_catalog("Ид,Наименование\np-1,Тонометр механический\n".encode())
    assert record.unit == "шт"


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("p-3;Бинт;лишнее", "3 fields, the header has 2"),
        ('p-3;"Бинт\nэластичный";лишнее', "3 fields, the header has 2"),
        ("p-3;", "row without Наименование"),
        ("p-1;Бинт", "duplicate Ид"),
    ],
)
def test_csv_bad_row_reports_its_line(bad_row, reason):
    text = f"Ид;Наименование\np-1;Шприц 5 мл\n\np-2;\"Маска\nмедицинская\"\n{bad_row}\np-4;Лейкопластырь\n"
    error = refused(parse_catalog, text)
    assert error.line == 6
    assert reason in error.reason


def test_csv_missing_column_is_line_1():
    error = refused(parse_catalog, "Артикул;Наименование\nMD-1;Шприц\n")
    assert error.line == 1 and "Ид" in error.reason


def test_csv_not_utf8_names_the_line():
    error = refused(parse_catalog, "Ид;Наименование\np-1;Шприц\n".encode("cp1251"))
    assert error.line == 1 and "UTF-8" in error.reason


# --- counterparties --------------------------------------------------------------------------


def counterparties_xml(inn: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация{NS} ВерсияСхемы="2.10">
  <Контрагенты>
    <Контрагент>
      <Ид>0a1</Ид>
      <Наименование>ООО «Клиника»</Наименование>
      <ИНН>7707083893</ИНН>
      <КПП>773601001</КПП>
    </Контрагент>
    <Контрагент>
      <Ид>0a2</Ид>
      <ОфициальноеНаименование>ГБУЗ «ГКБ № 1»</ОфициальноеНаименование>
      <Адрес><Представление>Москва, Ленинский пр-т, 8</Представление></Адрес>
      <ИНН>{inn}</ИНН>
      <КПП>772501001</КПП>
    </Контрагент>
  </Контрагенты>
</КоммерческаяИнформация>
"""


def test_commerceml_counterparties():
    [clinic, hospital] = parse_counterparties(counterparties_xml("7725061236").encode())
    assert (clinic.onec_id, clinic.inn, clinic.kpp, clinic.address) == ("0a1", "7707083893", "773601001", None)
    assert (hospital.name, hospital.address) == ("ГБУЗ «ГКБ № 1»", "Москва, Ленинский пр-т, 8")


def test_invalid_inn_in_xml_is_refused_with_its_line():
    text = counterparties_xml("7725061235")
    error = refused(parse_counterparties, text)
    assert error.line == line_of(text, "<Контрагент>", occurrence=2)
    assert error.reason.startswith("inn: not a valid INN")


def test_invalid_inn_in_csv_is_refused_with_its_line():
    text = "Ид;Наименование;ИНН;КПП;Адрес\n0a1;ООО «Клиника»;7707083893;773601001;\n0a2;ИП Петров;500100732258;;\n"
    assert refused(parse_counterparties, text).line == 3


def test_organisation_without_kpp_is_refused_with_the_validators_reason():
    error = refused(parse_counterparties, "onec_id,name,inn,kpp,address\n0a1,ООО «Клиника»,7707083893,,\n")
    assert error.line == 2 and "needs a KPP" in error.reason


# --- export round trips ----------------------------------------------------------------------

EXPORTED = [
    CounterpartyExport(
        id=UUID("3f0c1d9e-5b6a-4c1e-9d2f-7a8b9c0d1e2f"), onec_id="bd72d8f5-1c4e-11e6",
        name="ООО «Клиника; \"Здоровье\"»",
        address="125040, г. Москва, ул. Правды, д. 8", owner="ivanova", **ORG,
        contacts=[ContactPerson(name="Анна Смирнова", email="a.smirnova@clinic.ru", phone="+7 495 123-45-67")],
    ),  # fmt: skip
    CounterpartyExport(
        id=UUID("4a1d2e0f-6c7b-4d2f-8e3a-8b9c0d1e2f3a"), onec_id=None, inn="500100732259", kpp=None,
        name="ИП Петров Пётр Петрович", address=None, owner=None,
    ),  # fmt: skip
]


def details(c) -> tuple:
    return c.inn, c.kpp, c.name, c.address, c.onec_id


def test_csv_export_round_trip():
    data = export_counterparties_csv(EXPORTED)
    assert data.startswith("\ufeffИд;".encode())
    assert data.decode("utf-8-sig").splitlines()[0] == "Ид;ИдVoronka;Наименование;ИНН;КПП;Адрес;Ответственный"
    assert [details(c) for c in parse_counterparties(data)] == [details(c) for c in EXPORTED]


def test_commerceml_export_round_trip():
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    data = export_counterparties_commerceml(EXPORTED, generated_at=at)
    assert data == export_counterparties_commerceml(EXPORTED, generated_at=at)
    text = data.decode()
    assert 'xmlns="urn:1C.ru:commerceml_2"' in text and 'ВерсияСхемы="2.10"' in text
    assert 'ДатаФормирования="2026-11-23T09:00:00+00:00"' in text
    assert "<Тип>Почта</Тип>" in text and "<Значение>+74951234567</Значение>" in text
    [clinic, individual] = parse_counterparties(data)
    assert details(clinic) == details(EXPORTED[0])
    # 1C gets Voronka's id as Ид when the counterparty has none in 1C yet.
    assert details(individual) == (*details(EXPORTED[1])[:4], str(EXPORTED[1].id))
