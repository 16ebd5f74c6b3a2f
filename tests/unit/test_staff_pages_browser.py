"""The staff pages in a real browser: Debian's Chromium driven by Playwright against our app served
by uvicorn on a free port, with a PostgreSQL database of its own (the server commits). The session
is made directly (no identity provider in the unit tier; the real sign-in is
tests/integration/test_staff_sign_in.py). Two files go up with a progress bar each; axe-core
(tests/bpmnlint/node_modules) finds no WCAG 2.1 AA violation on any staff page; screenshots go
to <DATA_DIR>/screenshots/staff-page-*.png."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, FilePayload, Page, expect
from sqlalchemy import make_url

from services import staff_sessions
from services.access import Principal, Role
from services.bootstrap import Container
from services.config import Settings
from services.web.staff import COOKIE
from tests.browser import assert_accessible, chromium, screenshots
from tests.unit.conftest import free_port, own_database, serve_app
from tests.unit.test_staff_pages import dif_with_actions, submitted

WAIT_MS = 20_000
# A real-sized scan: large enough for the browser to report upload progress on the way.
SCAN = b"%PDF-1.4\n" + b"0" * (1536 * 1024) + b"\n%%EOF\n"
MINUTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@contextmanager
def serve_on_own_database(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[tuple[str, Container]]:
    """The app over real HTTP on a database of its own (`<test database>_<name>`), no engine."""
    own_database(database_url, name)
    target = make_url(database_url)
    url = target.set(database=f"{target.database}_{name}").render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path_factory.mktemp(name),
        engine_rest_url=f"http://127.0.0.1:{free_port()}/engine-rest",
    )
    with serve_app(settings) as served:
        yield served


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with serve_on_own_database(database_url, tmp_path_factory, "personel") as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _signed_in(browser: Browser, base: str, container: Container, principal: Principal) -> BrowserContext:
    context = browser.new_context(base_url=base, locale="tr-TR", timezone_id="Europe/Istanbul")
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    session_id = staff_sessions.create(
        container.uow, principal, display_name="Temizlik Personeli", id_token="-"
    )
    context.add_cookies(
        [
            {
                "name": COOKIE,
                "value": session_id,
                "url": f"{base}/personel/",
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return context


def _watch(page: Page) -> list[str]:
    refused: list[str] = []  # what the page's own CSP blocked (an inline script or style)

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", console)
    return refused


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"staff-page-{name}.png"), full_page=True)


def test_two_files_go_up_with_progress_and_every_staff_page_passes_axe(
    browser: Browser, server: tuple[str, Container], tmp_path: Path
) -> None:
    base, container = server
    dif_id, actions = dif_with_actions(container)
    request = submitted(container, "TEMIZLIK")
    staff = Principal.staff("temizlik.personel", {Role.DIRECTORATE_STAFF}, "TEMIZLIK")
    context = _signed_in(browser, base, container, staff)
    try:
        page = context.new_page()
        refused = _watch(page)
        page.goto("/personel/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hoş geldiniz, Temizlik Personeli")
        assert_accessible(page, "home")
        _screenshot(page, "home")

        page.get_by_role("link", name=str(page.locator("table a").first.inner_text())).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("DİF ")
        assert_accessible(page, "dif")
        _screenshot(page, "dif")

        page.get_by_role("link", name="Bu eylemin kanıt sayfası").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Eylem kanıtları")
        assert_accessible(page, "evidence-empty")
        page.get_by_label("Dosyalar").set_input_files(
            [
                FilePayload(name="tarama.pdf", mimeType="application/pdf", buffer=SCAN),
                FilePayload(name="tutanak.pdf", mimeType="application/pdf", buffer=MINUTES),
            ]
        )
        page.get_by_role("button", name="Yükle").click()
        progress = page.locator("#yukleme-durumu")
        expect(progress.locator("progress")).to_have_count(2)
        expect(progress.locator("li.ok")).to_have_count(2)
        assert hashlib.sha256(SCAN).hexdigest() in progress.inner_text()
        _screenshot(page, "evidence-progress")
        # The page lists them once all went up.
        table = page.locator("table.evidence")
        expect(table.locator("tbody tr")).to_have_count(2)
        expect(table).to_contain_text(hashlib.sha256(MINUTES).hexdigest())
        assert_accessible(page, "evidence-listed")
        _screenshot(page, "evidence-listed")

        page.goto("/personel/talepler")
        expect(page.get_by_role("heading", level=1)).to_have_text("Talepler")
        assert_accessible(page, "requests")
        _screenshot(page, "requests")
        page.goto(f"/personel/talepler/{request.id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(request.tracking_code)
        assert_accessible(page, "request")
        _screenshot(page, "request")
        assert refused == []
    finally:
        context.close()

    other = _signed_in(
        browser, base, container, Principal.staff("yol.personel", {Role.DIRECTORATE_STAFF}, "YOL")
    )
    try:
        page = other.new_page()
        answer = page.goto(f"/personel/dif/{dif_id}/eylem/{actions[0]}/kanit")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("Bu işlem için yetkiniz yok")
        expect(page.locator(".permission")).to_have_text("difs:read-all")
        assert_accessible(page, "forbidden")
        _screenshot(page, "forbidden")
    finally:
        other.close()


def test_without_javascript_the_plain_form_uploads_several_files(
    browser: Browser, server: tuple[str, Container]
) -> None:
    base, container = server
    dif_id, actions = dif_with_actions(container)
    staff = Principal.staff("temizlik.personel", {Role.DIRECTORATE_STAFF}, "TEMIZLIK")
    context = browser.new_context(base_url=base, java_script_enabled=False, locale="tr-TR")
    context.set_default_timeout(WAIT_MS)
    session_id = staff_sessions.create(container.uow, staff, display_name="Temizlik Personeli", id_token="-")
    context.add_cookies([{"name": COOKIE, "value": session_id, "url": f"{base}/personel/"}])
    try:
        page = context.new_page()
        page.goto(f"/personel/dif/{dif_id}/eylem/{actions[1]}/kanit")
        page.get_by_label("Dosyalar").set_input_files(
            [
                FilePayload(name="tutanak.pdf", mimeType="application/pdf", buffer=MINUTES),
                FilePayload(name="not.exe", mimeType="application/x-msdownload", buffer=b"MZ\x90\x00"),
            ]
        )
        page.get_by_role("button", name="Yükle").click()
        expect(page.locator(".results")).to_contain_text("tutanak.pdf: Yüklendi.")
        expect(page.locator(".results")).to_contain_text("Bu dosya türü kabul edilmiyor")
        expect(page.locator("table.evidence tbody tr")).to_have_count(1)
        _screenshot(page, "evidence-no-javascript")
    finally:
        context.close()
