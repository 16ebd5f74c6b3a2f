"""The monitoring figures as Turkish text: one way of writing a number for the page, the charts'
axes and the management-review PDF (the XLSX keeps numbers as numbers, with these units in its
headers)."""

from __future__ import annotations

from datetime import datetime

from services.indicator_tables import Cell, Filters, Granularity, Unit
from services.working_days import ISTANBUL

MISSING = "veri yok"
GRANULARITY_LABELS = {Granularity.DAY: "Gün", Granularity.WEEK: "Hafta", Granularity.MONTH: "Ay"}
# Units worth naming in a column's header (a count or a share speaks for itself).
NAMED_UNITS = {Unit.WORKING_DAYS, Unit.DAYS, Unit.HOURS, Unit.SCORE}


def decimal(value: float, places: int = 1) -> str:
    """1234.5 → "1.234,5" (Turkish: dot for thousands, comma for decimals)."""
    text = f"{value:,.{places}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def number_text(value: int | float | str | None, unit: Unit) -> str:
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if unit is Unit.PERCENT:
        return f"%{decimal(value * 100)}"
    if isinstance(value, int) or (unit is Unit.COUNT and float(value).is_integer()):
        return decimal(value, 0)
    return decimal(value, 2 if unit is Unit.SCORE else 1)


def cell_text(cell: Cell, unit: Unit) -> str:
    return number_text(cell.value, unit)


def header_text(column: str, unit: Unit) -> str:
    """ "Medyan" with unit iş günü → "Medyan (iş günü)", unless the title already names it."""
    if unit in NAMED_UNITS and str(unit) not in column:
        return f"{column} ({unit})"
    return column


def day_text(value: datetime) -> str:
    return value.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M")


def filters_text(filters: Filters, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The filters as label/value pairs (shown on top of the exports); `names` turns directorate
    and category codes into their names."""
    names = names or {}
    return [
        ("Dönem", f"{filters.start:%d.%m.%Y} – {filters.end:%d.%m.%Y}"),
        ("Müdürlük", names.get(filters.directorate or "", filters.directorate or "Bütün müdürlükler")),
        ("Kanal", filters.channel or "Bütün kanallar"),
        ("Kategori", names.get(filters.category or "", filters.category or "Bütün kategoriler")),
        ("Zaman adımı", GRANULARITY_LABELS[filters.granularity]),
    ]
