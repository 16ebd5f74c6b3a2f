"""The monitoring figures as files: the XLSX (one sheet per section, numbers as numbers with
their formats) and the management-review PDF (ISO 10002 8.7, ISO 9001 9.3): the figures and their
charts for the period, and each figure beside the previous period of the same length.

Both draw on the same services.indicator_tables.Report as the page; neither carries personal
data (the report holds codes, counts and times only)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from fpdf.enums import XPos, YPos
from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services import charts
from services.indicator_format import MISSING, day_text, decimal, filters_text, header_text, number_text
from services.indicator_tables import Cell, Report, Table, Unit
from services.quality_reports import ReportPdf

NUMBER_FORMATS = {
    Unit.PERCENT: "0.0%",
    Unit.COUNT: "#,##0",
    Unit.WORKING_DAYS: "0.0",
    Unit.DAYS: "0.0",
    Unit.HOURS: "0.0",
    Unit.SCORE: "0.00",
}
# Tables compared with the previous period in the PDF: short ones (a time series is not compared
# row by row; a long per-category table is in the section's own pages).
COMPARED_ROWS = 8


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Bölüm"
    base, number = name, 2
    while name in taken:
        suffix = f" {number}"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name)
    return name


def _scope_text(report: Report, names: dict[str, str]) -> str:
    if report.scope is None:
        return "Bütün müdürlükler (monitoring:read-all)"
    return f"{names.get(report.scope, report.scope)} (yalnızca kendi müdürlüğü)"


def workbook(report: Report, *, names: dict[str, str]) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    for section in report.sections:
        sheet = book.create_sheet(_sheet_name(section.title, taken))
        sheet["A1"] = f"İzleme göstergeleri — {section.title}"
        sheet["A1"].font = Font(bold=True, size=14)
        row = 2
        facts = [
            *filters_text(report.filters, names),
            ("Kapsam", _scope_text(report, names)),
            ("Hazırlanma", day_text(report.generated_at)),
        ]
        for label, value in facts:
            sheet.cell(row, 1, label).font = Font(bold=True)
            sheet.cell(row, 2, value)
            row += 1
        widths: dict[int, int] = {1: 18, 2: 24}
        if not section.tables:
            sheet.cell(row + 1, 1, "Bu bölümde gösterge yok.")
        for table in section.tables:
            row += 1
            sheet.cell(row, 1, table.title).font = Font(bold=True, size=12)
            row += 1
            for column, (title, unit) in enumerate(zip(table.columns, table.units, strict=True), start=1):
                header = header_text(title, unit)
                sheet.cell(row, column, header).font = Font(bold=True)
                sheet.cell(row, column).alignment = Alignment(wrap_text=True, vertical="top")
                widths[column] = max(widths.get(column, 10), min(len(header) + 2, 40))
            for cells in table.rows:
                row += 1
                for column, (cell, unit) in enumerate(zip(cells, table.units, strict=True), start=1):
                    _put(sheet.cell(row, column), cell, unit)
                    if isinstance(cell.value, str):
                        widths[column] = max(widths.get(column, 10), min(len(cell.value) + 2, 50))
            if not table.rows:
                row += 1
                sheet.cell(row, 1, "Bu dönemde veri yok.")
            if table.note:
                row += 1
                sheet.cell(row, 1, table.note).font = Font(italic=True)
            row += 1
        for column, width in widths.items():
            sheet.column_dimensions[get_column_letter(column)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(target: SheetCell, cell: Cell, unit: Unit) -> None:
    if cell.value is None:
        target.value = MISSING
        target.alignment = Alignment(horizontal="right")
    elif isinstance(cell.value, str) or unit is Unit.TEXT:
        target.value = cell.value
    else:
        target.value = cell.value
        target.number_format = NUMBER_FORMATS.get(unit, "General")


# ---------------------------------------------------------------- the management-review PDF


def _period_text(report: Report) -> str:
    f = report.filters
    return f"{f.start:%d.%m.%Y} – {f.end:%d.%m.%Y} ({(f.end - f.start).days + 1} gün)"


def _compared(current: Report, previous: Report) -> Iterator[tuple[str, str, str, str]]:
    """Every figure of the short tables beside the previous period's value and the change."""
    for section in current.sections:
        for table in section.tables:
            if (table.chart is not None and table.chart.kind == "line") or len(table.rows) > COMPARED_ROWS:
                continue
            try:
                before = previous.table(table.key)
            except StopIteration:
                continue
            earlier = {_label(r): r for r in before.rows}
            for cells in table.rows:
                old_row = earlier.get(_label(cells))
                for index, (cell, unit) in enumerate(zip(cells, table.units, strict=True)):
                    if cell.figure is None or isinstance(cell.value, str) or unit is Unit.TEXT:
                        continue
                    old = old_row[index] if old_row is not None and index < len(old_row) else Cell(None)
                    name = f"{table.title} — {_label(cells)}"
                    if len(table.columns) > 2:
                        name += f" — {header_text(table.columns[index], unit)}"
                    yield (
                        name,
                        number_text(cell.value, unit),
                        number_text(old.value, unit),
                        _change(cell.value, old.value, unit),
                    )


def _label(cells: tuple[Cell, ...]) -> str:
    return str(cells[0].value) if cells and cells[0].value is not None else "—"


def _change(now: object, before: object, unit: Unit) -> str:
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return "—"
    difference = now - before
    sign = "+" if difference > 0 else ("−" if difference < 0 else "±")
    if unit is Unit.PERCENT:
        return f"{sign}{decimal(abs(difference) * 100)} puan"
    places = 0 if isinstance(now, int) and isinstance(before, int) else 1
    text = f"{sign}{decimal(abs(difference), places)}"
    if before:
        text += f" ({sign}%{decimal(abs(difference) / abs(before) * 100)})"
    return text


def _table(pdf: ReportPdf, table: Table) -> None:
    pdf.heading(table.title, 11)
    picture = charts.png(table)
    if picture is not None:
        if pdf.will_page_break(80):
            pdf.add_page()
        pdf.image(io.BytesIO(picture), w=pdf.epw)
    if table.rows:
        head = tuple(header_text(c, u) for c, u in zip(table.columns, table.units, strict=True))
        rows = [
            tuple(number_text(c.value, u) for c, u in zip(cells, table.units, strict=True))
            for cells in table.rows
        ]
        pdf.grid(head, rows)
    else:
        pdf.multi_cell(0, 6, "Bu dönemde veri yok.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if table.note:
        pdf.set_font("report", "", 8.5)
        pdf.multi_cell(0, 4.5, table.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("report", "", 10)


def management_review(current: Report, previous: Report, *, names: dict[str, str], font_path: Path) -> bytes:
    """The pack taken to the management review: `current` with its charts, `previous` (the period
    of the same length just before) for the change of every figure."""
    pdf = ReportPdf(font_path, "Yönetimin Gözden Geçirmesi — Şikâyet Yönetimi İzleme Raporu")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("report", "B", 16)
    pdf.multi_cell(0, 9, "Yönetimin Gözden Geçirmesi", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("report", "", 11)
    pdf.multi_cell(
        0,
        6,
        "Başvuru ve şikâyet yönetiminin izlenmesi ve ölçülmesi (ISO 10002 madde 8.2, 8.4, 8.7; "
        "ISO 9001 madde 9.1.3, 9.3)",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    pdf.set_font("report", "", 10)
    for label, value in filters_text(current.filters, names):
        pdf.field(label, _period_text(current) if label == "Dönem" else value)
    pdf.field("Önceki dönem", _period_text(previous))
    pdf.field("İşlem süreci", "Başvuruların alınması, yönlendirilmesi, yanıtlanması; uygunsuzluk ve DİF")
    pdf.field("Kapsam", _scope_text(current, names))
    pdf.field("Hazırlanma", day_text(current.generated_at))

    pdf.heading("Dönemler arası değişim")
    compared = list(_compared(current, previous))
    if compared:
        pdf.grid(("Gösterge", "Bu dönem", "Önceki dönem", "Değişim"), [tuple(c) for c in compared])
    else:
        pdf.multi_cell(0, 6, "Karşılaştırılacak gösterge yok.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # The management-review tables first (top nonconformity categories, DİFs and their
    # effectiveness), then every other section with its charts.
    ordered = sorted(current.sections, key=lambda s: s.key != "yonetim")
    for section in ordered:
        pdf.add_page()
        pdf.heading(section.title, 14)
        if not section.tables:
            pdf.multi_cell(0, 6, "Bu bölümde gösterge yok.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for table in section.tables:
            _table(pdf, table)
    return bytes(pdf.output())
