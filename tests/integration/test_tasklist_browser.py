"""A directorate's staff member does "Talebi değerlendir" in Operaton's Tasklist, in a real browser.

Playwright drives Debian's Chromium (never a downloaded browser) against the running engine: the
person reads the Tasklist address and the request number in the directorate's mail, signs in at
Keycloak,
searches the task by that number, opens it, sees the Turkish form, claims the task, chooses
"Yapıldı", writes what was done and completes it. The engine then has moved on to Public
Relations' "Kapatma kontrolü". Screenshots go to <DATA_DIR>/screenshots/, among them the
directorate's list sorted by due date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from services.operaton import Operaton
from tests.browser import chromium, screenshots
from tests.conftest import REPO
from tests.integration.citizen import body_of, instance_of, submit, wait_mail, wait_status
from tests.integration.tasklist import person, poll, wait_for_task

FORM = REPO / "bpmn" / "forms" / "talebi-degerlendir.form"
WAIT_MS = 30_000
RESOLUTION = "Çukur sıcak asfaltla dolduruldu; şerit trafiğe açıldı."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    # A Turkish staff member's browser (Tasklist answers every browser in Turkish, see
    # deploy/engine .../app/tasklist/scripts/config.js), in Türkiye's time zone.
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="tr-TR", timezone_id="Europe/Istanbul"
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)  # an AngularJS app: every wait is on a selector
    try:
        yield context.new_page()
    finally:
        context.close()


def _labels(form_file: Path) -> dict[str, str]:
    """The form's field labels by variable name, as the process owner wrote them."""
    components = json.loads(form_file.read_text(encoding="utf-8"))["components"]
    return {c["key"]: c["label"] for c in components if "key" in c and "label" in c}


def test_staff_complete_the_assessment_in_tasklist(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, page: Page
) -> None:
    tracking, _ = submit(api)
    instance = instance_of(tracking)
    request_id = str(wait_status(tracking, "mudurlukte")["id"])
    task = wait_for_task(engine, instance, "talebi-degerlendir")
    labels = _labels(FORM)
    outcome_label, resolution_label = labels["outcome"], labels["resolution"]
    assert (outcome_label, resolution_label) == ("Sonuç", "Yapılan iş")

    # The directorate's mail says where to go and which request it is.
    (notice,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=request_id)
    link = re.search(r"Görevi Tasklist'te açın: (\S+)", body_of(notice))
    assert link, body_of(notice)
    tasklist_url = link.group(1)

    # Sign in as the Road directorate's staff member, at the municipality's sign-in (Keycloak).
    page.goto(tasklist_url)
    page.locator("#username").fill("yol.personel")
    page.locator("#password").fill("demo")
    page.locator("#kc-login").click()
    expect(page.get_by_text("Yol Bakım Personeli")).to_be_visible()

    # The directorate's open work, by due date: what is late comes first.
    page.locator("ol.tasks-list li.task").first.wait_for()
    expect(page.locator(".task-filter.active").first).to_contain_text("Müdürlüğümün açık işleri")
    sorting = page.locator("ol.sorting-choice li.sorting-choice").first
    sorting.locator(".dropdown-toggle").click()
    sorting.locator("ul.dropdown-menu a", has_text="Son tarih").first.click()
    expect(sorting.locator(".sort-by")).to_have_text("Son tarih")
    direction = sorting.locator("a.sort-direction")
    if "glyphicon-menu-down" in (direction.get_attribute("class") or ""):
        direction.click()
    expect(direction).to_have_class(re.compile("glyphicon-menu-up"))
    due = {
        t.name: t.due for t in person("yol.personel").tasks(candidateGroup="mudurluk-yol", maxResults=1000)
    }

    def in_due_date_order() -> list[str] | None:
        # The first page of the list (its 15 earliest), once Tasklist has re-read it.
        listed = [n.strip() for n in page.locator("ol.tasks-list li.task h4.task a").all_inner_texts()]
        shown = [when for name in listed if (when := due.get(name))]
        return listed if len(shown) >= 2 and shown == sorted(shown, key=datetime.fromisoformat) else None

    poll(in_due_date_order, what="Tasklist's list in due-date order", timeout=30)
    page.screenshot(path=str(screenshots() / "tasklist-son-tarihe-gore.png"), full_page=True)

    # Find the task: search the list by the request's number (the instance's business key).
    page.get_by_placeholder("Görevleri filtrele").click()
    page.locator("ul.dropdown-menu a[title='Süreç örneği iş anahtarı']").click()
    value = page.locator(".search-container .value-field input")
    value.fill(request_id)
    value.press("Enter")
    found = page.locator("ol.tasks-list li.task")
    expect(found).to_have_count(1)
    expect(found.locator("h4.task a")).to_contain_text(f"Talebi değerlendir — {tracking}")
    found.locator(f"a[href='#/?task={task.id}']").click()

    # The task's own Turkish form, with its fields; read-only until the task is claimed.
    details = page.locator(".task-details")
    expect(details.locator("h2.task")).to_contain_text(f"Talebi değerlendir — {tracking}")
    form = details.locator(".fjs-form")
    outcome_field = form.locator(".fjs-form-field-radio > label.fjs-form-field-label")
    expect(outcome_field).to_have_text(f"{outcome_label}*")  # required
    expect(form.locator(".fjs-form-field-textfield input")).to_have_value(request_id)
    for choice in ("Yapıldı", "Yapılmayacak", "Yanlış müdürlük", "Vatandaştan bilgi gerekli"):
        expect(form.locator(".fjs-form-field-radio label", has_text=choice).first).to_be_visible()
    complete_button = details.locator("button.btn-primary", has_text="Tamamla")
    expect(complete_button).to_be_disabled()

    details.locator("button.claim").click()
    expect(details.locator("button.claim")).to_have_count(0)
    poll(
        lambda: True if engine.tasks(taskId=task.id)[0].assignee == "yol.personel" else None,
        what="the claim to reach the engine",
    )

    # Yapıldı: the "Yapılan iş" field appears (the form's condition), is filled in, completed.
    form.locator(".fjs-form-field-radio label", has_text=re.compile("^Yapıldı$")).click()
    resolution = form.locator(".fjs-form-field-textarea", has_text=resolution_label)
    expect(resolution).to_be_visible()
    resolution.locator("textarea").fill(RESOLUTION)
    expect(complete_button).to_be_enabled()
    page.screenshot(path=str(screenshots() / "tasklist-talebi-degerlendir-form.png"), full_page=True)
    complete_button.click()

    # Tasklist drops the task; the engine has moved on to Public Relations' closure check.
    expect(page.locator(f"ol.tasks-list a[href='#/?task={task.id}']")).to_have_count(0)
    page.screenshot(path=str(screenshots() / "tasklist-talebi-degerlendir-tamamlandi.png"), full_page=True)
    next_task = wait_for_task(engine, instance, "kapatma-kontrolu")
    assert next_task.name.startswith(f"Kapatma kontrolü — {tracking}")
    assert engine.tasks(processInstanceId=instance, taskDefinitionKey="talebi-degerlendir") == []
    assert engine.who_completed(instance, "talebi-degerlendir") == "yol.personel"
    submitted = {
        row["name"]: row["value"]
        for row in engine.historic_variables(processInstanceId=instance)
        if row["name"] in ("outcome", "resolution")
    }
    assert submitted == {"outcome": "yapildi", "resolution": RESOLUTION}
