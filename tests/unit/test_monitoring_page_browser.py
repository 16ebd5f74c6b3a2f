"""The monitoring page in a real browser: Debian's Chromium driven by Playwright against our app
served by uvicorn (tests/unit/test_staff_pages_browser.py's server and helpers, a database of its
own). The IMS office and a director open it; the director sees only their directorate; a filter
changes the page; both exports download and read back; a number opens its list; axe-core finds
no WCAG 2.1 AA violation on the page and the list; no inline script or style is refused by the
page's CSP. Screenshots: <DATA_DIR>/screenshots/monitoring-page-*.png."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from services import indicator_figures
from services.access import Principal, Role
from services.bootstrap import Container
from services.indicator_figures import FIGURES
from tests.browser import assert_accessible, chromium, screenshots
from tests.unit.test_monitoring_page import seed, today
from tests.unit.test_staff_pages_browser import _signed_in, _watch, serve_on_own_database

YOL, PARK = "Yol Yapım ve Bakım Dairesi Başkanlığı", "Park ve Bahçeler Müdürlüğü"


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with serve_on_own_database(database_url, tmp_path_factory, "izleme") as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"monitoring-page-{name}.png"), full_page=True)


def _volume_by_directorate(page: Page) -> str:
    return page.locator("#t-hacim-mudurluk table").inner_text()


def test_the_ims_office_and_a_director_use_the_monitoring_page(
    browser: Browser, server: tuple[str, Container], tmp_path: Path
) -> None:
    base, container = server
    day = today() - timedelta(days=2)
    seed(
        container,
        {
            "YOL": [("web", day), ("cagri-merkezi", day), ("web", day - timedelta(days=1))],
            "PARK": [("cimer", day)],
        },
    )
    office = _signed_in(browser, base, container, Principal.staff("eys.sefi", {Role.IMS_OFFICE}, None))
    try:
        page = office.new_page()
        refused = _watch(page)
        page.goto("/personel/")
        page.get_by_role("link", name="İzleme ve ölçme (göstergeler, yönetim raporu)").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("İzleme ve ölçme")
        # The charts come after the page, as images: every one of them loads and is drawn.
        drawn = page.locator(".chart img")
        expect(drawn.first).to_be_visible()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.chart img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        assert drawn.count() >= 3
        table = _volume_by_directorate(page)
        assert YOL in table and PARK in table
        # The shared rules, in Turkish, open under their summary (and are checked open by axe).
        rules = page.locator("details.rules")
        expect(rules.get_by_role("listitem").first).to_be_hidden()
        rules.get_by_text("Göstergeler nasıl hesaplanır?").click()
        expect(rules.get_by_role("listitem").first).to_have_text(indicator_figures.KURALLAR[0])
        expect(page.locator("#t-hacim-zaman .note").last).to_have_text(FIGURES["talep-sayisi"].tanim)
        assert_accessible(page, "monitoring")
        _screenshot(page, "ims-office")

        # A filter: the form's GET reloads the page with it.
        page.get_by_label("Kanal", exact=True).select_option("web")
        page.get_by_label("Zaman adımı", exact=True).select_option("hafta")
        page.get_by_role("button", name="Göster").click()
        expect(page).to_have_url(re.compile(r"kanal=web&.*siklik=hafta"))
        expect(page.get_by_label("Kanal", exact=True)).to_have_value("web")
        assert PARK not in _volume_by_directorate(page)  # its one request came by CİMER
        _screenshot(page, "ims-office-web")

        with page.expect_download() as xlsx:
            page.get_by_role("link", name="Göstergeleri Excel (XLSX) olarak indir").click()
        assert xlsx.value.suggested_filename.endswith(".xlsx")
        book = load_workbook(io.BytesIO(Path(xlsx.value.path()).read_bytes()))
        assert "Kanal" in [c.value for c in book.worksheets[0]["A"]]
        with page.expect_download() as pdf:
            page.get_by_role("link", name="Yönetimin gözden geçirmesi raporunu (PDF) indir").click()
        assert pdf.value.suggested_filename.startswith("yonetim-raporu_")
        reader = PdfReader(io.BytesIO(Path(pdf.value.path()).read_bytes()))
        assert "Yönetimin Gözden Geçirmesi" in reader.pages[0].extract_text()

        # A number opens the requests behind it.
        page.locator("#t-hacim-mudurluk table a").first.click()
        expect(page.get_by_role("heading", level=2)).to_contain_text("talep")
        expect(page.locator("a[href^='/personel/talepler/']").first).to_be_visible()
        assert_accessible(page, "list")
        _screenshot(page, "list")
        page.locator("a[href^='/personel/talepler/']").first.click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert "/personel/talepler/" in page.url
        assert refused == []
    finally:
        office.close()

    director = _signed_in(browser, base, container, Principal.staff("yol.muduru", {Role.DIRECTOR}, "YOL"))
    try:
        page = director.new_page()
        refused = _watch(page)
        page.goto("/personel/izleme")
        expect(page.locator(".lead")).to_contain_text(YOL)
        expect(page.get_by_label("Müdürlük", exact=True)).to_have_count(0)
        table = _volume_by_directorate(page)
        assert YOL in table and PARK not in table
        assert_accessible(page, "monitoring-director")
        _screenshot(page, "director")
        answer = page.goto("/personel/izleme?mudurluk=PARK")
        assert answer is not None and answer.status == 403
        expect(page.locator(".permission")).to_have_text("monitoring:read-all")
        _screenshot(page, "director-refused")
        answer = page.goto("/personel/izleme?baslangic=2026-02-30")
        assert answer is not None and answer.status == 400
        expect(page.get_by_role("alert")).to_contain_text("Başlangıç tarihi")
        assert_accessible(page, "monitoring-bad-filter")
        assert refused == []
    finally:
        director.close()
