"""One member of staff's day with a DİF action, in a real browser, signed in once (issue #17, 6).

Headless Chromium, the running stack, the real Keycloak: the Road directorate's staff member
opens the action's task in Tasklist (signing in at Keycloak), follows the form's link to our
evidence page (no second password: single sign-on), uploads a PDF and sees it listed, goes back
to Tasklist, sees the file in the form and completes the action; the DİF moves on to the
director's approval. A Parks staff member is refused the page and the upload (403 naming the
missing permission). One sign-out on our pages ends the Tasklist session too (Keycloak's
back-channel logout), and one in Tasklist ends ours. A Tasklist left open past its session goes
back through Keycloak, never to Operaton's own password form. Screenshots go to
<DATA_DIR>/screenshots/staff-journey-*.png; axe-core checks each of our pages on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from deploy.local import keycloak
from services.config import get_settings
from services.operaton import Operaton
from tests.browser import assert_accessible, chromium, screenshots
from tests.conftest import API_URL
from tests.integration.quality import PDF, action, dif_of, plan, report, tasks_of, wait_dif_status
from tests.integration.tasklist import poll

WAIT_MS = 30_000
ISSUER = keycloak.Instance.from_env().issuer
TASKLIST = f"{get_settings().engine_rest_url.removesuffix('/engine-rest')}/operaton/app/tasklist/default/"
FINDING = "Ağaç budama ekibinin Gülnar yolundaki şikâyetlere iki haftadır gitmediği görüldü."
COMPLETION = "Ekip rotası güncellendi; Gülnar yolu haftada iki gün."


@pytest.fixture(scope="module")
def browser(stack: None) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _context(browser: Browser) -> BrowserContext:
    opened = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="tr-TR", timezone_id="Europe/Istanbul"
    )
    opened.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    return opened


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = _context(browser)
    try:
        yield opened
    finally:
        opened.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"staff-journey-{name}.png"), full_page=True)


def _sign_in_at_keycloak(page: Page, username: str) -> None:
    page.wait_for_url(f"{ISSUER}/**")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("#kc-login").click()


def _tasklist_session(page: Page) -> int:
    """The web apps' own check of the session, as Tasklist makes it on every start."""
    engine = TASKLIST.split("/operaton/")[0]
    return page.request.get(f"{engine}/operaton/api/admin/auth/user/default", max_redirects=0).status


def _staff_session(page: Page) -> int:
    return page.request.get(f"{API_URL}/personel/", max_redirects=0).status


@pytest.fixture()
def road_action(api: httpx.Client, engine: Operaton) -> Iterator[dict[str, Any]]:
    """A Road DİF planned by its director with one action for yol.personel, waiting in Tasklist."""
    nc = report(api, directorate="YOL", description=FINDING)
    dif = dif_of(nc["id"])
    instance = str(dif["process_instance_id"])
    due = (date.today() + timedelta(days=10)).isoformat()
    plan(engine, instance, [action("Budama ekibinin rotası Gülnar yolunu kapsasın.", due)])
    (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
    (action_id,) = [a["id"] for a in api.get(f"/difs/{dif['id']}").json()["actions"]]
    yield {"dif": dif, "instance": instance, "task": task, "action_id": action_id}
    if engine.json("GET", "/process-instance", params={"processInstanceIds": instance}):
        engine.call("DELETE", f"/process-instance/{instance}", params={"skipCustomListeners": "true"})


def test_staff_work_an_action_in_tasklist_and_our_pages_signed_in_once(
    browser: Browser, context: BrowserContext, road_action: dict[str, Any], api: httpx.Client, tmp_path: Path
) -> None:
    dif, task, action_id = road_action["dif"], road_action["task"], road_action["action_id"]
    evidence_path = f"/personel/dif/{dif['id']}/eylem/{action_id}/kanit"
    page = context.new_page()

    # The task's link (as the reminder mail gives it): Tasklist sends the browser to Keycloak.
    page.goto(f"{TASKLIST}#/?task={task.id}")
    _sign_in_at_keycloak(page, "yol.personel")
    page.wait_for_url(f"{TASKLIST}**")
    details = page.locator(".task-details")
    expect(details.locator("h2.task")).to_contain_text("Eylemi gerçekleştir")
    form = details.locator(".fjs-form")
    expect(form).to_contain_text(f"DİF {dif['number']}")
    expect(form).to_contain_text("Henüz kanıt yüklenmedi")
    _shot(page, "tasklist-eylem")

    # The form's link to the evidence page: our page opens without a second password.
    link = form.get_by_role("link", name="Kanıt sayfasını açın")
    assert link.get_attribute("href") == f"{API_URL}{evidence_path}"
    if link.get_attribute("target") == "_blank":
        with context.expect_page() as opened:
            link.click()
        evidence = opened.value
    else:
        link.click()
        evidence = page
    evidence.wait_for_url(f"{API_URL}{evidence_path}")
    expect(evidence.get_by_role("heading", level=1)).to_have_text("Eylem kanıtları")
    expect(evidence.locator(".facts")).to_contain_text(dif["number"])
    assert_accessible(evidence, "evidence-empty")

    # Upload a PDF: listed with its name, size and SHA-256.
    scan = tmp_path / "budama-tutanağı.pdf"
    scan.write_bytes(PDF)
    evidence.locator("#f-dosya").set_input_files(str(scan))
    evidence.get_by_role("button", name="Yükle").click()
    listed = evidence.locator("table.evidence")
    expect(listed).to_contain_text("budama-tutanağı.pdf")
    expect(listed).to_contain_text("yol.personel")
    assert_accessible(evidence, "evidence-listed")
    _shot(evidence, "kanit-yuklendi")

    # Back in Tasklist: the form lists the file (the page refreshed the task's variable), and the
    # action is completed there.
    page.bring_to_front()
    page.goto(f"{TASKLIST}#/?task={task.id}")
    page.reload()
    expect(form).to_contain_text("budama-tutanağı.pdf")
    form.locator(".fjs-form-field-textarea textarea").fill(COMPLETION)
    complete = details.locator("button.btn-primary", has_text="Tamamla")
    expect(complete).to_be_enabled()
    _shot(page, "tasklist-tamamla")
    complete.click()
    expect(page.locator(f"ol.tasks-list a[href='#/?task={task.id}']")).to_have_count(0)

    # The DİF is at the director's approval.
    moved = wait_dif_status(api, dif["id"], "mudur-onayinda")
    assert moved["actions"][0]["status"] == "tamamlandi"
    assert moved["actions"][0]["completedBy"] == "yol.personel"
    assert moved["actions"][0]["completionNote"] == COMPLETION
    evidence.goto(f"{API_URL}/personel/dif/{dif['id']}")
    expect(evidence.locator("main")).to_contain_text("Müdür onayında")
    assert_accessible(evidence, "dif-file")
    _shot(evidence, "dif-mudur-onayinda")

    # Another directorate's staff member: refused the page and the upload, the permission named.
    other = _context(browser)
    try:
        stranger = other.new_page()
        stranger.goto(f"{API_URL}{evidence_path}")
        _sign_in_at_keycloak(stranger, "park.personel")
        stranger.wait_for_url(f"{API_URL}{evidence_path}")
        expect(stranger.get_by_role("heading", level=1)).to_have_text("Bu işlem için yetkiniz yok")
        expect(stranger.locator(".permission")).to_have_text("difs:read-all")
        assert_accessible(stranger, "forbidden")
        _shot(stranger, "baska-mudurluk")
        stranger.goto(f"{API_URL}/personel/")
        csrf = stranger.locator("input[name=csrf]").first.get_attribute("value")
        refused = stranger.request.post(
            f"{API_URL}{evidence_path}",
            multipart={
                "csrf": str(csrf),
                "dosya": {"name": "park.pdf", "mimeType": "application/pdf", "buffer": PDF},
            },
            max_redirects=0,
        )
        assert refused.status == 403 and "difs:read-all" in refused.text()
        files = api.get(f"/difs/{dif['id']}").json()["actions"][0]["evidence"]
        assert [f["fileName"] for f in files] == ["budama-tutanağı.pdf"]
    finally:
        other.close()

    # One sign-out on our pages: Keycloak's session ends, and by its back-channel logout the
    # Tasklist session too.
    assert _tasklist_session(page) == 200 and _staff_session(evidence) == 200
    evidence.goto(f"{API_URL}/personel/")
    evidence.get_by_role("button", name="Çıkış yap").click()
    evidence.wait_for_url(f"{ISSUER}/**")
    assert _staff_session(evidence) == 303
    poll(lambda: True if _tasklist_session(page) == 401 else None, what="Tasklist's logout", timeout=20)
    # A tab of its own: the open Tasklist may be on its way to Keycloak already (sso.js).
    again = context.new_page()
    again.goto(TASKLIST)
    again.wait_for_url(f"{ISSUER}/**")
    _shot(again, "cikis-sonrasi-tasklist")


def test_a_sign_out_in_tasklist_ends_the_staff_pages_session(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{API_URL}/personel/")
    _sign_in_at_keycloak(page, "yol.personel")
    page.wait_for_url(f"{API_URL}/personel/")
    page.goto(TASKLIST)  # single sign-on: no password asked
    expect(page.get_by_text("Yol Bakım Personeli").first).to_be_visible()
    assert _staff_session(page) == 200

    page.locator("li.account .dropdown-toggle").first.click()
    page.locator("li.logout a").first.click()
    page.wait_for_url(re.compile(f"^{re.escape(ISSUER)}/"))
    poll(lambda: True if _staff_session(page) == 303 else None, what="the staff session to end", timeout=20)
    page.goto(f"{API_URL}/personel/")
    page.wait_for_url(f"{ISSUER}/**")


def test_a_tasklist_left_open_past_its_session_signs_in_again_at_keycloak(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(TASKLIST)
    _sign_in_at_keycloak(page, "yol.personel")
    page.wait_for_url(f"{TASKLIST}**")
    expect(page.get_by_text("Yol Bakım Personeli").first).to_be_visible()

    # The engine's session ends (its idle timeout, a restart) while Keycloak's lives on: the next
    # click would show Operaton's own password form; the tab signs in again through Keycloak.
    context.clear_cookies(name="JSESSIONID")
    page.locator(".task-filter", has_text="Bana atananlar").click()
    poll(lambda: True if _tasklist_session(page) == 200 else None, what="a new Tasklist session", timeout=30)
    expect(page.locator(".task-filter", has_text="Süresi geçenler")).to_be_visible()
    expect(page.get_by_text("Yol Bakım Personeli").first).to_be_visible()
    expect(page.locator("input[type=password]")).to_have_count(0)
    assert "#/login" not in page.url

    # Both sessions over: the next click lands on Keycloak's sign-in form, not Operaton's.
    context.clear_cookies()
    page.locator(".task-filter", has_text="Süresi geçenler").click()
    expect(page).to_have_url(re.compile(f"^{re.escape(ISSUER)}/"))
    expect(page.locator("#kc-login")).to_be_visible()
    _shot(page, "oturum-bitti-keycloak")
