"""The monitoring figures (issue #15) as plain tables: one shape that the page, its charts, the
XLSX export and the management-review PDF all draw from, so that each figure is computed once
(services/indicators.py) and shown the same way everywhere.

Numbers stay numbers: a share is a fraction 0..1 with unit PERCENT (the page prints "%84,2", the
XLSX stores 0.842 with a percent format); a missing figure is None ("veri yok")."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Literal


class Granularity(StrEnum):
    """How volume over time is bucketed (Turkish values: they appear in the page's query string)."""

    DAY = "gun"
    WEEK = "hafta"
    MONTH = "ay"


class Unit(StrEnum):
    COUNT = "adet"
    PERCENT = "%"
    WORKING_DAYS = "iş günü"
    DAYS = "gün"
    HOURS = "saat"
    SCORE = "puan"
    TEXT = ""


@dataclass(frozen=True)
class Filters:
    """What the quality office asks for: requests received from `start` to `end` (both inclusive,
    Istanbul dates), optionally one directorate, channel and category."""

    start: date
    end: date
    directorate: str | None = None
    channel: str | None = None
    category: str | None = None
    granularity: Granularity = Granularity.DAY

    def query(self) -> dict[str, str]:
        """The filters as the page's query parameters (the links behind figures carry them)."""
        params = {
            "baslangic": self.start.isoformat(),
            "bitis": self.end.isoformat(),
            "siklik": str(self.granularity),
        }
        optional = (("mudurluk", self.directorate), ("kanal", self.channel), ("kategori", self.category))
        for name, value in optional:
            if value:
                params[name] = value
        return params

    def scoped(self, directorate: str | None) -> Filters:
        """The filters within a caller's directorate scope (None: every directorate)."""
        return self if directorate is None else replace(self, directorate=directorate)


@dataclass(frozen=True)
class Cell:
    """One value. `figure` names the figure behind it (a key of services.indicators.FIGURES) and
    `where` narrows the filters to this cell (e.g. {"mudurluk": "fen-isleri"}): together they make
    the link to the list of requests (or DİFs) the number counts. None when nothing lies behind it."""

    value: int | float | str | None
    figure: str | None = None
    where: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    """How a table is drawn: `x` is the column of labels, `y` the columns of the series."""

    kind: Literal["bar", "hbar", "line", "stacked-bar"]
    x: int
    y: tuple[int, ...]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    units: tuple[Unit, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: Chart | None = None
    # Shown under the table, e.g. the figure's definition or why there is no data yet.
    note: str | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class Report:
    """Everything the page shows for one set of filters; the PDF adds the previous period's."""

    filters: Filters
    # The directorate the caller is limited to (a director), or None (IMS office, PR, admin).
    scope: str | None
    generated_at: datetime
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def table(self, key: str) -> Table:
        return next(t for s in self.sections for t in s.tables if t.key == key)
