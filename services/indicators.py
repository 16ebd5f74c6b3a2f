"""The monitoring figures (issue #15): every figure's definition (FIGURES), the report the page, the
XLSX and the PDF draw (`report`), and the rows behind each number (`behind`).

Request figures are over the requests *received* in the filter's period (Istanbul dates), merged
duplicates left out; they are read from the summary tables that services/indicator_refresh.py keeps
(refresh first: the report is exact as of the last refresh)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.indicator_tables import Cell, Chart, Filters, Report, Section, Table, Unit
from services.models import CitizenRequest
from services.working_days import ISTANBUL


@dataclass(frozen=True)
class Figure:
    title: str  # Turkish, as the page labels it
    unit: Unit
    definition: str  # English, one or two sentences; docs/indicators.md is generated from it
    # What lies behind the number: requests or DİFs (None: nothing to list, e.g. a median's).
    rows: Literal["requests", "difs"] = "requests"


FIGURES: dict[str, Figure] = {
    "talep-sayisi": Figure(
        "Talep sayısı",
        Unit.COUNT,
        "Requests received in the period (Istanbul date of receipt), merged duplicates excluded.",
    ),
}


@dataclass(frozen=True)
class Behind:
    """The rows a number counts: `ids` selects their ids (request or DİF ids, as `kind` says)."""

    kind: Literal["requests", "difs"]
    ids: Select[Any]


SECTIONS = (
    ("hacim", "Talep hacmi"),
    ("hizmet-suresi", "Hizmet süresine uyum"),
    ("sureler", "Yanıt ve kapanış süreleri"),
    ("oranlar", "Oranlar"),
    ("dif", "Düzeltici ve iyileştirici faaliyetler (DİF)"),
    ("iso10002", "İtirazlar ve memnuniyet (ISO 10002)"),
    ("yonetim", "Yönetimin gözden geçirmesi"),
)


def _received_day() -> Any:
    return func.date(func.timezone("Europe/Istanbul", CitizenRequest.received_at))


def _requests(filters: Filters) -> Select[Any]:
    day = _received_day()
    query = select(CitizenRequest.id).where(
        CitizenRequest.merged_into_id.is_(None), day >= filters.start, day <= filters.end
    )
    if filters.directorate:
        query = query.where(CitizenRequest.directorate_code == filters.directorate)
    if filters.channel:
        query = query.where(CitizenRequest.channel == filters.channel)
    if filters.category:
        query = query.where(CitizenRequest.category_code == filters.category)
    return query


def _count_by(session: Session, filters: Filters, column: Any, key: str, title: str) -> Table:
    base = _requests(filters).add_columns(column.label("k")).subquery()
    rows = session.execute(select(base.c.k, func.count()).group_by(base.c.k).order_by(func.count().desc()))
    return Table(
        key=key,
        title=title,
        columns=(title.split(" ")[0], "Talep"),
        units=(Unit.TEXT, Unit.COUNT),
        rows=tuple((Cell(k or "-"), Cell(n, "talep-sayisi", {_WHERE[key]: k} if k else {})) for k, n in rows),
        chart=Chart("hbar", 0, (1,)),
    )


_WHERE = {"hacim-kanal": "kanal", "hacim-kategori": "kategori", "hacim-mudurluk": "mudurluk"}


def report(session: Session, filters: Filters, *, scope: str | None, now: datetime) -> Report:
    filters = filters.scoped(scope)
    hacim = (
        _count_by(session, filters, CitizenRequest.channel, "hacim-kanal", "Kanal bazında talepler"),
        _count_by(
            session, filters, CitizenRequest.category_code, "hacim-kategori", "Kategori bazında talepler"
        ),
        _count_by(
            session, filters, CitizenRequest.directorate_code, "hacim-mudurluk", "Müdürlük bazında talepler"
        ),
    )
    sections = tuple(Section(key, title, hacim if key == "hacim" else ()) for key, title in SECTIONS)
    return Report(filters=filters, scope=scope, generated_at=now.astimezone(ISTANBUL), sections=sections)


def behind(
    session: Session,
    figure: str,
    filters: Filters,
    where: dict[str, str],
    *,
    scope: str | None,
    now: datetime,
) -> Behind:
    if figure not in FIGURES:
        raise KeyError(figure)
    narrowed = filters.scoped(scope)
    query = _requests(narrowed)
    if "kanal" in where:
        query = query.where(CitizenRequest.channel == where["kanal"])
    if "kategori" in where:
        query = query.where(CitizenRequest.category_code == where["kategori"])
    if "mudurluk" in where and scope is None:
        query = query.where(CitizenRequest.directorate_code == where["mudurluk"])
    return Behind("requests", query)
