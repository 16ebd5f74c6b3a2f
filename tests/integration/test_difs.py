"""DİF (clauses 5.2, 5.4, 7) on the real engine, PostgreSQL and SMTP: plan, parallel actions with
evidence, the director's approval or send-back, the IMS office's verification, escalations,
archive with its retention, and the Corrective and Preventive Actions Report (XLSX, PDF)."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.integration.camunda_web import CamundaWeb, poll
from tests.integration.citizen import body_of, complete, wait_mail
from tests.integration.modeler import edited
from tests.integration.quality import (
    PDF,
    action,
    dif_of,
    plan,
    query,
    report,
    task_variable,
    task_variables,
    tasks_of,
    upload,
    wait_dif_status,
)

REPO = Path(__file__).resolve().parents[2]
IN_A_WEEK = (date.today() + timedelta(days=7)).isoformat()


def _open_dif(api: httpx.Client, directorate: str = "TEMIZLIK") -> tuple[dict[str, Any], int]:
    nc = report(api, directorate=directorate)
    dif = dif_of(nc["id"])
    return dif, int(dif["process_instance_id"])


def _action_ids(api: httpx.Client, dif_id: Any) -> list[str]:
    return [a["id"] for a in api.get(f"/difs/{dif_id}").json()["actions"]]


def _next_task(camunda: CamundaWeb, instance: int, element: str, seen: set[str]) -> dict[str, Any]:
    """The open task of this step that is not one already handled (a step that came back)."""
    return poll(
        lambda: next(
            (
                t
                for t in camunda.search_tasks(
                    processInstanceKey=str(instance), taskDefinitionId=element, state="CREATED"
                )
                if t["id"] not in seen
            ),
            None,
        ),
        what=f"a new {element} task",
    )


def _finish(camunda: CamundaWeb, task: dict[str, Any], variables: dict[str, Any]) -> None:
    if task.get("assignee") != "demo":
        camunda.assign_task(task["id"], "demo")
    camunda.complete_task(task["id"], variables)


def test_dif_with_one_action_is_planned_done_with_evidence_approved_verified_and_archived(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
) -> None:
    dif, instance = _open_dif(api)
    plan(
        camunda,
        instance,
        [action("Toplama rotası İğdır caddesini de kapsayacak biçimde güncellensin.", IN_A_WEEK)],
    )
    (task,) = tasks_of(camunda, instance, "eylemi-gerceklestir", 1)
    assert task["assignee"] == "demo" and task["candidateGroups"] == ["mudurluk-temizlik"]
    (action_id,) = _action_ids(api, dif["id"])

    uploaded = upload(api, dif["id"], action_id)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    listed = poll(
        lambda: v if (v := task_variables(camunda, task["id"]).get("evidenceByAction")) else None,
        what="the evidence list in the task's form variables",
    )
    assert "tutanak-çöp-toplama.pdf" in listed[action_id]

    _finish(camunda, task, {"completionNote": "Rota güncellendi; İğdır caddesi haftada üç gün."})
    approval = camunda.wait_for_task(instance, "mudur-onayi")
    assert approval["candidateGroups"] == ["mudur-temizlik"]
    assert "İğdır caddesini" in task_variable(camunda, approval["id"], "actionSummary")
    complete(
        camunda, instance, "mudur-onayi", {"approvalDecision": "onayla", "approvalComment": "Kanıt yeterli."}
    )
    verification = camunda.wait_for_task(instance, "eys-dogrulama")
    assert verification["candidateGroups"] == ["eys-sefligi"]
    complete(
        camunda,
        instance,
        "eys-dogrulama",
        {"verificationDecision": "kapat", "verificationComment": "Şikâyetler bitti; etkin."},
    )

    closed = wait_dif_status(api, dif["id"], "kapatildi")
    camunda.wait_for_instance_state(instance, "COMPLETED")
    retained = datetime.fromisoformat(closed["retentionUntil"])
    assert retained.year - datetime.fromisoformat(closed["closedAt"]).year == 20
    assert [(a["step"], a["decision"], a["actor"]) for a in closed["approvals"]] == [
        ("mudur-onayi", "onayla", "demo"),
        ("eys-dogrulama", "kapat", "demo"),
    ]
    assert closed["actions"][0]["status"] == "tamamlandi" and closed["actions"][0]["completedBy"] == "demo"
    archive = query("SELECT sha256, retention_until FROM dif_archives WHERE dif_id = :d", d=str(dif["id"]))
    assert archive and archive[0]["retention_until"] == retained
    assert (
        query(
            "SELECT n.status FROM nonconformities n JOIN findings f ON f.nonconformity_id = n.id "
            "JOIN difs d ON d.finding_id = f.id WHERE d.id = :d",
            d=str(dif["id"]),
        )[0]["status"]
        == "kapatildi"
    )

    # Under retention: nothing can be deleted or changed.
    refused = api.delete(f"/difs/{dif['id']}")
    assert refused.status_code == 409 and "saklama süresi" in refused.json()["detail"]
    assert api.delete(f"/nonconformities/{closed['nonconformityId']}").status_code == 409
    (evidence_id,) = [e["id"] for e in closed["actions"][0]["evidence"]]
    assert api.delete(f"/difs/{dif['id']}/evidence/{evidence_id}", params={"by": "demo"}).status_code == 409
    assert upload(api, dif["id"], action_id).status_code == 409

    pdf = api.get(f"/difs/{dif['id']}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        dif["number"],
        "Temizlik İşleri Müdürlüğü",
        "İğdır caddesini",
        "tutanak-çöp-toplama.pdf",
        "Şikâyetler bitti; etkin.",
        "Kök neden",
        "Düzeltici/İyileştirici Faaliyet",
    ):
        assert expected in text, expected


def test_dif_with_three_actions_send_back_and_ims_return(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
) -> None:
    dif, instance = _open_dif(api, directorate="PARK")
    plan(
        camunda,
        instance,
        [
            action("Oyun grubu bakım çizelgesi oluşturulsun.", IN_A_WEEK),
            action("Kırık salıncak zinciri değiştirilsin.", IN_A_WEEK),
            action("Bakım ekibine güvenlik eğitimi verilsin.", IN_A_WEEK),
        ],
        root_cause="Periyodik bakım planı yok; arızalar ancak şikâyetle fark ediliyor.",
    )
    tasks = tasks_of(camunda, instance, "eylemi-gerceklestir", 3)
    assert len(tasks) == 3  # one per action, in parallel
    ids = _action_ids(api, dif["id"])
    handled: set[str] = set()

    # Closing an action without evidence is refused: the task comes back with the reason.
    by_action = {task_variable(camunda, t["id"], "action")["actionId"]: t for t in tasks}
    _finish(camunda, by_action[ids[0]], {"completionNote": "Çizelge hazır."})
    handled.add(by_action[ids[0]]["id"])
    back = _next_task(camunda, instance, "eylemi-gerceklestir", {t["id"] for t in tasks})
    assert task_variable(camunda, back["id"], "inputError").startswith("Kanıt yüklenmeden eylem kapatılamaz")
    by_action[ids[0]] = back

    for action_id in ids:
        assert upload(api, dif["id"], action_id, name=f"kanıt-{action_id[:4]}.pdf").status_code == 201
    for action_id in ids:
        _finish(camunda, by_action[action_id], {"completionNote": "Yapıldı, fotoğraflı tutanak yüklendi."})
        handled.add(by_action[action_id]["id"])

    # The director sends the second action back; only it comes back.
    approval = camunda.wait_for_task(instance, "mudur-onayi")
    options = task_variable(camunda, approval["id"], "actionOptions")
    assert [o["value"] for o in options] == ids
    complete(
        camunda,
        instance,
        "mudur-onayi",
        {
            "approvalDecision": "geri-gonder",
            "sendBackActions": [ids[1]],
            "approvalComment": "Zincir fotoğrafı eksik.",
        },
    )
    redo = _next_task(camunda, instance, "eylemi-gerceklestir", handled)
    assert task_variable(camunda, redo["id"], "action")["actionId"] == ids[1]
    detail = api.get(f"/difs/{dif['id']}").json()
    assert [a["status"] for a in detail["actions"]] == ["tamamlandi", "geri-gonderildi", "tamamlandi"]
    _finish(camunda, redo, {"completionNote": "Yeni zincirin fotoğrafı eklendi."})

    # Approved; the IMS office returns it to the director with a reason; approved and closed.
    first_approval = _next_task(camunda, instance, "mudur-onayi", {approval["id"]})
    _finish(camunda, first_approval, {"approvalDecision": "onayla", "approvalComment": "Tamam."})
    first_verification = complete(
        camunda,
        instance,
        "eys-dogrulama",
        {"verificationDecision": "geri-gonder", "verificationComment": "Eğitim katılım listesi eksik."},
    )
    returned = _next_task(camunda, instance, "mudur-onayi", {approval["id"], first_approval["id"]})
    assert task_variable(camunda, returned["id"], "verificationComment") == "Eğitim katılım listesi eksik."
    _finish(camunda, returned, {"approvalDecision": "onayla", "approvalComment": "Katılım listesi eklendi."})
    verification = _next_task(camunda, instance, "eys-dogrulama", {first_verification["id"]})
    _finish(camunda, verification, {"verificationDecision": "kapat", "verificationComment": "Etkin."})
    closed = wait_dif_status(api, dif["id"], "kapatildi")
    assert [(a["step"], a["decision"]) for a in closed["approvals"]] == [
        ("mudur-onayi", "geri-gonder"),
        ("mudur-onayi", "onayla"),
        ("eys-dogrulama", "geri-gonder"),
        ("mudur-onayi", "onayla"),
        ("eys-dogrulama", "kapat"),
    ]

    register = api.get("/difs/register.xlsx", params={"directorate": "PARK", "status": "kapatildi"})
    assert register.status_code == 200
    sheet = load_workbook(io.BytesIO(register.content)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    header, data = rows[0], rows[1:]
    assert header[:3] == ["DİF no", "Müdürlük", "Durum"]
    mine = next(r for r in data if r[0] == dif["number"])
    assert mine[1] == "Park ve Bahçeler Müdürlüğü" and mine[2] == "Kapatıldı"
    assert mine[10] == "Periyodik bakım planı yok; arızalar ancak şikâyetle fark ediliyor."
    assert (mine[11], mine[12], mine[14]) == (3, 3, 3)
    assert all(r[1] == "Park ve Bahçeler Müdürlüğü" and r[2] == "Kapatıldı" for r in data)


def test_a_plan_with_a_past_due_date_goes_back_to_the_director(
    api: httpx.Client, camunda: CamundaWeb
) -> None:
    dif, instance = _open_dif(api)
    first = plan(
        camunda,
        instance,
        [action("Konteyner sayısı artırılsın.", (date.today() - timedelta(days=1)).isoformat())],
    )
    again = _next_task(camunda, instance, "eylemleri-planla", {first["id"]})
    assert task_variable(camunda, again["id"], "inputError") == "Eylem 1: son tarih geçmişte olamaz."
    assert api.get(f"/difs/{dif['id']}").json()["actions"] == []
    _finish(
        camunda,
        again,
        {"rootCause": "Kapasite yetersiz.", "actions": [action("Konteyner sayısı artırılsın.", IN_A_WEEK)]},
    )
    tasks_of(camunda, instance, "eylemi-gerceklestir", 1)


def test_evidence_round_trip_and_refusals(api: httpx.Client, camunda: CamundaWeb) -> None:
    dif, instance = _open_dif(api)
    plan(camunda, instance, [action("Saha fotoğrafları çekilsin.", IN_A_WEEK)])
    tasks_of(camunda, instance, "eylemi-gerceklestir", 1)
    (action_id,) = _action_ids(api, dif["id"])
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    stored = upload(
        api, dif["id"], action_id, photo, name="fotoğraf-İzmir-çıkışı.png", content_type="image/png"
    )
    assert stored.status_code == 201, stored.text
    back = api.get(f"/difs/{dif['id']}/evidence/{stored.json()['id']}")
    assert back.content == photo
    assert (
        hashlib.sha256(back.content).hexdigest()
        == stored.json()["sha256"]
        == back.headers["x-content-sha256"]
    )
    assert (
        "fotoğraf-İzmir-çıkışı.png"
        in httpx.QueryParams("n=" + back.headers["content-disposition"].split("''", 1)[1])["n"]
    )

    too_big = upload(api, dif["id"], action_id, b"%PDF-" + b"0" * (20 * 1024 * 1024), name="büyük.pdf")
    assert too_big.status_code == 413 and "larger than" in too_big.text
    exe = upload(
        api, dif["id"], action_id, b"MZ\x90\x00", name="kanit.exe", content_type="application/x-msdownload"
    )
    assert exe.status_code == 415 and "not allowed" in exe.text
    fake = upload(api, dif["id"], action_id, b"MZ\x90\x00 not a pdf", name="kanit.pdf")
    assert fake.status_code == 415 and "content is not application/pdf" in fake.text
    assert upload(api, dif["id"], "00000000-0000-0000-0000-000000000000").status_code == 404
    files = api.get(f"/difs/{dif['id']}").json()["actions"][0]["evidence"]
    assert [f["fileName"] for f in files] == ["fotoğraf-İzmir-çıkışı.png"]  # refused uploads left nothing

    # A wrong upload may be taken back while the action is open.
    wrong = upload(api, dif["id"], action_id, name="yanlış-dosya.pdf")
    assert (
        api.delete(f"/difs/{dif['id']}/evidence/{wrong.json()['id']}", params={"by": "demo"}).status_code
        == 204
    )
    assert len(api.get(f"/difs/{dif['id']}").json()["actions"][0]["evidence"]) == 1


@pytest.fixture()
def short_dif_durations(tmp_path: Path) -> Iterator[None]:
    """A process owner shortens the DİF's reminder and escalation intervals in Modeler; then undoes it."""

    def shorten(xml: str) -> str:
        changed = re.sub(r'source="=(&#34;|&quot;)P\dD(&#34;|&quot;)"', r'source="=\1PT4S\2"', xml)
        assert changed.count("PT4S") == 2, "the DİF's tunable intervals were not found"
        return changed

    with edited("dif.bpmn", shorten, tmp_path / "bpmn"):
        yield


def test_overdue_action_reminds_its_owner_then_the_director_and_a_stalled_approval_climbs_level_by_level(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path, short_dif_durations: None
) -> None:
    # The administrator keeps the catalogue: who the head of department is comes from there.
    zabita = next(d for d in api.get("/catalogue/directorates").json() if d["code"] == "ZABITA")
    zabita.pop("code")
    assert (
        api.put(
            "/catalogue/directorates/ZABITA", json={**zabita, "headEmail": "zabita.baskan@belediye.local"}
        ).status_code
        == 200
    )
    dif, instance = _open_dif(api, directorate="ZABITA")
    camunda.wait_for_task(instance, "eylemleri-planla")
    due = (datetime.now(UTC) + timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan(camunda, instance, [action("Pazar yeri denetimi yapılsın.", due, responsible="zabita.ali")])
    (task,) = tasks_of(camunda, instance, "eylemi-gerceklestir", 1)
    assert task["assignee"] == "zabita.ali"

    (reminder,) = wait_mail(mailbox_dir, to="zabita.ali.personel@belediye.local", containing=dif["number"])
    assert "son tarihi" in body_of(reminder) and "Pazar yeri denetimi" in body_of(reminder)
    escalated = wait_mail(
        mailbox_dir,
        to="zabita.mudur@belediye.local",
        containing=f"Geciken DİF eylemi: {dif['number']}",
        timeout=30,
    )
    assert "zabita.ali" in body_of(escalated[0])

    (action_id,) = _action_ids(api, dif["id"])
    upload(api, dif["id"], action_id)
    _finish(camunda, task, {"completionNote": "Denetim yapıldı."})
    camunda.wait_for_task(instance, "mudur-onayi")

    # Nobody approves: head of department first, then the IMS office, which keeps being told.
    (head,) = wait_mail(mailbox_dir, to="zabita.baskan@belediye.local", containing=dif["number"], timeout=30)
    assert "1. yükseltme" in str(head["Subject"])
    ims = wait_mail(mailbox_dir, to="eys@belediye.local", containing=dif["number"], count=2, timeout=40)
    subjects = " ".join(str(m["Subject"]) for m in ims)
    assert "2. yükseltme" in subjects and "3. yükseltme" in subjects
    complete(
        camunda,
        instance,
        "mudur-onayi",
        {"approvalDecision": "onayla", "approvalComment": "Geç de olsa onaylandı."},
    )
    camunda.wait_for_task(instance, "eys-dogrulama")

    recorded = api.get(f"/difs/{dif['id']}").json()["escalations"]
    levels = [(e["kind"], e["level"]) for e in recorded]
    assert levels[:2] == [("eylem-hatirlatma", "sorumlu"), ("eylem-gecikmesi", "mudur")]
    approvals = [level for kind, level in levels if kind == "onay"]
    assert approvals[:3] == ["daire-baskani", "eys-sefligi", "eys-sefligi"]
    overdue_listed = api.get("/difs", params={"directorate": "ZABITA", "overdue": True}).json()["items"]
    assert dif["id"] not in [d["id"] for d in overdue_listed]  # its action is done now


def test_approvals_without_what_they_need_go_back_with_the_reason(
    api: httpx.Client, camunda: CamundaWeb
) -> None:
    dif, instance = _open_dif(api)
    plan(camunda, instance, [action("Konteyner yerleri işaretlensin.", IN_A_WEEK)])
    (task,) = tasks_of(camunda, instance, "eylemi-gerceklestir", 1)
    (action_id,) = _action_ids(api, dif["id"])
    assert upload(api, dif["id"], action_id).status_code == 201
    _finish(camunda, task, {"completionNote": "İşaretlendi."})

    # Sending back without choosing an action: the director gets the task back with the reason.
    first = complete(
        camunda,
        instance,
        "mudur-onayi",
        {"approvalDecision": "geri-gonder", "sendBackActions": [], "approvalComment": "Eksik var."},
    )
    again = _next_task(camunda, instance, "mudur-onayi", {first["id"]})
    assert task_variable(camunda, again["id"], "inputError") == "Geri gönderilecek en az bir eylem seçilmeli."
    _finish(camunda, again, {"approvalDecision": "onayla", "approvalComment": "Uygun."})

    # Verifying without a comment: back to the IMS office.
    verification = complete(
        camunda, instance, "eys-dogrulama", {"verificationDecision": "kapat", "verificationComment": ""}
    )
    back = _next_task(camunda, instance, "eys-dogrulama", {verification["id"]})
    assert task_variable(camunda, back["id"], "inputError") == "Kararın gerekçesi / açıklaması yazılmalı."
    _finish(camunda, back, {"verificationDecision": "kapat", "verificationComment": "Etkin bulundu."})
    closed = wait_dif_status(api, dif["id"], "kapatildi")
    assert [(a["step"], a["decision"]) for a in closed["approvals"]] == [
        ("mudur-onayi", "onayla"),
        ("eys-dogrulama", "kapat"),
    ]
