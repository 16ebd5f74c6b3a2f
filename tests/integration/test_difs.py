"""DİF (clauses 5.2, 5.4, 7) on the real engine, PostgreSQL and SMTP: plan, parallel actions with
evidence, the director's approval or send-back, the IMS office's verification, escalations,
archive with its retention, and the Corrective and Preventive Actions Report (XLSX, PDF).

Each step is done in Tasklist by its person with their own login: the directorate's director
(yol.mudur, park.mudur) plans and approves, each action's owner (an engine user of the
directorate's staff: yol.personel, park.personel) works their action, the IMS office (eys.uzman)
verifies.
"""

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

from services.operaton import Operaton
from services.process_engine import HumanTask
from tests.integration.citizen import body_of, wait_mail
from tests.integration.modeler import edited
from tests.integration.quality import (
    PDF,
    action,
    candidate_groups,
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
from tests.integration.tasklist import complete, person, poll, wait_for_state, wait_for_task

REPO = Path(__file__).resolve().parents[2]
IN_A_WEEK = (date.today() + timedelta(days=7)).isoformat()
ROAD_FINDING = "Şikâyet kayıtlarında İğdır caddesindeki çukurların üç haftadır kapatılmadığı görüldü."
DIRECTOR = {"YOL": "yol.mudur", "PARK": "park.mudur"}
STAFF = {"YOL": "yol.personel", "PARK": "park.personel"}
IMS_OFFICE = "eys.uzman"


def _open_dif(api: httpx.Client, directorate: str = "YOL") -> tuple[dict[str, Any], str]:
    nc = report(api, directorate=directorate, description=ROAD_FINDING)
    dif = dif_of(nc["id"])
    return dif, str(dif["process_instance_id"])


def _action_ids(api: httpx.Client, dif_id: Any) -> list[str]:
    return [a["id"] for a in api.get(f"/difs/{dif_id}").json()["actions"]]


def _next_task(engine: Operaton, instance: str, activity: str, seen: set[str]) -> HumanTask:
    """The open task of this step that is not one already handled (a step that came back)."""
    return poll(
        lambda: next(
            (
                t
                for t in engine.tasks(processInstanceId=instance, taskDefinitionKey=activity)
                if t.id not in seen
            ),
            None,
        ),
        what=f"a new {activity} task",
    )


def _finish(task: HumanTask, variables: dict[str, Any], user: str) -> None:
    """As this person in Tasklist, on this very task (of several open ones of a step)."""
    tasklist = person(user)
    if task.assignee != user:
        tasklist.claim(task.id, user)
    assert tasklist.deployed_form(task.id).get("components"), f"the form of {task.activity_id} has no fields"
    tasklist.submit_form(task.id, variables)


def test_dif_with_one_action_is_planned_done_with_evidence_approved_verified_and_archived(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    dif, instance = _open_dif(api)
    plan(
        engine,
        instance,
        [
            action(
                "Asfalt yama ekibinin rotası İğdır caddesini de kapsayacak biçimde güncellensin.", IN_A_WEEK
            )
        ],
        root_cause="Yama ekibinin rotası güncel değil.",
    )
    (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
    assert task.assignee == "yol.personel" and candidate_groups(engine, task.id) == ["mudurluk-yol"]
    (action_id,) = _action_ids(api, dif["id"])

    uploaded = upload(api, dif["id"], action_id)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    listed = poll(
        lambda: v if (v := task_variables(person("yol.personel"), task.id).get("evidenceByAction")) else None,
        what="the evidence list in the task's form variables",
    )
    assert "tutanak-çöp-toplama.pdf" in listed[action_id]

    _finish(task, {"completionNote": "Rota güncellendi; İğdır caddesi haftada üç gün."}, "yol.personel")
    approval = wait_for_task(engine, instance, "mudur-onayi")
    assert candidate_groups(engine, approval.id) == ["mudur-yol"]
    assert "İğdır caddesini" in task_variable(engine, approval.id, "actionSummary")
    complete(
        engine,
        instance,
        "mudur-onayi",
        {"approvalDecision": "onayla", "approvalComment": "Kanıt yeterli."},
        assignee="yol.mudur",
    )
    verification = wait_for_task(engine, instance, "eys-dogrulama")
    assert candidate_groups(engine, verification.id) == ["eys-sefligi"]
    complete(
        engine,
        instance,
        "eys-dogrulama",
        {"verificationDecision": "kapat", "verificationComment": "Şikâyetler bitti; etkin."},
        assignee=IMS_OFFICE,
    )

    closed = wait_dif_status(api, dif["id"], "kapatildi")
    wait_for_state(engine, instance, "COMPLETED")
    retained = datetime.fromisoformat(closed["retentionUntil"])
    assert retained.year - datetime.fromisoformat(closed["closedAt"]).year == 20
    assert [(a["step"], a["decision"], a["actor"]) for a in closed["approvals"]] == [
        ("mudur-onayi", "onayla", "yol.mudur"),
        ("eys-dogrulama", "kapat", IMS_OFFICE),
    ]
    assert closed["actions"][0]["status"] == "tamamlandi"
    assert closed["actions"][0]["completedBy"] == "yol.personel"
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
    assert api.delete(f"/difs/{dif['id']}/evidence/{evidence_id}").status_code == 409
    assert upload(api, dif["id"], action_id).status_code == 409

    pdf = api.get(f"/difs/{dif['id']}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        dif["number"],
        "Yol Yapım ve Bakım Dairesi Başkanlığı",
        "İğdır caddesini",
        "tutanak-çöp-toplama.pdf",
        "Şikâyetler bitti; etkin.",
        "Kök neden",
        "Düzeltici/İyileştirici Faaliyet",
    ):
        assert expected in text, expected


def test_dif_with_three_actions_send_back_and_ims_return(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    dif, instance = _open_dif(api, directorate="PARK")
    owner = STAFF["PARK"]
    plan(
        engine,
        instance,
        [
            action("Oyun grubu bakım çizelgesi oluşturulsun.", IN_A_WEEK, responsible=owner),
            action("Kırık salıncak zinciri değiştirilsin.", IN_A_WEEK, responsible=owner),
            action("Bakım ekibine güvenlik eğitimi verilsin.", IN_A_WEEK, responsible=owner),
        ],
        root_cause="Periyodik bakım planı yok; arızalar ancak şikâyetle fark ediliyor.",
        director=DIRECTOR["PARK"],
    )
    tasks = tasks_of(engine, instance, "eylemi-gerceklestir", 3)
    assert len(tasks) == 3  # one per action, in parallel
    ids = _action_ids(api, dif["id"])
    handled: set[str] = set()

    # Closing an action without evidence is refused: the task comes back with the reason.
    by_action = {task_variable(engine, t.id, "action")["actionId"]: t for t in tasks}
    _finish(by_action[ids[0]], {"completionNote": "Çizelge hazır."}, owner)
    handled.add(by_action[ids[0]].id)
    back = _next_task(engine, instance, "eylemi-gerceklestir", {t.id for t in tasks})
    assert task_variable(engine, back.id, "inputError").startswith("Kanıt yüklenmeden eylem kapatılamaz")
    by_action[ids[0]] = back

    for action_id in ids:
        assert upload(api, dif["id"], action_id, name=f"kanıt-{action_id[:4]}.pdf").status_code == 201
    for action_id in ids:
        _finish(by_action[action_id], {"completionNote": "Yapıldı, fotoğraflı tutanak yüklendi."}, owner)
        handled.add(by_action[action_id].id)

    # The director sends the second action back; only it comes back.
    approval = wait_for_task(engine, instance, "mudur-onayi")
    options = task_variable(engine, approval.id, "actionOptions")
    assert [o["value"] for o in options] == ids
    complete(
        engine,
        instance,
        "mudur-onayi",
        {
            "approvalDecision": "geri-gonder",
            "sendBackActions": [ids[1]],
            "approvalComment": "Zincir fotoğrafı eksik.",
        },
        assignee=DIRECTOR["PARK"],
    )
    redo = _next_task(engine, instance, "eylemi-gerceklestir", handled)
    assert task_variable(engine, redo.id, "action")["actionId"] == ids[1]
    detail = api.get(f"/difs/{dif['id']}").json()
    assert [a["status"] for a in detail["actions"]] == ["tamamlandi", "geri-gonderildi", "tamamlandi"]
    _finish(redo, {"completionNote": "Yeni zincirin fotoğrafı eklendi."}, owner)

    # Approved; the IMS office returns it to the director with a reason; approved and closed.
    first_approval = _next_task(engine, instance, "mudur-onayi", {approval.id})
    _finish(first_approval, {"approvalDecision": "onayla", "approvalComment": "Tamam."}, DIRECTOR["PARK"])
    first_verification = complete(
        engine,
        instance,
        "eys-dogrulama",
        {"verificationDecision": "geri-gonder", "verificationComment": "Eğitim katılım listesi eksik."},
        assignee=IMS_OFFICE,
    )
    returned = _next_task(engine, instance, "mudur-onayi", {approval.id, first_approval.id})
    assert task_variable(engine, returned.id, "verificationComment") == "Eğitim katılım listesi eksik."
    _finish(
        returned,
        {"approvalDecision": "onayla", "approvalComment": "Katılım listesi eklendi."},
        DIRECTOR["PARK"],
    )
    verification = _next_task(engine, instance, "eys-dogrulama", {first_verification.id})
    _finish(verification, {"verificationDecision": "kapat", "verificationComment": "Etkin."}, IMS_OFFICE)
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


def test_a_plan_with_a_past_due_date_goes_back_to_the_director(api: httpx.Client, engine: Operaton) -> None:
    dif, instance = _open_dif(api)
    first = plan(
        engine,
        instance,
        [action("Yama malzemesi stoku artırılsın.", (date.today() - timedelta(days=1)).isoformat())],
    )
    again = _next_task(engine, instance, "eylemleri-planla", {first.id})
    assert task_variable(engine, again.id, "inputError") == "Eylem 1: son tarih geçmişte olamaz."
    assert api.get(f"/difs/{dif['id']}").json()["actions"] == []
    _finish(
        again,
        {
            "rootCause": "Malzeme yetersiz.",
            "actions": [action("Yama malzemesi stoku artırılsın.", IN_A_WEEK)],
        },
        "yol.mudur",
    )
    tasks_of(engine, instance, "eylemi-gerceklestir", 1)


def test_evidence_round_trip_and_refusals(api: httpx.Client, engine: Operaton) -> None:
    dif, instance = _open_dif(api)
    plan(engine, instance, [action("Saha fotoğrafları çekilsin.", IN_A_WEEK)])
    tasks_of(engine, instance, "eylemi-gerceklestir", 1)
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
    assert api.delete(f"/difs/{dif['id']}/evidence/{wrong.json()['id']}").status_code == 204
    assert len(api.get(f"/difs/{dif['id']}").json()["actions"][0]["evidence"]) == 1


@pytest.fixture()
def short_dif_durations(tmp_path: Path) -> Iterator[None]:
    """A process owner shortens the DİF's reminder and escalation intervals in Modeler; then undoes it."""

    def shorten(xml: str) -> str:
        # The "DİF ayarları" event's output parameters: actionReminderInterval (P2D) and
        # approvalEscalationInterval (P3D).
        changed = re.sub(
            r'(<camunda:outputParameter name="\w+Interval">)P\dD(</camunda:outputParameter>)',
            r"\1PT4S\2",
            xml,
        )
        assert changed.count("PT4S") == 2, "the DİF's tunable intervals were not found"
        return changed

    with edited("dif.bpmn", shorten, tmp_path / "bpmn"):
        yield


def test_overdue_action_reminds_its_owner_then_the_director_and_a_stalled_approval_climbs_level_by_level(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, short_dif_durations: None
) -> None:
    # The administrator keeps the catalogue: who the head of department is comes from there.
    yol = next(d for d in api.get("/catalogue/directorates").json() if d["code"] == "YOL")
    yol.pop("code")
    assert (
        api.put(
            "/catalogue/directorates/YOL", json={**yol, "headEmail": "yol.baskan@belediye.local"}
        ).status_code
        == 200
    )
    dif, instance = _open_dif(api)
    wait_for_task(engine, instance, "eylemleri-planla")
    due = (datetime.now(UTC) + timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan(
        engine, instance, [action("Cadde boyunca çukur taraması yapılsın.", due, responsible="yol.personel")]
    )
    (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
    assert task.assignee == "yol.personel"

    (reminder,) = wait_mail(mailbox_dir, to="yol.personel@belediye.local", containing=dif["number"])
    assert "son tarihi" in body_of(reminder) and "Cadde boyunca çukur taraması" in body_of(reminder)
    escalated = wait_mail(
        mailbox_dir,
        to="yol.mudur@belediye.local",
        containing=f"Geciken DİF eylemi: {dif['number']}",
        timeout=30,
    )
    assert "yol.personel" in body_of(escalated[0])

    (action_id,) = _action_ids(api, dif["id"])
    upload(api, dif["id"], action_id)
    _finish(task, {"completionNote": "Tarama yapıldı."}, "yol.personel")
    wait_for_task(engine, instance, "mudur-onayi")

    # Nobody approves: head of department first, then the IMS office, which keeps being told.
    (head,) = wait_mail(mailbox_dir, to="yol.baskan@belediye.local", containing=dif["number"], timeout=30)
    assert "1. yükseltme" in str(head["Subject"])
    ims = wait_mail(mailbox_dir, to="eys@belediye.local", containing=dif["number"], count=2, timeout=40)
    subjects = " ".join(str(m["Subject"]) for m in ims)
    assert "2. yükseltme" in subjects and "3. yükseltme" in subjects
    complete(
        engine,
        instance,
        "mudur-onayi",
        {"approvalDecision": "onayla", "approvalComment": "Geç de olsa onaylandı."},
        assignee="yol.mudur",
    )
    wait_for_task(engine, instance, "eys-dogrulama")

    recorded = api.get(f"/difs/{dif['id']}").json()["escalations"]
    levels = [(e["kind"], e["level"]) for e in recorded]
    assert levels[:2] == [("eylem-hatirlatma", "sorumlu"), ("eylem-gecikmesi", "mudur")]
    approvals = [level for kind, level in levels if kind == "onay"]
    assert approvals[:3] == ["daire-baskani", "eys-sefligi", "eys-sefligi"]
    overdue_listed = api.get("/difs", params={"directorate": "YOL", "overdue": True}).json()["items"]
    assert dif["id"] not in [d["id"] for d in overdue_listed]  # its action is done now


def test_approvals_without_what_they_need_go_back_with_the_reason(
    api: httpx.Client, engine: Operaton
) -> None:
    dif, instance = _open_dif(api)
    plan(engine, instance, [action("Çukur yerleri işaretlensin.", IN_A_WEEK)])
    (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
    (action_id,) = _action_ids(api, dif["id"])
    assert upload(api, dif["id"], action_id).status_code == 201
    _finish(task, {"completionNote": "İşaretlendi."}, "yol.personel")

    # Sending back without choosing an action: the director gets the task back with the reason.
    first = complete(
        engine,
        instance,
        "mudur-onayi",
        {"approvalDecision": "geri-gonder", "sendBackActions": [], "approvalComment": "Eksik var."},
        assignee="yol.mudur",
    )
    again = _next_task(engine, instance, "mudur-onayi", {first.id})
    assert task_variable(engine, again.id, "inputError") == "Geri gönderilecek en az bir eylem seçilmeli."
    _finish(again, {"approvalDecision": "onayla", "approvalComment": "Uygun."}, "yol.mudur")

    # Verifying without a comment: back to the IMS office.
    verification = complete(
        engine,
        instance,
        "eys-dogrulama",
        {"verificationDecision": "kapat", "verificationComment": ""},
        assignee=IMS_OFFICE,
    )
    back = _next_task(engine, instance, "eys-dogrulama", {verification.id})
    assert task_variable(engine, back.id, "inputError") == "Kararın gerekçesi / açıklaması yazılmalı."
    _finish(back, {"verificationDecision": "kapat", "verificationComment": "Etkin bulundu."}, IMS_OFFICE)
    closed = wait_dif_status(api, dif["id"], "kapatildi")
    assert [(a["step"], a["decision"]) for a in closed["approvals"]] == [
        ("mudur-onayi", "onayla"),
        ("eys-dogrulama", "kapat"),
    ]


def test_each_approval_round_escalates_from_the_first_level_again(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, short_dif_durations: None
) -> None:
    dif, instance = _open_dif(api)
    plan(engine, instance, [action("Çukur onarım kalitesi ölçülsün.", IN_A_WEEK, responsible="yol.personel")])
    (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
    (action_id,) = _action_ids(api, dif["id"])
    upload(api, dif["id"], action_id)
    _finish(task, {"completionNote": "Ölçüldü."}, "yol.personel")
    first_round = wait_for_task(engine, instance, "mudur-onayi")
    wait_mail(mailbox_dir, to="eys@belediye.local", containing=f"2. yükseltme): {dif['number']}", timeout=40)
    # The director sends the action back: once it is done again, a new approval round begins.
    complete(
        engine,
        instance,
        "mudur-onayi",
        {
            "approvalDecision": "geri-gonder",
            "sendBackActions": [action_id],
            "approvalComment": "Tutanak eksik.",
        },
        assignee="yol.mudur",
    )
    redo = _next_task(engine, instance, "eylemi-gerceklestir", {task.id})
    _finish(redo, {"completionNote": "Tutanak eklendi."}, "yol.personel")
    _next_task(engine, instance, "mudur-onayi", {first_round.id})
    heads = wait_mail(
        mailbox_dir,
        to="yol.baskan@belediye.local",
        containing=f"1. yükseltme): {dif['number']}",
        count=2,
        timeout=40,
    )
    assert len(heads) == 2  # the second round started at the head of department, not at the IMS office
    rounds = [e["level"] for e in api.get(f"/difs/{dif['id']}").json()["escalations"] if e["kind"] == "onay"]
    second_round = rounds[rounds.index("daire-baskani", 1) :]
    assert second_round[0] == "daire-baskani"


def test_a_misconfigured_escalation_chain_is_an_incident_in_plain_words(
    api: httpx.Client, engine: Operaton, tmp_path: Path
) -> None:
    def misconfigure(xml: str) -> str:
        changed = xml.replace(
            '<camunda:outputParameter name="approvalEscalationInterval">P3D</camunda:outputParameter>',
            '<camunda:outputParameter name="approvalEscalationInterval">PT2S</camunda:outputParameter>',
        ).replace(
            "<camunda:value>daire-baskani</camunda:value>", "<camunda:value>yok-boyle-birim</camunda:value>"
        )
        assert "yok-boyle-birim" in changed and "PT2S" in changed
        return changed

    with edited("dif.bpmn", misconfigure, tmp_path / "bpmn"):
        dif, instance = _open_dif(api)
        plan(engine, instance, [action("Levhalar yenilensin.", IN_A_WEEK, responsible="yol.personel")])
        (task,) = tasks_of(engine, instance, "eylemi-gerceklestir", 1)
        (action_id,) = _action_ids(api, dif["id"])
        upload(api, dif["id"], action_id)
        _finish(task, {"completionNote": "Yenilendi."}, "yol.personel")
        # Every firing of the stalled approval's timer meets the same wrong setting: one incident each.
        incident = poll(
            lambda: engine.incidents(processInstanceId=instance, activityId="onayi-yukselt") or None,
            what="the incident of the escalation step",
            timeout=60,
        )[0]
    try:
        assert "'yok-boyle-birim' düzeyi tanınmıyor" in incident["incidentMessage"]
        assert "approvalEscalationLevels" in incident["incidentMessage"]
        # The approval itself still waits for the director: nothing ended silently.
        assert wait_for_task(engine, instance, "mudur-onayi")
    finally:
        # Its timer fires every 2 s, each firing one more incident: not left on a running stack.
        engine.call("DELETE", f"/process-instance/{instance}", params={"skipCustomListeners": "true"})
