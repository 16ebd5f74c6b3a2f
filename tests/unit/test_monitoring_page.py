"""The monitoring page (/personel/izleme) over HTTP with the in-process app: who sees which
directorate, the Turkish 403 and 400 pages, every section with its charts and tables, the link
behind every number and the list it opens, and both exports read back (openpyxl, pypdf)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import update

from services import catalogue, indicator_figures, indicator_refresh, indicators
from services import citizen_requests as requests_service
from services.access import Role
from services.api.app import create_app
from services.bootstrap import Container
from services.indicator_format import number_text
from services.indicator_tables import Filters, Granularity, Unit
from services.models import CitizenRequest
from services.working_days import ISTANBUL
from tests.unit.test_staff_pages import sign_in

SECTIONS = ("hacim", "hizmet-suresi", "sureler", "oranlar", "dif", "iso10002", "yonetim")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture()
def app_client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=True, follow_redirects=False) as client:
        yield client


def seed(container: Container, received: dict[str, list[tuple[str, date]]]) -> list[uuid.UUID]:
    """Requests taken in by the real intake, then placed in a directorate and on a day of receipt
    (the intake stamps now; the monitoring reads codes and times only)."""
    catalogue.load_seed_if_empty(container.uow)
    ids = []
    for directorate, requests in received.items():
        for channel, day in requests:
            request, _ = requests_service.submit(
                container.uow,
                requests_service.Intake(
                    channel=channel,
                    channel_reference=f"IZLEME-{uuid.uuid4()}",
                    request_type="sikayet",
                    category_code=None,
                    description="İzleme testi: kaldırım taşı kırık.",
                    latitude=None,
                    longitude=None,
                    contact=requests_service.Contact(
                        full_name="Şükrü Öğütçü",
                        phone="+905551112233",
                        email=None,
                        address=None,
                        preferred_channel="sms",
                    ),
                ),
            )
            moment = datetime.combine(day, time(10, 0), ISTANBUL)
            with container.uow() as uow:
                uow.session.execute(
                    update(CitizenRequest)
                    .where(CitizenRequest.id == request.id)
                    .values(
                        directorate_code=directorate, received_at=moment, due_at=moment + timedelta(days=7)
                    )
                )
                uow.commit()
            ids.append(request.id)
    with container.uow() as uow:  # the summaries the figures are read from (as the workers do)
        indicator_refresh.refresh(uow.session, now=datetime.now(UTC))
        uow.commit()
    return ids


def today() -> date:
    return datetime.now(ISTANBUL).date()


@pytest.fixture()
def seeded(container: Container) -> dict[str, int]:
    day = today() - timedelta(days=3)
    seed(
        container,
        {
            "YOL": [("cagri-merkezi", day), ("web", day), ("cimer", day - timedelta(days=1))],
            "PARK": [("web", day), ("web", day - timedelta(days=40))],
        },
    )
    return {"YOL": 3, "PARK": 1}


def links(page: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'href="(/personel/izleme/liste\?[^"]+)"', page)]


def test_the_ims_office_sees_every_section_with_charts_tables_and_links(
    app_client: TestClient, container: Container, seeded: dict[str, int]
) -> None:
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    home = app_client.get("/personel/")
    assert 'href="/personel/izleme"' in home.text
    page = app_client.get("/personel/izleme")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>İzleme ve ölçme</h1>" in text and "bütün müdürlükler" in text
    for key in SECTIONS:
        assert f'id="b-{key}"' in text, key
    # The default period: the last 30 days, shown in the form.
    assert f'value="{(today() - timedelta(days=29)).isoformat()}"' in text
    assert f'value="{today().isoformat()}"' in text
    # Charts are images of our own, each with its text alternative and its room reserved; the
    # page does not wait for them. Each is an SVG drawing of the same figures.
    images = re.findall(
        r'<img src="(/personel/izleme/grafik/[^"]+)" alt="([^"]+)" width="(\d+)" height="(\d+)"', text
    )
    assert len(images) >= 3
    assert "<style" not in text and " style=" not in text
    for src, alt, _, _ in images:
        assert "baslangic=" in src and "bitis=" in src  # the page's own filters
        assert "grafiği" in alt and "Sayılar grafiğin altındaki tabloda" in alt
        drawing = app_client.get(src.replace("&amp;", "&"))
        assert drawing.status_code == 200, src
        assert drawing.headers["content-type"] == "image/svg+xml"
        assert drawing.content.startswith(b"<?xml") and b"<svg" in drawing.content
        assert "default-src 'none'" in drawing.headers["content-security-policy"]
    assert app_client.get("/personel/izleme/grafik/yok-boyle.svg").status_code == 404
    assert '<th scope="col">' in text and "<caption>" in text
    policy = page.headers["content-security-policy"]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "figures;dur=" in page.headers["server-timing"]
    # Every number links to its list; each link names a known figure and carries the filters.
    found = links(text)
    assert found
    for link in found:
        query = parse_qs(urlsplit(link).query)
        assert query["gosterge"][0] in indicators.FIGURES
        # A bucket's link (a day, a week) narrows the period, never widens it.
        assert query["baslangic"][0] >= (today() - timedelta(days=29)).isoformat()
        assert query["bitis"][0] <= today().isoformat()
    # The definitions under the tables and the shared rules are Turkish, never the English ones.
    assert str(escape(indicators.FIGURES["talep-sayisi"].tanim)) in text
    assert str(escape(indicators.FIGURES["geciken-acik"].tanim)) in text
    assert "<summary>Göstergeler nasıl hesaplanır?</summary>" in text
    for rule in indicator_figures.KURALLAR:
        assert f"<li>{escape(rule)}</li>" in text
    for figure in indicators.FIGURES.values():
        assert str(escape(figure.definition)) not in text
    assert 'lang="en"' not in text
    # The filter form offers every directorate to the IMS office.
    assert 'name="mudurluk"' in text and "Park ve Bahçeler Müdürlüğü" in text


def test_a_director_sees_only_their_directorate_and_is_refused_another(
    app_client: TestClient, container: Container, seeded: dict[str, int]
) -> None:
    sign_in(container, app_client, "yol.muduru", (Role.DIRECTOR,), "YOL")
    page = app_client.get("/personel/izleme")
    assert page.status_code == 200
    assert "Yol Yapım ve Bakım Dairesi Başkanlığı" in page.text
    # No directorate choice, and every link is limited to the director's own.
    assert 'name="mudurluk"' not in page.text
    for link in links(page.text):
        assert parse_qs(urlsplit(link).query)["mudurluk"] == ["YOL"]
    with container.uow() as uow:
        filters = Filters(start=today() - timedelta(days=29), end=today())
        own = indicators.report(uow.session, filters.scoped("YOL"), scope="YOL", now=datetime.now(UTC))
    assert own.scope == "YOL"
    for path in ("/personel/izleme", "/personel/izleme.xlsx", "/personel/izleme/yonetim-raporu.pdf"):
        refused = app_client.get(f"{path}?mudurluk=PARK")
        assert refused.status_code == 403, path
        assert "Bu işlem için yetkiniz yok" in refused.text
        assert '<strong class="permission">monitoring:read-all</strong>' in refused.text
    refused = app_client.get(
        "/personel/izleme/liste?gosterge=" + next(iter(indicators.FIGURES)) + "&mudurluk=PARK"
    )
    assert refused.status_code == 403
    # Their own directorate, asked for by name, is fine.
    assert app_client.get("/personel/izleme?mudurluk=YOL").status_code == 200


def test_staff_without_the_permission_get_the_turkish_403(
    app_client: TestClient, container: Container
) -> None:
    sign_in(container, app_client)  # directorate staff
    home = app_client.get("/personel/")
    assert 'href="/personel/izleme"' not in home.text
    refused = app_client.get("/personel/izleme")
    assert refused.status_code == 403
    assert '<strong class="permission">monitoring:read</strong>' in refused.text
    assert "izleme sayfasını görme" in refused.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("baslangic=2026-02-30", "Başlangıç tarihi", "Başlangıç tarihi geçerli bir gün olmalı"),
        ("bitis=yarın", "Bitiş tarihi", "Bitiş tarihi geçerli bir gün olmalı"),
        ("baslangic=2026-03-10&bitis=2026-03-01", "Bitiş tarihi", "başlangıç tarihinden önce olamaz"),
        ("baslangic=2020-01-01&bitis=2026-01-01", "Bitiş tarihi", "Dönem en çok"),
        ("siklik=yil", "Zaman adımı", "gün, hafta ya da ay olmalı"),
        ("kanal=guvercin", "Kanal", "Böyle bir kanal yok"),
        ("mudurluk=YOKBOYLE", "Müdürlük", "Böyle bir müdürlük yok"),
        ("kategori=YOKBOYLE", "Kategori", "Böyle bir kategori yok"),
    ],
)
def test_a_bad_filter_is_a_400_page_naming_the_field(
    app_client: TestClient, container: Container, query: str, field: str, message: str
) -> None:
    catalogue.load_seed_if_empty(container.uow)
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    for path in ("/personel/izleme", "/personel/izleme.xlsx", "/personel/izleme/yonetim-raporu.pdf"):
        answer = app_client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert f">{field}</a>: " in answer.text and message in answer.text
        assert 'aria-invalid="true"' in answer.text


def test_the_day_month_year_form_of_a_date_is_understood(
    app_client: TestClient, container: Container
) -> None:
    catalogue.load_seed_if_empty(container.uow)
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    page = app_client.get("/personel/izleme?baslangic=01.03.2026&bitis=31.03.2026&siklik=hafta")
    assert page.status_code == 200
    assert 'value="2026-03-01"' in page.text and 'value="2026-03-31"' in page.text
    assert '<option value="hafta" selected>Hafta</option>' in page.text


def test_a_number_opens_the_requests_behind_it_paged(
    app_client: TestClient, container: Container, seeded: dict[str, int]
) -> None:
    sign_in(container, app_client, "yol.muduru", (Role.DIRECTOR,), "YOL")
    page = app_client.get("/personel/izleme")
    listed_any = False
    for link in links(page.text):
        answer = app_client.get(link)
        assert answer.status_code == 200, (link, answer.text)
        assert "← İzleme sayfasına dön" in answer.text
        figure = indicators.FIGURES[parse_qs(urlsplit(link).query)["gosterge"][0]]
        assert f"<dt>Tanım</dt><dd>{escape(figure.tanim)}</dd>" in answer.text
        assert str(escape(figure.definition)) not in answer.text
        targets = re.findall(r'href="/personel/(talepler|dif)/([0-9a-f-]{36})"', answer.text)
        listed_any = listed_any or bool(targets)
    assert listed_any
    unknown = app_client.get("/personel/izleme/liste?gosterge=yok-boyle")
    assert unknown.status_code == 400 and "Böyle bir gösterge yok" in unknown.text


def test_the_xlsx_has_a_sheet_per_section_turkish_headers_and_numbers_as_numbers(
    app_client: TestClient, container: Container, seeded: dict[str, int]
) -> None:
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    answer = app_client.get("/personel/izleme.xlsx?siklik=hafta")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    assert "attachment" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    with container.uow() as uow:
        filters = Filters(start=today() - timedelta(days=29), end=today(), granularity=Granularity.WEEK)
        report = indicators.report(uow.session, filters, scope=None, now=datetime.now(UTC))
    assert book.sheetnames == [s.title[:31] for s in report.sections]
    first = book[book.sheetnames[0]]
    assert first["A1"].value.startswith("İzleme göstergeleri — ")
    labels = [first.cell(r, 1).value for r in range(2, 9)]
    assert labels[:2] == ["Dönem", "Müdürlük"] and "Hazırlanma" in labels
    numbers = 0
    for section, sheet in zip(report.sections, book.worksheets, strict=True):
        values = [c.value for row in sheet.iter_rows() for c in row]
        for table in section.tables:
            assert table.title in values
            assert table.note is None or table.note in values  # the Turkish definition under it
            for cells in table.rows:
                for cell, unit in zip(cells, table.units, strict=True):
                    if isinstance(cell.value, int | float) and unit is not Unit.TEXT:
                        numbers += 1
        for row in sheet.iter_rows():
            for c in row:
                if isinstance(c.value, int | float):
                    assert c.number_format != "General", (sheet.title, c.coordinate)
                    if c.number_format.endswith("%"):
                        assert 0 <= c.value <= 1
    typed = sum(
        1 for s in book.worksheets for row in s.iter_rows() for c in row if isinstance(c.value, int | float)
    )
    assert typed == numbers and numbers > 0


def test_the_management_review_pdf_reads_back_in_turkish_with_the_figures(
    app_client: TestClient, container: Container, seeded: dict[str, int]
) -> None:
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    answer = app_client.get("/personel/izleme/yonetim-raporu.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for words in (
        "Yönetimin Gözden Geçirmesi",
        "Müdürlük",
        "İşlem",
        "Dönemler arası değişim",
        "Önceki dönem",
    ):
        assert words in text, words
    assert sum(len(page.images) for page in reader.pages) >= 1  # the charts, as PNG
    with container.uow() as uow:
        filters = Filters(start=today() - timedelta(days=29), end=today())
        report = indicators.report(uow.session, filters, scope=None, now=datetime.now(UTC))
    for section in report.sections:
        assert section.title in text.replace("\n", " ")
    # The notes under the tables are the figures' Turkish definitions (lines joined back).
    flowing = " ".join(text.split())
    for key in ("talep-sayisi", "geciken-acik", "dif-acik"):
        assert " ".join(indicators.FIGURES[key].tanim.split()) in flowing, key
    shown = [
        number_text(c.value, u)
        for s in report.sections
        for t in s.tables
        for r in t.rows
        for c, u in zip(r, t.units, strict=True)
        if isinstance(c.value, int | float) and c.figure
    ]
    assert shown and all(value in text for value in shown[:5])


def test_every_intake_channel_is_a_filter_open311_among_them(
    app_client: TestClient, container: Container
) -> None:
    """The channel filter offers what the figures count by: every channel requests come in by."""
    catalogue.load_seed_if_empty(container.uow)
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    for channel in ("open311", "cagri-merkezi", "yuz-yuze"):
        page = app_client.get(f"/personel/izleme?kanal={channel}")
        assert page.status_code == 200, (channel, page.text[:300])
        assert f'<option value="{channel}" selected' in page.text


def test_a_list_link_with_a_narrowing_no_figure_has_is_a_400(
    app_client: TestClient, container: Container
) -> None:
    catalogue.load_seed_if_empty(container.uow)
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    answer = app_client.get("/personel/izleme/liste?gosterge=dif-onay-bekleyen&adim=yok-boyle-adim")
    assert answer.status_code == 400 and "daraltması tanınmıyor" in answer.text
    known = app_client.get("/personel/izleme/liste?gosterge=dif-onay-bekleyen&adim=mudur-onayi")
    assert known.status_code == 200, known.text[:300]


def test_no_list_link_however_edited_is_a_server_error(app_client: TestClient, container: Container) -> None:
    """Links are in the address bar: every figure with edited narrowings answers 200 or a 400 page."""
    catalogue.load_seed_if_empty(container.uow)
    sign_in(container, app_client, "eys.sefi", (Role.IMS_OFFICE,), None)
    edited = ("yas=x", "gecikme=yok", "adim=x", "baska=bir-sey", "sayfa=-3", "sayfa=abc", "yas=&gecikme=")
    for figure in indicators.FIGURES:
        for narrowing in edited:
            answer = app_client.get(f"/personel/izleme/liste?gosterge={figure}&{narrowing}")
            assert answer.status_code in (200, 400), (figure, narrowing, answer.status_code)
