"""Print-ready PDF of the needs registry (SPEC 1.5 'Printing'): A4, Cyrillic text in an embedded DejaVu Sans subset."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

if TYPE_CHECKING:
    from read_api.needs import NeedItemPublic, NeedPublic

REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
FONT_PACKAGE = "fonts-dejavu-core"
LIST_TITLES = {"all": "Реестр потребностей — все", "open": "Реестр потребностей — открытые",
               "closed": "Реестр потребностей — закрытые"}  # fmt: skip
STATUSES = {"open": "открыта", "converted": "преобразована в сделку", "cancelled": "отменена",
            "duplicate": "закрыта как дубликат"}  # fmt: skip
MARGIN = 15 * mm
COLUMNS = [9 * mm, 91 * mm, 20 * mm, 16 * mm, 44 * mm]  # №, product, quantity, unit, period: A4 width less the margins
PRODUCT_HEADER = ("№", "Товар", "Кол-во", "Ед.", "Период")

TITLE = ParagraphStyle("title", fontName=BOLD, fontSize=14, leading=18, spaceAfter=1 * mm)
NOTE = ParagraphStyle("note", fontName=REGULAR, fontSize=8.5, leading=11, textColor=colors.dimgrey, spaceAfter=4 * mm)
CELL = ParagraphStyle("cell", fontName=REGULAR, fontSize=8.5, leading=10.5)
HEAD = ParagraphStyle("head", parent=CELL, fontName=BOLD)
NUMBER = ParagraphStyle("number", parent=CELL, alignment=TA_RIGHT)


class FontUnavailable(RuntimeError):
    """The TrueType font to embed is missing or unreadable: printing is unavailable until it is installed."""


@functools.cache
def register_fonts(font_dir: Path) -> None:
    """Registers DejaVu Sans regular and bold once per process; raises FontUnavailable (not cached) if absent."""
    files = {name: font_dir / f"{name}.ttf" for name in (REGULAR, BOLD)}
    try:
        fonts = [TTFont(name, path) for name, path in files.items()]
    except (OSError, TTFError) as error:
        raise FontUnavailable(
            f"PDF printing needs {files[REGULAR]} and {files[BOLD]} ({error}); install the Debian package "
            f"{FONT_PACKAGE} or set VORONKA_PDF_FONT_DIR to a directory holding them"
        ) from None
    for font in fonts:
        pdfmetrics.registerFont(font)
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


def needs_list_pdf(needs: Sequence[NeedPublic], status: str, font_dir: Path, zone: ZoneInfo) -> bytes:
    register_fonts(font_dir)
    body: list[Flowable] = []
    for need in needs:
        body += [need_table(need, zone), Spacer(1, 5 * mm)]
    note = f"Сформирован {datetime.now(zone):%d.%m.%Y %H:%M} ({zone.key}) · потребностей: {len(needs)}"
    return render(LIST_TITLES[status], note, body or [Paragraph("Потребностей нет.", CELL)])


def need_pdf(need: NeedPublic, font_dir: Path, zone: ZoneInfo) -> bytes:
    register_fonts(font_dir)
    note = f"Сформирована {datetime.now(zone):%d.%m.%Y %H:%M} ({zone.key})"
    return render(f"Потребность {need.number}", note, [need_table(need, zone)])


def render(title: str, note: str, body: list[Flowable]) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 5 * mm, title=title, author="Voronka", lang="ru-RU",
                            initialFontName=REGULAR)  # fmt: skip
    doc.build([Paragraph(escape(title), TITLE), Paragraph(escape(note), NOTE), *body], onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def footer(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont(REGULAR, 8)
    canvas.drawRightString(A4[0] - MARGIN, MARGIN, f"стр. {doc.page}")
    canvas.restoreState()


def need_table(need: NeedPublic, zone: ZoneInfo) -> Table:
    """One need: a heading and its details, then its product lines; the first three rows repeat on a page break."""
    rows = [
        [Paragraph(f"{escape(need.number)} — {escape(STATUSES.get(need.status, need.status))}", HEAD)],
        [cell(" · ".join(details(need, zone)))],
        [Paragraph(text, HEAD) for text in PRODUCT_HEADER],
        *(product_row(n, item) for n, item in enumerate(need.items, 1)),
    ]
    table = Table(rows, colWidths=COLUMNS, repeatRows=3)
    table.setStyle(TableStyle([
        ("SPAN", (0, 0), (-1, 0)), ("SPAN", (0, 1), (-1, 1)),
        ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#e8eef6")),
        ("BACKGROUND", (0, 2), (-1, 2), colors.HexColor("#f2f2f2")),
        ("GRID", (0, 2), (-1, -1), 0.4, colors.grey),
        ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), REGULAR),  # like initialFontName: no reference to a non-embedded Helvetica
    ]))  # fmt: skip
    return table


def details(need: NeedPublic, zone: ZoneInfo) -> list[str]:
    lines = [f"Ответственный: {need.owner}", f"Конечный заказчик: {need.end_customer or '—'}", f"Канал: {need.channel}",
             f"Зарегистрирована: {need.registered_at.astimezone(zone):%d.%m.%Y}"]  # fmt: skip
    if need.closed_at:
        lines.append(f"Закрыта: {need.closed_at.astimezone(zone):%d.%m.%Y}")
    if need.close_comment:
        lines.append(f"Комментарий: {need.close_comment}")
    return lines


def product_row(n: int, item: NeedItemPublic) -> list[Paragraph]:
    period = f"{date.fromisoformat(item.period_start):%d.%m.%Y} – {date.fromisoformat(item.period_end):%d.%m.%Y}"
    return [cell(str(n)), cell(item.product_name or str(item.product_id)), cell(item.quantity, NUMBER),
            cell(item.unit or ""), cell(period)]  # fmt: skip


def cell(text: str, style: ParagraphStyle = CELL) -> Paragraph:
    return Paragraph(escape(text), style)
