"""The citizen page in a real browser: Debian's Chromium driven by Playwright against our app served
by uvicorn on a free port, with a PostgreSQL database of its own (the server commits, so it cannot
share the rolled-back transaction of the other unit tests). A Turkish citizen's phone: tr-TR,
Europe/Istanbul, a narrow screen. axe-core (tests/bpmnlint/node_modules) checks every page for
WCAG 2.1 AA; screenshots go to <DATA_DIR>/screenshots/citizen-page-*.png."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    expect,
)
from sqlalchemy import make_url, select

from deploy.local.mailbox import start_mailbox
from services.bootstrap import Container
from services.config import Settings
from services.models import CitizenReply, CitizenRequest, RequestPhoto
from services.web.forms import NUMBERS
from tests.browser import assert_accessible, chromium, screenshots
from tests.unit.citizen_page import ADDRESS, DESCRIPTION, answer_request, ask_for_information, png
from tests.unit.conftest import free_port, own_database, serve_app

WAIT_MS = 20_000
PHONE: ViewportSize = {"width": 390, "height": 844}
_addresses = itertools.count(10)
# Rate limits live in the database: a run of its own, so a rerun within a minute starts afresh.
RUN = secrets.token_hex(2)


def _settings(database_url: str, folder: Path, mail_port: int, **overrides: Any) -> Settings:
    target = make_url(database_url)
    url = target.set(database=f"{target.database}_sayfa").render_as_string(hide_password=False)
    values: dict[str, Any] = {
        "database_url": url,
        "smtp_port": mail_port,
        "data_dir": folder,
        "engine_rest_url": f"http://127.0.0.1:{free_port()}/engine-rest",
        # Each browser context speaks from an address of its own (X-Forwarded-For from "our
        # load balancer"), so the tests do not share one rate limit.
        "trusted_proxies": ["127.0.0.1"],
        "public_posts_per_minute": 30,
        "public_reads_per_minute": 60,
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="module")
def mail(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """The page tests' own migrated database, and a real mailbox: (folder, port)."""
    own_database(database_url, "sayfa")
    folder = tmp_path_factory.mktemp("sayfa")
    port = free_port()
    mailbox = start_mailbox(folder / "mailbox", "127.0.0.1", port)
    try:
        yield folder, port
    finally:
        mailbox.stop()


@pytest.fixture(scope="module")
def server(database_url: str, mail: tuple[Path, int]) -> Iterator[tuple[str, Container]]:
    with serve_app(_settings(database_url, *mail)) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _context(
    browser: Browser, base: str, *, javascript: bool = True, address: str | None = None
) -> BrowserContext:
    context = browser.new_context(
        base_url=base,
        viewport=PHONE,
        locale="tr-TR",
        timezone_id="Europe/Istanbul",
        java_script_enabled=javascript,
        extra_http_headers={"X-Forwarded-For": address or f"2001:db8:{RUN}::{next(_addresses)}"},
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    outside: list[str] = []

    def only_ours(route: Any) -> None:
        # Never a request to an outside host: anything else is recorded and refused.
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    context.outside = outside  # type: ignore[attr-defined]
    return context


@pytest.fixture()
def page(browser: Browser, server: tuple[str, Container]) -> Iterator[Page]:
    context = _context(browser, server[0])
    try:
        opened = context.new_page()
        refused: list[str] = []  # what the page's own CSP blocked (an inline script or style)

        def console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                refused.append(message.text)

        opened.on("console", console)
        yield opened
        assert refused == []
        assert context.outside == []  # type: ignore[attr-defined]
    finally:
        context.close()


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"citizen-page-{name}.png"), full_page=True)


def _choose_category(page: Page, *, check: bool = True) -> None:
    page.goto("/")
    if check:
        assert_accessible(page, "home")
    page.get_by_role("link", name="Başvuru yap").first.click()
    if check:
        assert_accessible(page, "categories")
    page.get_by_label("Konu ara").fill("çukur")
    page.get_by_role("button", name="Ara").click()
    page.get_by_role("link", name="Yolda çukur / asfalt bozulması").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Yolda çukur / asfalt bozulması")


def _fill_report(page: Page, photo: Path | None = None, *, consent: bool = True) -> None:
    page.get_by_label("Şikâyet").check()
    page.get_by_label("Açıklama").fill(DESCRIPTION)
    page.get_by_label("Orta (30 cm – 1 m)").check()
    page.get_by_label("Açık adres").fill(ADDRESS)
    page.get_by_label("İlçe").fill("Yenişehir")
    if photo is not None:
        page.get_by_label("Fotoğraf").set_input_files(str(photo))
    page.get_by_label("Ad soyad").fill("Ayşe Yıldırım Öztürk")
    page.get_by_role("textbox", name="Cep telefonu (isteğe bağlı)").fill("0532 123 45 67")
    page.get_by_role("textbox", name="E-posta (isteğe bağlı)").fill("ayse.ozturk@vatandas.local")
    page.get_by_role("radio", name="E-posta").check()
    if consent:
        page.locator("#f-kvkk").check()


def _row(container: Container, tracking: str) -> CitizenRequest:
    with container.uow() as uow:
        row = uow.session.scalar(select(CitizenRequest).where(CitizenRequest.tracking_code == tracking))
        assert row is not None
        uow.session.expunge(row)
        return row


def test_a_citizen_files_a_report_with_a_photo_and_a_double_submit_is_the_same_request(
    page: Page, server: tuple[str, Container], tmp_path: Path
) -> None:
    _, container = server
    photo = tmp_path / "çukur.png"
    photo.write_bytes(png(64, 48))
    _choose_category(page)
    assert_accessible(page, "form")
    _fill_report(page, photo)
    # The page's script solves the proof-of-work: the question in words is no longer asked.
    expect(page.locator(".bot-question")).to_be_hidden()
    _screenshot(page, "form")

    with page.expect_navigation():
        page.get_by_role("button", name="Başvuruyu gönder").dblclick()
    expect(page.get_by_role("heading", level=1)).to_have_text("Başvurunuz alındı")
    tracking = page.locator("#takip-no").inner_text()
    due = page.locator("#beklenen-tarih")
    expect(due).to_have_text(re.compile(r"^\d{1,2} [A-ZÇĞİÖŞÜ][a-zçğıöşü]+ 20\d\d, \d\d:\d\d$"))
    expect(page.get_by_text("E-posta adresinize bir alındı bildirimi gönderilecek")).to_be_visible()
    assert_accessible(page, "success")
    _screenshot(page, "success")
    page.reload()  # the browser sends the same form again
    expect(page.locator("#takip-no")).to_have_text(tracking)

    row = _row(container, tracking)
    expected = service_deadline(container, row)
    assert due.get_attribute("datetime") == expected
    with container.uow() as uow:
        same = uow.session.scalars(
            select(CitizenRequest.tracking_code).where(
                CitizenRequest.channel == "web", CitizenRequest.channel_reference == row.channel_reference
            )
        ).all()
        photos = uow.session.execute(
            select(RequestPhoto.file_name, RequestPhoto.content_type).where(RequestPhoto.request_id == row.id)
        ).all()
    assert same == [tracking]
    assert [tuple(p) for p in photos] == [("çukur.png", "image/png")]
    assert row.description == DESCRIPTION and row.attributes == {"cukur-boyutu": "orta"}


def service_deadline(container: Container, row: CitizenRequest) -> str:
    """The receipt's date (citizen_requests.inform_citizen `alindi`), as the page's datetime attribute."""
    from services import catalogue, service_time
    from services.web.pages import iso

    with container.uow() as uow:
        found = catalogue.active_category(uow.session, row.category_code)
        assert found is not None
        return iso(service_time.deadline(row.received_at, found[0], found[0].default_priority))


def test_the_form_comes_back_with_each_error_in_turkish(page: Page, tmp_path: Path) -> None:
    text = tmp_path / "tutanak.txt"
    text.write_text("Bu bir fotoğraf değil.", encoding="utf-8")
    _choose_category(page)
    _fill_report(page, text, consent=False)
    page.get_by_label("Açıklama").fill("Çukur")
    page.get_by_role("button", name="Başvuruyu gönder").click()

    summary = page.locator("#hata-ozeti")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(page.locator("#f-aciklama-hata")).to_contain_text("Açıklama en az 10 karakter olmalı")
    expect(page.locator("#f-fotograf-hata")).to_contain_text("Yalnızca JPEG ya da PNG fotoğraf")
    expect(page.locator("#f-kvkk-hata")).to_contain_text("aydınlatma metnini okuduğunuzu onaylayın")
    expect(page.get_by_label("Açıklama")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Ad soyad")).to_have_value("Ayşe Yıldırım Öztürk")  # kept
    assert_accessible(page, "form-with-errors")
    _screenshot(page, "form-with-errors")
    summary.get_by_role("link", name=re.compile("^Açıklama")).click()
    expect(page.get_by_label("Açıklama")).to_be_focused()


def test_the_citizen_tracks_the_request_answers_the_question_then_rates_and_objects(
    page: Page, server: tuple[str, Container]
) -> None:
    _, container = server
    _choose_category(page)
    _fill_report(page)
    page.get_by_role("button", name="Başvuruyu gönder").click()
    tracking = page.locator("#takip-no").inner_text()
    ask_for_information(container, tracking, "Çukur hangi binanın önünde?")

    page.get_by_role("link", name="Başvurumu takip et").first.click()
    assert_accessible(page, "track")
    page.get_by_label("Takip numarası").fill(tracking.lower())
    page.get_by_role("button", name="Göster").click()
    expect(page.locator("#durum")).to_have_text("Sizden bilgi bekleniyor")
    expect(page.locator("#soru")).to_have_text("Çukur hangi binanın önünde?")
    expect(page.locator("#gecmis li")).not_to_have_count(0)
    expect(page.get_by_text("yol.personel")).to_have_count(0)  # no staff names
    assert_accessible(page, "status-information-requested")
    _screenshot(page, "status-information-requested")

    page.get_by_label("Yanıtınız").fill("Gül Apartmanı'nın önünde, İnönü Caddesi köşesinde.")
    page.get_by_role("button", name="Yanıtı gönder").click()
    expect(page.locator(".notice-success")).to_contain_text("Yanıtınız ilgili müdürlüğe iletildi")
    expect(page.locator("#durum")).to_have_text("Müdürlükte inceleniyor")
    row = _row(container, tracking)
    with container.uow() as uow:
        replies = uow.session.scalars(
            select(CitizenReply.text).where(CitizenReply.request_id == row.id)
        ).all()
    assert replies == ["Gül Apartmanı'nın önünde, İnönü Caddesi köşesinde."]

    answer_request(container, tracking)
    page.get_by_role("link", name="Başka bir başvuruyu takip et").click()
    page.get_by_label("Takip numarası").fill(tracking)
    page.get_by_role("button", name="Göster").click()
    expect(page.locator("#durum")).to_have_text("Yanıtlandı")
    expect(page.locator("#yanit")).to_contain_text("olumlu")
    expect(page.get_by_role("heading", name="Yanıta itiraz edin")).to_be_visible()
    assert_accessible(page, "status-answered")
    _screenshot(page, "status-answered")

    page.get_by_role("button", name="Değerlendirmeyi gönder").click()  # no score chosen
    expect(page.locator("#f-degerlendirme-puan-hata")).to_contain_text("1 ile 5 arasında bir puan seçin")
    assert_accessible(page, "status-rating-error")
    page.get_by_label("4 – Memnunum").check()
    page.get_by_label("Yorumunuz").fill("Hızlı ve özenli bir çalışma oldu, teşekkürler.")
    page.get_by_role("button", name="Değerlendirmeyi gönder").click()
    expect(page.locator(".notice-success")).to_contain_text("Değerlendirmeniz kaydedildi")
    expect(page.get_by_role("button", name="Değerlendirmeyi gönder")).to_have_count(0)

    page.get_by_label("İtirazınızın gerekçesi").fill(
        "Çukur yalnızca yarısına kadar dolduruldu, hâlâ tehlikeli."
    )
    page.get_by_role("button", name="İtirazı gönder").click()
    expect(page.locator(".notice-success")).to_contain_text("İtirazınız alındı")
    expect(page.locator("#durum")).to_have_text("İtirazınız değerlendiriliyor")
    _screenshot(page, "status-objected")


def test_without_javascript_the_question_in_words_lets_the_report_through(
    browser: Browser, server: tuple[str, Container]
) -> None:
    base, container = server
    context = _context(browser, base, javascript=False)
    try:
        page = context.new_page()
        _choose_category(page, check=False)  # axe needs JavaScript
        _fill_report(page)
        asked = page.locator("label[for=f-dogrulama]").inner_text()
        expect(page.locator(".bot-question")).to_be_visible()
        first, second = asked.removeprefix("Güvenlik sorusu: ").removesuffix(" kaç eder?").split(" artı ")
        words = {w: n for n, w in NUMBERS.items()}
        page.get_by_label(asked).fill(NUMBERS[words[first] + words[second]])
        _screenshot(page, "no-javascript-form")
        page.get_by_role("button", name="Başvuruyu gönder").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Başvurunuz alındı")
        assert _row(container, page.locator("#takip-no").inner_text()).channel == "web"
        assert context.outside == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_a_form_posted_from_another_site_is_refused(page: Page, server: tuple[str, Container]) -> None:
    base, _ = server
    page.goto("/takip")  # the visitor has our cookie
    attacker = "http://saldirgan.example/"
    page.route(
        attacker,
        lambda route: route.fulfill(
            content_type="text/html; charset=utf-8",
            body=f'<form method="post" action="{base}/takip"><input name="takip_no" value="BI-X">'
            '<button type="submit">Gönder</button></form>',
        ),
    )
    page.goto(attacker)
    page.get_by_role("button", name="Gönder").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Form doğrulanamadı")


def test_too_many_page_views_get_a_turkish_429_page(
    browser: Browser, database_url: str, mail: tuple[Path, int]
) -> None:
    # A server of its own with three reads a minute: a token comes back every 20 s, so however slow
    # the machine, the fourth view is over the limit (at 60 a minute a slow run earned one back).
    with serve_app(_settings(database_url, *mail, public_reads_per_minute=3)) as (base, _):
        context = _context(browser, base)
        try:
            for _ in range(3):
                assert context.request.get(f"{base}/kvkk").status == 200
            page = context.new_page()
            response = page.goto("/kvkk")
            assert response is not None and response.status == 429
            assert int(response.headers["retry-after"]) >= 1
            expect(page.get_by_role("heading", level=1)).to_have_text("Çok fazla istek")
            assert_accessible(page, "too-many-requests")
            _screenshot(page, "too-many-requests")
        finally:
            context.close()


def test_the_kvkk_notice_is_accessible(page: Page) -> None:
    page.goto("/kvkk")
    expect(page.get_by_role("heading", level=1)).to_contain_text("aydınlatma metni")
    assert_accessible(page, "kvkk")


def test_keyboard_only_the_skip_link_and_visible_focus(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Ana içeriğe geç")
    expect(skip).to_be_focused()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_with_a_tile_server_the_map_fills_the_coordinates(
    browser: Browser, database_url: str, mail: tuple[Path, int]
) -> None:
    tiles = "https://harita.belediye.example"
    settings = _settings(
        database_url, *mail, map_tile_url=tiles + "/{z}/{x}/{y}.png", map_attribution="© Belediye"
    )
    with serve_app(settings) as (base, _):
        context = _context(browser, base)
        served: list[str] = []

        def tile(route: Route) -> None:
            # The municipality's tile server, answered here: never a request to an outside host.
            served.append(route.request.url)
            route.fulfill(content_type="image/png", body=png(256, 256))

        context.route(tiles + "/**", tile)
        try:
            page = context.new_page()
            page.goto("/basvuru?kategori=YOL-CUKUR")
            expect(page.locator("#harita")).to_be_visible()
            expect(page.locator("#harita img.leaflet-tile-loaded").first).to_be_visible()
            page.locator("#harita").click(position={"x": 180, "y": 140})
            expect(page.get_by_role("textbox", name="Enlem (isteğe bağlı)")).not_to_have_value("")
            latitude = float(
                page.get_by_role("textbox", name="Enlem (isteğe bağlı)").input_value().replace(",", ".")
            )
            longitude = float(
                page.get_by_role("textbox", name="Boylam (isteğe bağlı)").input_value().replace(",", ".")
            )
            assert 35.0 <= latitude <= 43.0 and 25.0 <= longitude <= 45.0
            assert_accessible(page, "form-with-map")
            _screenshot(page, "form-with-map")
        finally:
            context.close()
    assert served and all(u.startswith(tiles + "/") for u in served)
    assert context.outside == []  # type: ignore[attr-defined]
