"""How long the monitoring page's own work takes once the figures are computed: drawing the charts
(cold, then from the cache), rendering the HTML, building the XLSX and the management-review PDF.

`timings(report)` times any Report (the 1.5-million-request benchmark passes the real one);
`python -m tests.bench.monitoring_render` times a report of the full page's shape and size: a
year by day in three series, every directorate and category, the seven sections."""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services import charts, monitoring_exports
from services.indicator_format import GRANULARITY_LABELS, cell_text, header_text
from services.indicator_tables import Cell, Chart, Filters, Granularity, Report, Section, Table, Unit
from services.indicators import CHANNELS
from services.web import pages
from services.web.monitoring import FIELDS, PAGE_ROWS, Links, _chart_images

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def timings(report: Report, previous: Report | None = None) -> dict[str, float]:
    """Milliseconds of each step for one report (charts twice: cold, then cached). matplotlib's
    first drawing in a process loads its fonts; a server pays that once, so it is done first."""
    charts.warm()
    charts._png.cache_clear()
    out: dict[str, float] = {}
    tables = [t for section in report.sections for t in section.tables]
    # Each chart is its own request after the page (the figures come from the page's cache).
    started = time.perf_counter()
    drawn = [d for t in tables if (d := charts.svg(t)) is not None]
    out["charts_cold_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for t in tables:
        charts.svg(t)
    out["charts_cached_ms"] = (time.perf_counter() - started) * 1000
    template = pages._environment.get_template("staff/monitoring.html")  # compiled once per process
    started = time.perf_counter()
    html = template.render(
        signed_in=None,
        can=lambda p: False,
        report=report,
        charts=_chart_images(report, ""),
        link=Links(report.filters),
        page_rows=PAGE_ROWS,
        cell_text=cell_text,
        header_text=header_text,
        values=report.filters.query(),
        errors={},
        fields=FIELDS,
        scope=report.scope,
        directorates=(),
        categories=(),
        channels=CHANNELS,
        granularities=GRANULARITY_LABELS,
        names={},
        query="",
    )
    out["html_ms"] = (time.perf_counter() - started) * 1000
    out["html_kib"] = len(html.encode()) / 1024
    out["charts"] = len(drawn)
    started = time.perf_counter()
    monitoring_exports.workbook(report, names={})
    out["xlsx_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    monitoring_exports.management_review(report, previous or report, names={}, font_path=FONT)
    out["pdf_ms"] = (time.perf_counter() - started) * 1000
    return out


def full_sized(days: int = 365, seed: int = 15) -> Report:
    """A report shaped like the page's: numbers random, sizes real."""
    rng = random.Random(seed)
    end = date(2026, 12, 31)
    filters = Filters(start=end - timedelta(days=days - 1), end=end, granularity=Granularity.DAY)
    directorates = [f"Müdürlük {i}" for i in range(12)]
    categories = [f"Kategori {i}" for i in range(40)]

    def counts(key: str, title: str, labels: list[str], kind: str = "hbar") -> Table:
        rows = tuple((Cell(x), Cell(rng.randint(0, 5000), "talep-sayisi", {"k": x})) for x in labels)
        return Table(key, title, ("Ad", "Talep"), (Unit.TEXT, Unit.COUNT), rows, Chart(kind, 0, (1,)))  # type: ignore[arg-type]

    def shares(key: str, title: str, labels: list[str]) -> Table:
        rows = tuple(
            (Cell(x), Cell(rng.random(), "f", {"k": x}), Cell(rng.randint(0, 900), "f")) for x in labels
        )
        return Table(
            key,
            title,
            ("Ad", "Pay", "Talep"),
            (Unit.TEXT, Unit.PERCENT, Unit.COUNT),
            rows,
            Chart("hbar", 0, (1,)),
        )

    def durations(key: str, title: str, labels: list[str]) -> Table:
        rows = tuple((Cell(x), Cell(rng.random() * 10), Cell(rng.random() * 20)) for x in labels)
        return Table(
            key,
            title,
            ("Ad", "Medyan", "90. yüzdelik"),
            (Unit.TEXT, Unit.WORKING_DAYS, Unit.WORKING_DAYS),
            rows,
            Chart("bar", 0, (1, 2)),
        )

    series = tuple(
        (
            Cell((filters.start + timedelta(days=i)).isoformat()),
            *(Cell(rng.randint(3000, 5000), "talep-sayisi", {"gun": str(i)}) for _ in range(3)),
        )
        for i in range(days)
    )
    over_time = Table(
        "hacim-zaman",
        "Zamana göre talepler",
        ("Gün", "Toplam", "Şikâyet", "İstek"),
        (Unit.TEXT, Unit.COUNT, Unit.COUNT, Unit.COUNT),
        series,
        Chart("line", 0, (1, 2, 3)),
    )
    sections = (
        Section(
            "hacim",
            "Talep hacmi",
            (
                over_time,
                counts("k", "Kanal bazında", list(CHANNELS)),
                counts("c", "Kategori bazında", categories),
                counts("d", "Müdürlük bazında", directorates),
            ),
        ),
        Section(
            "hizmet-suresi",
            "Hizmet süresine uyum",
            (shares("u-d", "Müdürlüğe göre", directorates), shares("u-c", "Kategoriye göre", categories)),
        ),
        Section("sureler", "Süreler", (durations("s-d", "Müdürlüğe göre", directorates),)),
        Section(
            "oranlar", "Oranlar", (shares("o", "Oranlar", ["Uygunsuzluk", "Yeniden açılma", "Yönlendirme"]),)
        ),
        Section(
            "dif", "DİF", (counts("dif-yas", "Yaşa göre açık DİF", ["0-30", "31-60", "61-90", "90+"], "bar"),)
        ),
        Section(
            "iso10002", "İtirazlar ve memnuniyet", (shares("m", "Memnuniyet", ["Yanıt oranı", "Düşük puan"]),)
        ),
        Section(
            "yonetim",
            "Yönetimin gözden geçirmesi",
            (counts("y", "Uygunsuzluk kategorileri", categories[:10]),),
        ),
    )
    return Report(filters=filters, scope=None, generated_at=datetime.now(UTC), sections=sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    for name, value in timings(full_sized(args.days)).items():
        print(f"{name:18} {value:10.1f}")


if __name__ == "__main__":
    main()
