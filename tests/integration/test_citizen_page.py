"""The citizen page on the running stack: a citizen files a report in Chromium (web channel), the
engine routes it to the Road directorate, the directorate asks for information ("Vatandaştan
bilgi gerekli"), the citizen answers on the track page, and the directorate's task comes back.
Screenshots go to <DATA_DIR>/screenshots/citizen-page-stack-*.png."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from services.operaton import Operaton
from tests.browser import chromium, screenshots
from tests.conftest import API_URL
from tests.integration.citizen import TURKISH_DESCRIPTION, events, instance_of, wait_mail, wait_status
from tests.integration.tasklist import complete, wait_for_task

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser(stack: None) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        base_url=API_URL,
        viewport={"width": 390, "height": 844},
        locale="tr-TR",
        timezone_id="Europe/Istanbul",
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    outside: list[str] = []

    def only_ours(route: Route) -> None:
        if route.request.url.startswith(API_URL):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    try:
        yield context.new_page()
        assert outside == [], f"requests to outside hosts: {outside}"
    finally:
        context.close()


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"citizen-page-stack-{name}.png"), full_page=True)


def test_a_report_filed_on_the_page_is_routed_and_the_citizen_answers_the_question_there(
    page: Page, engine: Operaton, mailbox_dir: Path
) -> None:
    email = f"ayse.{uuid.uuid4().hex[:8]}@vatandas.local"
    page.goto("/basvuru?ara=çukur")
    page.get_by_role("link", name="Yolda çukur / asfalt bozulması").click()
    page.get_by_label("Şikâyet").check()
    page.get_by_label("Açıklama").fill(TURKISH_DESCRIPTION)
    page.get_by_label("Açık adres").fill("Gazi Mah. Şehit İlhan Sk. No:4, Yenişehir/Mersin")
    page.get_by_label("İlçe").fill("Yenişehir")
    page.get_by_label("Ad soyad").fill("Ayşe Yıldırım Öztürk")
    page.get_by_role("textbox", name="E-posta (isteğe bağlı)").fill(email)
    page.get_by_role("radio", name="E-posta").check()
    page.locator("#f-kvkk").check()
    page.get_by_role("button", name="Başvuruyu gönder").click()  # the page's proof-of-work first
    expect(page.get_by_role("heading", level=1)).to_have_text("Başvurunuz alındı")
    tracking = page.locator("#takip-no").inner_text()
    _screenshot(page, "success")

    # The engine routes it to the Road directorate, whose staff ask the citizen for information.
    instance = instance_of(tracking)
    wait_status(tracking, "mudurlukte")
    question = "Çukur hangi binanın önünde, yazar mısınız?"
    first = complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "bilgi-gerekli", "question": question},
        assignee="yol.personel",
    )
    wait_mail(mailbox_dir, to=email, containing=question)
    wait_status(tracking, "bilgi-bekleniyor")

    page.goto("/takip")
    page.get_by_label("Takip numarası").fill(tracking)
    page.get_by_role("button", name="Göster").click()
    expect(page.locator("#durum")).to_have_text("Sizden bilgi bekleniyor")
    _screenshot(page, "information-requested")
    page.get_by_label("Yanıtınız").fill("Gül Apartmanı'nın önünde, İnönü Caddesi köşesinde.")
    page.get_by_role("button", name="Yanıtı gönder").click()
    expect(page.locator(".notice-success")).to_contain_text("Yanıtınız ilgili müdürlüğe iletildi")

    # The process goes on: the directorate's task is back with the answer.
    again = wait_for_task(engine, instance, "talebi-degerlendir")
    assert again.id and again.id != first.id
    assert any(e["event"] == "vatandas-yanitladi" for e in events(tracking))
    row = wait_status(tracking, "mudurlukte")
    assert row["channel"] == "web"
