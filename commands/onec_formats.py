"""1C exchange files: CommerceML 2 and CSV in, CSV and CommerceML 2 out. Bytes in, bytes out; no I/O."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from xml.etree import ElementTree as ET
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from pydantic import BaseModel, ValidationError

from schemas.catalog import ProductRecord
from schemas.counterparties import CounterpartyExport, NewCounterparty

NS = "urn:1C.ru:commerceml_2"
ROOT = "КоммерческаяИнформация"
REGISTRY_NAMES = ("РегистрационноеУдостоверение", "Регистрационное удостоверение", "НомерРУ")
EXPORT_HEADER = ("Ид", "ИдVoronka", "Наименование", "ИНН", "КПП", "Адрес", "Ответственный")
PRODUCT_REQUIRED = {"onec_id": "Ид", "name": "Наименование"}
COUNTERPARTY_REQUIRED = {"name": "Наименование", "inn": "ИНН"}

M = TypeVar("M", bound=BaseModel)


class FileFormatError(ValueError):
    """A file 1C sent that cannot be imported; `line` is 1-based, None when no line is to blame."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return self.reason if self.line is None else f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class _Item:
    """The fields of one Товар, Контрагент or CSV row, and the line it starts on."""

    line: int
    fields: dict[str, Any]


# --- public API ------------------------------------------------------------------------------


def parse_catalog(data: bytes) -> list[ProductRecord]:
    """Products from a CommerceML 2 import.xml or a CSV file (told apart by the first character)."""
    if _is_xml(data):
        items = _product_items(*_parse_xml(data))
        return _build(ProductRecord, items, PRODUCT_REQUIRED, "Товар")
    rows = _csv_rows(data, CATALOG_COLUMNS, PRODUCT_REQUIRED)
    items = [_Item(line, {**known, "attributes": extra}) for line, known, extra in rows]
    return _build(ProductRecord, items, PRODUCT_REQUIRED, "row")


def parse_counterparties(data: bytes) -> list[NewCounterparty]:
    """Counterparties from CommerceML 2 Контрагенты or a CSV file.

    CommerceML requires an Ид; in CSV it may be empty (a counterparty 1C does not know yet, as our
    export writes it). Unknown CSV columns, such as the export's ИдVoronka, are ignored.
    """
    if _is_xml(data):
        items = _counterparty_items(*_parse_xml(data))
        return _build(NewCounterparty, items, {"onec_id": "Ид", **COUNTERPARTY_REQUIRED}, "Контрагент")
    rows = _csv_rows(data, COUNTERPARTY_COLUMNS, COUNTERPARTY_REQUIRED)
    items = [_Item(line, known) for line, known, _ in rows]
    return _build(NewCounterparty, items, COUNTERPARTY_REQUIRED, "row")


def export_counterparties_csv(rows: Iterable[CounterpartyExport]) -> bytes:
    """UTF-8 with BOM and `;`, the way 1C and Excel open CSV without asking."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";")
    writer.writerow(EXPORT_HEADER)
    for r in rows:
        writer.writerow([r.onec_id or "", r.id, r.name, r.inn, r.kpp or "", r.address or "", r.owner or ""])
    return out.getvalue().encode("utf-8-sig")


def export_counterparties_commerceml(
    rows: Iterable[CounterpartyExport], generated_at: datetime | None = None
) -> bytes:
    """A CommerceML 2.10 document with one Контрагент per row; Ид is the 1C id, else Voronka's."""
    stamp = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    # Unprefixed names plus an xmlns attribute: ElementTree's default_namespace refuses unqualified attributes.
    root = ET.Element(ROOT, {"xmlns": NS, "ВерсияСхемы": "2.10", "ДатаФормирования": stamp})
    container = _sub(root, "Контрагенты")
    for row in rows:
        _counterparty_element(container, row)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


# --- validation shared by every format -------------------------------------------------------


def _build(model: type[M], items: Iterable[_Item], required: dict[str, str], what: str) -> list[M]:
    """Validates each item into `model`; `required` maps a field to its 1C name for the message."""
    records: list[M] = []
    first_seen: dict[str, int] = {}
    for item in items:
        fields = {key: value for key, value in item.fields.items() if value}
        for field, label in required.items():
            if field not in fields:
                raise FileFormatError(item.line, f"{what} without {label}")
        onec_id = fields.get("onec_id")
        if onec_id in first_seen:
            raise FileFormatError(item.line, f"duplicate Ид {onec_id!r} (first on line {first_seen[onec_id]})")
        if onec_id:
            first_seen[onec_id] = item.line
        try:
            records.append(model.model_validate(fields))
        except ValidationError as exc:
            raise FileFormatError(item.line, _readable(exc)) from None
    if not records:
        raise FileFormatError(None, "the file lists no records")
    return records


def _readable(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


# --- CommerceML 2 in -------------------------------------------------------------------------


def _is_xml(data: bytes) -> bool:
    """True for XML, False for CSV; refuses an empty file."""
    start = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start:
        raise FileFormatError(None, "the file is empty")
    return start.startswith(b"<")


class _LineRecorder(ET.TreeBuilder):
    """Builds the tree and remembers the line each element starts on."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[ET.Element, int] = {}
        self.expat: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        element = super().start(tag, attrs)
        self.lines[element] = self.expat.CurrentLineNumber
        return element


def _parse_xml(data: bytes) -> tuple[ET.Element, dict[ET.Element, int]]:
    builder = _LineRecorder()
    parser = DefusedXMLParser(target=builder)  # refuses entity declarations and external references
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise FileFormatError(line, f"malformed XML: {ErrorString(exc.code)} (column {column + 1})") from None
    except DefusedXmlException as exc:
        raise FileFormatError(parser.parser.CurrentLineNumber, _refusal(exc)) from None
    if _local(root.tag) != ROOT:
        raise FileFormatError(builder.lines[root], f"the root element is {_local(root.tag)}, not {ROOT}")
    return root, builder.lines


def _refusal(exc: DefusedXmlException) -> str:
    if isinstance(exc, EntitiesForbidden) and not exc.sysid:
        return f"entity declaration {exc.name!r} refused: entity expansion (\"billion laughs\") is not allowed"
    return f"external entity {exc.sysid!r} refused: external references (XXE) are not allowed"


def _product_items(root: ET.Element, lines: dict[ET.Element, int]) -> list[_Item]:
    catalog, goods = root.find("{*}Каталог"), root.find("{*}Каталог/{*}Товары")
    if catalog is None or goods is None:
        raise FileFormatError(lines[root], "no Каталог/Товары in the file")
    # The import archives every product missing from the file, so a partial file would archive the rest.
    if catalog.get("СодержитТолькоИзменения", "").strip().lower() == "true":
        raise FileFormatError(lines[catalog], "the catalog holds only changes; send the full catalog")
    return [_Item(lines[product], _product_fields(product)) for product in goods.iterfind("{*}Товар")]


def _product_fields(product: ET.Element) -> dict[str, Any]:
    registry_code, attributes = "", {}
    for requisite in product.iterfind("{*}ЗначенияРеквизитов/{*}ЗначениеРеквизита"):
        name, value = _text(requisite, "{*}Наименование"), _text(requisite, "{*}Значение")
        if name in REGISTRY_NAMES:
            registry_code = value
        elif name and value:
            attributes[name] = value
    return {
        "onec_id": _text(product, "{*}Ид"),
        "sku": _text(product, "{*}Артикул"),
        "name": _text(product, "{*}Наименование"),
        "unit": _unit(product.find("{*}БазоваяЕдиница")),
        "registry_code": registry_code,
        "attributes": attributes,
    }


def _unit(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return (element.text or "").strip() or element.get("НаименованиеКраткое", "").strip()


def _counterparty_items(root: ET.Element, lines: dict[ET.Element, int]) -> list[_Item]:
    container = root.find("{*}Контрагенты")
    if container is None:
        raise FileFormatError(lines[root], "no Контрагенты in the file")
    return [_Item(lines[c], _counterparty_fields(c)) for c in container.iterfind("{*}Контрагент")]


def _counterparty_fields(c: ET.Element) -> dict[str, Any]:
    return {
        "onec_id": _text(c, "{*}Ид"),
        "name": _text(c, "{*}Наименование") or _text(c, "{*}ОфициальноеНаименование"),
        "inn": _text(c, "{*}ИНН"),
        "kpp": _text(c, "{*}КПП"),
        "address": _text(c, "{*}ЮридическийАдрес/{*}Представление") or _text(c, "{*}Адрес/{*}Представление"),
    }


def _text(parent: ET.Element, path: str) -> str:
    element = parent.find(path)
    return "" if element is None else (element.text or "").strip()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# --- CSV in ----------------------------------------------------------------------------------


def _normal(header: str) -> str:
    return header.strip().casefold().replace(" ", "")


def _aliases(**names: tuple[str, ...]) -> dict[str, str]:
    return {_normal(alias): field for field, aliases in names.items() for alias in (field, *aliases)}


CATALOG_COLUMNS = _aliases(
    onec_id=("Ид",), sku=("Артикул",), name=("Наименование",), unit=("Единица",), registry_code=REGISTRY_NAMES
)
COUNTERPARTY_COLUMNS = _aliases(onec_id=("Ид",), name=("Наименование",), inn=("ИНН",), kpp=("КПП",), address=("Адрес",))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileFormatError(line, "not UTF-8 text (save the file from 1C as UTF-8)") from None


def _csv_rows(
    data: bytes, columns: dict[str, str], required: dict[str, str]
) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
    """(line, known fields, other columns) per non-blank row; the header is line 1."""
    text = _decode(data)
    delimiter = ";" if ";" in text.partition("\n")[0] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
        fields = _header_fields(header, columns, required)
        previous_end = reader.line_num
        for row in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise FileFormatError(line, f"{len(row)} fields, the header has {len(header)}")
            known = {field: cell.strip() for field, cell in zip(fields, row) if field}
            extra = {name: cell.strip() for field, name, cell in zip(fields, header, row) if name and not field}
            yield line, known, {name: value for name, value in extra.items() if value}
    except csv.Error as exc:
        raise FileFormatError(reader.line_num, f"malformed CSV: {exc}") from None


def _header_fields(header: list[str], columns: dict[str, str], required: dict[str, str]) -> list[str | None]:
    fields = [columns.get(_normal(name)) for name in header]
    named = [f for f in fields if f] + [name for f, name in zip(fields, header) if name and not f]
    duplicates = sorted({name for name in named if named.count(name) > 1})
    if duplicates:
        raise FileFormatError(1, f"columns given twice: {', '.join(duplicates)}")
    missing = [f"{label} ({field})" for field, label in required.items() if field not in fields]
    if missing:
        raise FileFormatError(1, f"missing columns: {', '.join(missing)}")
    return fields


# --- CommerceML 2 out ------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _counterparty_element(container: ET.Element, row: CounterpartyExport) -> None:
    c = _sub(container, "Контрагент")
    _sub(c, "Ид", row.onec_id or str(row.id))
    _sub(c, "Наименование", row.name)
    _sub(c, "ОфициальноеНаименование", row.name)
    if row.address:
        _sub(_sub(c, "ЮридическийАдрес"), "Представление", row.address)
    _sub(c, "ИНН", row.inn)
    if row.kpp:
        _sub(c, "КПП", row.kpp)
    contacts = [
        (kind, value, person.name)
        for person in row.contacts
        for kind, value in (("Почта", person.email), ("Телефон рабочий", person.phone))
        if value
    ]
    if contacts:
        box = _sub(c, "Контакты")
        for kind, value, person_name in contacts:
            contact = _sub(box, "Контакт")
            _sub(contact, "Тип", kind)
            _sub(contact, "Значение", value)
            _sub(contact, "Комментарий", person_name)
