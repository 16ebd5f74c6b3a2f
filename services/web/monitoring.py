"""The monitoring page of the staff pages (/personel/izleme, issue #15): the figures of
services/indicators.py with their charts, the list behind every number, and the two exports
(XLSX, management-review PDF; built in services/monitoring_exports.py).

Who sees what: monitoring:read, limited to the caller's own directorate unless they also hold
monitoring:read-all (the IMS office, Public Relations, the administrator). A director asking for
another directorate's figures gets the Turkish 403 page naming monitoring:read-all; a filter
that is not valid gets a 400 page saying which field."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cachetools import TTLCache
from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from services import charts, indicator_figures, indicators, labels, monitoring_exports
from services.access import Permission, Principal
from services.bootstrap import Container
from services.indicator_format import GRANULARITY_LABELS, cell_text, header_text
from services.indicator_tables import Cell, Filters, Granularity, Report
from services.models import Category, CitizenRequest, Dif, Directorate
from services.web.pages import STATUS_LABELS
from services.web.staff import DIF_STATUS, PAGE_SIZE, PREFIX, StaffRoute, error_page, render
from services.working_days import ISTANBUL

router = APIRouter(prefix=PREFIX, route_class=StaffRoute, include_in_schema=False)
PAGE = f"{PREFIX}/izleme"
DEFAULT_DAYS = 30
MAX_DAYS = 2 * 366  # two years: the period-over-period PDF reads four
FIELDS = {
    "baslangic": "Başlangıç tarihi",
    "bitis": "Bitiş tarihi",
    "mudurluk": "Müdürlük",
    "kanal": "Kanal",
    "kategori": "Kategori",
    "siklik": "Zaman adımı",
}
CONTROL = {"gosterge", "sayfa"}
# A table's rows on the page (the XLSX and the PDF have them all): a year's DİF list is over a
# thousand rows, and the page is opened every morning.
PAGE_ROWS = 100


@dataclass(frozen=True)
class Choices:
    directorates: tuple[tuple[str, str], ...]
    categories: tuple[tuple[str, str], ...]

    def names(self) -> dict[str, str]:
        return dict(self.directorates) | dict(self.categories)


@dataclass
class Asked:
    """The filters as typed (kept for the form), their errors by field, and the valid Filters."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    filters: Filters | None = None
    scope: str | None = None


def _choices(container: Container, scope: str | None) -> Choices:
    with container.uow() as uow:
        directorates = select(Directorate.code, Directorate.name).order_by(Directorate.name)
        categories = select(Category.code, Category.name).order_by(Category.name)
        if scope is not None:
            directorates = directorates.where(Directorate.code == scope)
            categories = categories.where(Category.directorate_code == scope)
        return Choices(
            tuple((c, n) for c, n in uow.session.execute(directorates)),
            tuple((c, n) for c, n in uow.session.execute(categories)),
        )


def _day(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def read_filters(params: Mapping[str, str], caller: Principal, choices: Choices, today: date) -> Asked:
    """The query's filters within the caller's scope. Asking for a directorate outside it raises
    Forbidden (the 403 page); a value that is not valid is an error on its field."""
    scope = caller.directorate_scope(Permission.MONITORING_READ)
    values = {name: params.get(name, "").strip()[:40] for name in FIELDS}
    asked = Asked(values=values, scope=scope)
    if values["mudurluk"]:
        caller.check_directorate(Permission.MONITORING_READ, values["mudurluk"])
    errors = asked.errors
    end = today
    start = today - timedelta(days=DEFAULT_DAYS - 1)
    for name in ("baslangic", "bitis"):
        if values[name]:
            day = _day(values[name])
            if day is None:
                errors[name] = f"{FIELDS[name]} geçerli bir gün olmalı (ör. 2026-03-31 ya da 31.03.2026)."
            elif name == "baslangic":
                start = day
            else:
                end = day
    if not errors:
        if start > end:
            errors["bitis"] = "Bitiş tarihi başlangıç tarihinden önce olamaz."
        elif (end - start).days + 1 > MAX_DAYS:
            errors["bitis"] = f"Dönem en çok {MAX_DAYS} gün olabilir."
    if values["mudurluk"] and values["mudurluk"] not in dict(choices.directorates):
        errors["mudurluk"] = "Böyle bir müdürlük yok."
    if values["kategori"] and values["kategori"] not in dict(choices.categories):
        errors["kategori"] = "Böyle bir kategori yok (ya da müdürlüğünüzün değil)."
    if values["kanal"] and values["kanal"] not in indicators.CHANNELS:
        errors["kanal"] = "Böyle bir kanal yok."
    granularity = Granularity.DAY
    if values["siklik"]:
        try:
            granularity = Granularity(values["siklik"])
        except ValueError:
            errors["siklik"] = "Zaman adımı gün, hafta ya da ay olmalı."
    if errors:
        return asked
    asked.filters = Filters(
        start=start,
        end=end,
        directorate=values["mudurluk"] or None,
        channel=values["kanal"] or None,
        category=values["kategori"] or None,
        granularity=granularity,
    ).scoped(scope)
    # The form shows the period in effect (the default one when none was asked for).
    values.update(baslangic=start.isoformat(), bitis=end.isoformat(), siklik=str(granularity))
    return asked


def list_link(filters: Filters, cell: Cell) -> str | None:
    """The list of requests (or DİFs) behind one number: the figure, the filters, its narrowing."""
    return Links(filters)(cell)


def narrowed(query: dict[str, str], where: dict[str, str]) -> dict[str, str]:
    """A cell's narrowing of the filters, as the list's own filters: a bucket's period within the
    page's period (services.indicators._narrow takes the same intersection), a directorate,
    channel or category in place of "all"."""
    merged = {**query, **where}
    if "baslangic" in query and "baslangic" in where:
        merged["baslangic"] = max(query["baslangic"], where["baslangic"])
    if "bitis" in query and "bitis" in where:
        merged["bitis"] = min(query["bitis"], where["bitis"])
    return merged


class Links:
    """list_link for one page's filters, their part of the query encoded once (a year by day is
    over a thousand links)."""

    def __init__(self, filters: Filters) -> None:
        self.query = filters.query()
        self.encoded = urlencode(self.query)

    def __call__(self, cell: Cell) -> str | None:
        if cell.figure is None or cell.value is None or isinstance(cell.value, str):
            return None
        figure = urlencode({"gosterge": cell.figure})
        if not cell.where:
            return f"{PAGE}/liste?{figure}&{self.encoded}"
        if any(name in FIELDS for name in cell.where):
            return f"{PAGE}/liste?{figure}&{urlencode(narrowed(self.query, cell.where))}"
        return f"{PAGE}/liste?{figure}&{self.encoded}&{urlencode(cell.where)}"


def previous_period(filters: Filters) -> Filters:
    """The period of the same length just before (the PDF's period-over-period change)."""
    length = (filters.end - filters.start).days + 1
    return replace(
        filters, start=filters.start - timedelta(days=length), end=filters.start - timedelta(days=1)
    )


# The page's figures, kept two minutes for its charts, which the browser asks for one by one
# after the page: the same numbers, computed once (per API process).
_RECENT: TTLCache[tuple[Filters, str | None], Report] = TTLCache(maxsize=64, ttl=120)
_RECENT_LOCK = threading.Lock()


def _report(container: Container, filters: Filters, scope: str | None) -> Report:
    with container.uow() as uow:
        report = indicators.report(uow.session, filters, scope=scope, now=datetime.now(UTC))
    with _RECENT_LOCK:
        _RECENT[(filters, scope)] = report
    return report


def _recent_report(container: Container, filters: Filters, scope: str | None) -> Report:
    with _RECENT_LOCK:
        found = _RECENT.get((filters, scope))
    return found if found is not None else _report(container, filters, scope)


@dataclass(frozen=True)
class ChartImage:
    src: str
    alt: str
    width: int
    height: int


def _chart_images(report: Report, query: str) -> dict[str, ChartImage]:
    """Where each table's chart is drawn (no drawing here: the page answers first)."""
    images = {}
    for section in report.sections:
        for table in section.tables:
            found = charts.spec(table)
            if found is not None:
                width, height = charts.size(found)
                src = f"{PAGE}/grafik/{table.key}.svg?{query}"
                images[table.key] = ChartImage(src, charts.label(found), width, height)
    return images


def _two_periods(container: Container, filters: Filters, scope: str | None) -> tuple[Report, Report]:
    """This period's figures and the previous one's, read in one transaction (one snapshot)."""
    now = datetime.now(UTC)
    with container.uow() as uow:
        current = indicators.report(uow.session, filters, scope=scope, now=now)
        previous = indicators.report(uow.session, previous_period(filters), scope=scope, now=now)
    return current, previous


def _today() -> date:
    return datetime.now(ISTANBUL).date()


async def _asked(request: Request) -> tuple[Asked, Choices]:
    container, caller = request.app.state.container, request.state.staff.principal
    choices = await asyncio.to_thread(
        _choices, container, caller.directorate_scope(Permission.MONITORING_READ)
    )
    return read_filters(request.query_params, caller, choices, _today()), choices


def _context(asked: Asked, choices: Choices) -> dict[str, Any]:
    query = urlencode(asked.filters.query()) if asked.filters else ""
    return {
        "values": asked.values,
        "errors": asked.errors,
        "fields": FIELDS,
        "scope": asked.scope,
        "directorates": choices.directorates,
        "categories": choices.categories,
        "channels": indicators.CHANNELS,
        "granularities": GRANULARITY_LABELS,
        "names": choices.names(),
        "query": query,
        "rules": indicator_figures.KURALLAR,
    }


def _bad_filters(request: Request, asked: Asked, choices: Choices) -> Response:
    return render(request, "monitoring.html", {**_context(asked, choices), "report": None}, status_code=400)


@router.get("/izleme")
async def monitoring_page(request: Request) -> Response:
    asked, choices = await _asked(request)
    if asked.filters is None:
        return _bad_filters(request, asked, choices)
    filters = asked.filters
    started = time.perf_counter()
    report = await asyncio.to_thread(_report, request.app.state.container, filters, asked.scope)
    figured = time.perf_counter()
    response = render(
        request,
        "monitoring.html",
        {
            **_context(asked, choices),
            "report": report,
            "charts": _chart_images(report, urlencode(filters.query())),
            "link": Links(filters),
            "page_rows": PAGE_ROWS,
            "cell_text": cell_text,
            "header_text": header_text,
        },
    )
    # How long the figures and the page took (the benchmark and the browser's devtools read it).
    done = time.perf_counter()
    response.headers["Server-Timing"] = (
        f"figures;dur={(figured - started) * 1000:.1f}, page;dur={(done - figured) * 1000:.1f}"
    )
    return response


@router.get("/izleme/grafik/{key}.svg")
async def chart(key: str, request: Request) -> Response:
    """One table's chart for the page's filters, as an SVG image."""
    asked, choices = await _asked(request)
    if asked.filters is None:
        return _bad_filters(request, asked, choices)
    started = time.perf_counter()
    report = await asyncio.to_thread(_recent_report, request.app.state.container, asked.filters, asked.scope)
    figured = time.perf_counter()
    try:
        table = report.table(key)
    except StopIteration:
        return error_page(request, 404, "Bulunamadı", "Böyle bir gösterge tablosu yok.")
    drawing = await asyncio.to_thread(charts.svg, table)
    if drawing is None:
        return error_page(request, 404, "Bulunamadı", "Bu tablonun bu dönemde grafiği yok.")
    drawn = time.perf_counter()
    timing = f"figures;dur={(figured - started) * 1000:.1f}, chart;dur={(drawn - figured) * 1000:.1f}"
    return Response(
        drawing,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "private, max-age=120",
            # Opened on its own, the drawing runs nothing and loads nothing.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "Server-Timing": timing,
        },
    )


def _stamp(filters: Filters) -> str:
    return f"{filters.start:%Y-%m-%d}_{filters.end:%Y-%m-%d}"


@router.get("/izleme.xlsx")
async def monitoring_xlsx(request: Request) -> Response:
    asked, choices = await _asked(request)
    if asked.filters is None:
        return _bad_filters(request, asked, choices)
    report = await asyncio.to_thread(_report, request.app.state.container, asked.filters, asked.scope)
    content = await asyncio.to_thread(monitoring_exports.workbook, report, names=choices.names())
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="izleme_{_stamp(asked.filters)}.xlsx"'},
    )


@router.get("/izleme/yonetim-raporu.pdf")
async def management_review_pdf(request: Request) -> Response:
    asked, choices = await _asked(request)
    if asked.filters is None:
        return _bad_filters(request, asked, choices)
    container = request.app.state.container
    current, previous = await asyncio.to_thread(_two_periods, container, asked.filters, asked.scope)
    content = await asyncio.to_thread(
        monitoring_exports.management_review,
        current,
        previous,
        names=choices.names(),
        font_path=container.settings.report_font_path,
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="yonetim-raporu_{_stamp(asked.filters)}.pdf"'},
    )


# ---------------------------------------------------------------- the list behind a number


@dataclass(frozen=True)
class Listed:
    kind: str  # "requests" or "difs" (services.indicators.Behind)
    total: int
    rows: list[Any]


def _listed(
    container: Container, figure: str, filters: Filters, where: dict[str, str], scope: str | None, page: int
) -> Listed:
    with container.uow() as uow:
        session = uow.session
        found = indicators.behind(session, figure, filters, where, scope=scope, now=datetime.now(UTC))
        ids = found.ids.subquery()
        total = session.scalar(select(func.count()).select_from(ids)) or 0
        offset = (page - 1) * PAGE_SIZE
        if found.kind == "difs":
            rows: list[Any] = list(
                session.scalars(
                    select(Dif)
                    .where(Dif.id.in_(select(ids.c[0])))
                    .order_by(Dif.opened_at.desc(), Dif.id)
                    .offset(offset)
                    .limit(PAGE_SIZE)
                )
            )
        else:
            rows = list(
                session.execute(
                    select(
                        CitizenRequest.id,
                        CitizenRequest.tracking_code,
                        CitizenRequest.request_type,
                        CitizenRequest.channel,
                        CitizenRequest.category_code,
                        CitizenRequest.directorate_code,
                        CitizenRequest.status,
                        CitizenRequest.received_at,
                        CitizenRequest.due_at,
                        CitizenRequest.closed_at,
                    )
                    .where(CitizenRequest.id.in_(select(ids.c[0])))
                    .order_by(CitizenRequest.received_at.desc(), CitizenRequest.id)
                    .offset(offset)
                    .limit(PAGE_SIZE)
                )
            )
        session.expunge_all()
        return Listed(found.kind, total, rows)


@router.get("/izleme/liste")
async def figure_list(request: Request) -> Response:
    asked, choices = await _asked(request)
    params = request.query_params
    figure = params.get("gosterge", "")
    if figure not in indicators.FIGURES:
        asked.errors["gosterge"] = "Böyle bir gösterge yok."
    where = {k: v[:100] for k, v in params.items() if k not in FIELDS and k not in CONTROL}
    if len(where) > 8:
        asked.errors["gosterge"] = "Bu bağlantı çok fazla daraltma taşıyor."
    if asked.filters is None or asked.errors:
        asked.filters = None
        return error_page(
            request,
            400,
            "Liste açılamadı",
            " ".join(f"{FIELDS.get(k, 'Gösterge')}: {v}" for k, v in asked.errors.items()),
        )
    try:
        page = max(1, min(int(params.get("sayfa", "1")), 100_000))
    except ValueError:
        page = 1
    try:
        listed = await asyncio.to_thread(
            _listed, request.app.state.container, figure, asked.filters, where, asked.scope, page
        )
    except indicators.UnknownNarrowing as unknown:
        return error_page(
            request, 400, "Liste açılamadı", f"Bu bağlantının daraltması tanınmıyor ({unknown})."
        )
    pages_total = max(1, -(-listed.total // PAGE_SIZE))
    base = {"gosterge": figure, **asked.filters.query(), **where}

    def page_link(number: int) -> str:
        return f"{PAGE}/liste?{urlencode({**base, 'sayfa': number})}"

    return render(
        request,
        "monitoring_list.html",
        {
            **_context(asked, choices),
            "figure": indicators.FIGURES[figure],
            "where": where,
            "listed": listed,
            "page": page,
            "pages_total": pages_total,
            "page_link": page_link,
            "back": f"{PAGE}?{urlencode(asked.filters.query())}",
            "dif_status": DIF_STATUS,
            "status_labels": STATUS_LABELS,
            "request_types": labels.REQUEST_TYPES,
        },
    )
