"""Every path of a citizen request on the real engine, PostgreSQL and SMTP, driven as people would:
channels through the API, staff through Tasklist's REST API (each person with their own engine
login: the operator, the directorate's staff, Public Relations), the citizen through the mailbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from services.config import get_settings
from services.operaton import Operaton
from services.process_engine import EngineRefused
from tests.integration.citizen import (
    TURKISH_DESCRIPTION,
    body_of,
    complete,
    end_objection_period,
    events,
    instance_of,
    normalise_phone,
    payload,
    sms_delivery,
    sms_messages,
    submit,
    wait_mail,
    wait_status,
)
from tests.integration.modeler import edited
from tests.integration.tasklist import instances_with_variable, person, poll, wait_for_task

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def short_durations(tmp_path: Path) -> Iterator[None]:
    """What a process owner does in Modeler: change the tunable durations, redeploy; then undo."""

    def shorten(xml: str) -> str:
        # The "Süre ayarları" event's output parameters: overdueReminderInterval, infoWaitDuration.
        return re.sub(
            r'(<camunda:outputParameter name="\w+">)P1?0?D(</camunda:outputParameter>)', r"\1PT3S\2", xml
        )

    with edited("birim-istek.bpmn", shorten, tmp_path / "bpmn"):
        yield


REMINDER = "hizmet-suresi-asildi"  # the staff step's non-interrupting overdue timer
ESCALATE = "gecikme-bildir"  # the notice to the director it starts


def _candidate_groups(engine: Operaton, task_id: str) -> list[str]:
    """The groups Tasklist offers the task to (its candidate identity links)."""
    links = engine.json("GET", f"/task/{task_id}/identity-links", params={"type": "candidate"})
    return sorted(link["groupId"] for link in links if link.get("groupId"))


def _undispatched_outbox_rows(request_id: str) -> int:
    """Starts and messages for this request that the outbox has not handed to the engine yet."""
    database = create_engine(get_settings().database_url)
    try:
        with database.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM outbox WHERE correlation_key = :k AND dispatched_at IS NULL"),
                {"k": request_id},
            ).scalar_one()
            return int(count)
    finally:
        database.dispose()


def test_routed_done_checked_and_answered(api: httpx.Client, engine: Operaton, mailbox_dir: Path) -> None:
    tracking, body = submit(api)
    instance = instance_of(tracking)
    row = wait_status(tracking, "mudurlukte")
    assert row["directorate_code"] == "YOL"

    (notice,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=str(row["id"]))
    assert TURKISH_DESCRIPTION in body_of(notice)
    assert "Yolda çukur" in notice["Subject"]

    task = wait_for_task(engine, instance, "talebi-degerlendir")
    assert _candidate_groups(engine, task.id) == ["mudurluk-yol"]
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Çukur asfaltla kapatıldı, yol açıldı."},
        assignee="yol.personel",
    )
    pr_task = wait_for_task(engine, instance, "kapatma-kontrolu")
    assert _candidate_groups(engine, pr_task.id) == ["halkla-iliskiler"]
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee="halkla.iliskiler",
    )

    (answer,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="sonuçlandırılmıştır")
    text = body_of(answer)
    assert "Çukur asfaltla kapatıldı, yol açıldı." in text
    assert "Ayşe Yıldırım Öztürk" in text
    row = wait_status(tracking, "kapatildi")
    assert row["answer"] == "olumlu"
    end_objection_period(engine, instance)

    # The phone as stored (+905321234567) and as typed; a bare "532" could sit inside a uuid.
    personal = [
        body["citizen"]["fullName"],
        "5321234567",
        "123 45 67",
        body["citizen"]["email"],
        "Şehit İlhan",
    ]
    variables = list(engine.historic_variables(processInstanceId=instance))
    assert variables, "the instance's variables should be readable"
    assert not [v for v in variables for p in personal if p in str(v["value"])], "personal data in the engine"

    recorded = {e["event"]: e for e in events(tracking)}
    assert recorded["mudurluk-degerlendirmesi"]["actor"] == "yol.personel"  # who completed it in Tasklist
    assert recorded["mudurluk-degerlendirmesi"]["details"]["resolution"].startswith("Çukur asfaltla")
    assert recorded["kapatma-karari"]["actor"] == "halkla.iliskiler"

    status = api.get(f"/requests/{tracking}").json()
    assert status["status"] == "kapatildi"
    texts = [entry["text"] for entry in status["history"]]
    assert texts[0] == "Talebiniz alındı."
    assert any("Yol Yapım ve Bakım" in t for t in texts)
    assert texts[-1].startswith("Talebiniz sonuçlandı")
    assert "Ayşe" not in str(status) and "0532" not in str(status)


def test_will_not_be_done_answers_negatively_with_the_reason_by_sms(
    api: httpx.Client, engine: Operaton, smsc_dir: Path
) -> None:
    tracking, body = submit(api, preferredAnswerChannel="sms", categoryCode="PARK-OYUN")
    instance = instance_of(tracking)
    reason = "Oyun grubu özel site alanında; belediye sorumluluğunda değil."
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapilmayacak", "reason": reason},
        assignee="park.personel",
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee="halkla.iliskiler",
    )
    row = wait_status(tracking, "kapatildi")
    assert row["answer"] == "olumsuz"
    phone = normalise_phone(body["citizen"]["phone"])
    sms = poll(
        lambda: (
            [m for m in sms_messages(smsc_dir, phone) if reason in m["text"] and tracking in m["text"]]
            or None
        ),
        what="the SMS answer",
    )
    assert reason in sms[0]["text"]
    # Turkish letters: UCS-2, in parts the SMS centre joined; the receipts reach the notification.
    assert (sms[0]["dataCoding"], sms[0]["parts"] > 1) == (8, True)
    delivery = poll(
        lambda: d if (d := sms_delivery(sms[0]["messageIds"])) and d["delivery_status"] else None,
        what="the delivery receipts of the SMS answer",
    )
    assert delivery["delivery_status"] == "DELIVRD" and delivery["delivered_at"] is not None


def test_unknown_category_goes_to_an_operator_who_routes_it(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, _ = submit(api, categoryCode="YOK-BOYLE-BIR-KATEGORI")
    instance = instance_of(tracking)
    wait_status(tracking, "yonlendirme-bekliyor")
    task = wait_for_task(engine, instance, "manuel-yonlendirme")
    assert _candidate_groups(engine, task.id) == ["operatorler"]
    complete(
        engine,
        instance,
        "manuel-yonlendirme",
        {"categoryCode": "PARK-AGAC", "routingNote": "Ağaç budama talebi."},
        assignee="operator",
    )
    row = wait_status(tracking, "mudurlukte")
    assert (row["directorate_code"], row["category_code"]) == ("PARK", "PARK-AGAC")
    staff = wait_for_task(engine, instance, "talebi-degerlendir")
    assert _candidate_groups(engine, staff.id) == ["mudurluk-park"]
    # Park staff find it in their group's Tasklist; Road staff may not take it on.
    park_group = person("park.personel").tasks(processInstanceId=instance, candidateGroup="mudurluk-park")
    assert [t.id for t in park_group] == [staff.id]
    with pytest.raises(EngineRefused) as refused:
        person("yol.personel").claim(staff.id, "yol.personel")
    assert refused.value.status == 403
    wait_mail(mailbox_dir, to="park.bahce@belediye.local", containing=str(row["id"]))


def test_request_without_category_goes_to_an_operator(api: httpx.Client, engine: Operaton) -> None:
    body = payload()
    del body["categoryCode"]
    tracking = api.post("/requests", json=body).json()["trackingNumber"]
    wait_for_task(engine, instance_of(tracking), "manuel-yonlendirme")


def test_wrong_directorate_is_recorded_and_rerouted(api: httpx.Client, engine: Operaton) -> None:
    # Filed as a tree matter; the Park staff find it is an unlicensed building site.
    tracking, _ = submit(api, categoryCode="PARK-AGAC")
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yanlis-mudurluk", "wrongDirectorateNote": "Ağaçlar bir inşaat alanında; imar konusu."},
        assignee="park.personel",
    )
    complete(
        engine,
        instance,
        "manuel-yonlendirme",
        {"categoryCode": "IMAR-KACAK", "routingNote": ""},
        assignee="operator",
    )
    row = wait_status(tracking, "mudurlukte")
    assert row["directorate_code"] == "IMAR"
    history = events(tracking)
    wrong = [e for e in history if e["event"] == "mudurluk-degerlendirmesi"]
    assert wrong[0]["details"]["outcome"] == "yanlis-mudurluk"
    assert wrong[0]["actor"] == "park.personel"
    routed = [e["details"]["directorateCode"] for e in history if e["event"] == "yonlendirildi"]
    assert routed == ["PARK", "IMAR"]


def test_information_request_answered_by_the_citizen(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body = submit(api)
    instance = instance_of(tracking)
    question = "Çukurun tam yerini, hangi binanın önünde olduğunu yazar mısınız?"
    first = complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "bilgi-gerekli", "question": question},
        assignee="yol.personel",
    )
    (_asked,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing=question)
    wait_status(tracking, "bilgi-bekleniyor")
    assert api.get(f"/requests/{tracking}").json()["question"] == question  # the channel can show it

    reply = api.post(
        f"/requests/{tracking}/replies", json={"text": "Gül Apartmanı'nın önünde, İnönü Cd. köşesi."}
    )
    assert reply.status_code == 202, reply.text
    assert api.get(f"/requests/{tracking}").json()["question"] is None
    again = wait_for_task(engine, instance, "talebi-degerlendir")
    assert again.id and again.id != first.id
    assert any(e["event"] == "vatandas-yanitladi" for e in events(tracking))
    assert api.post(f"/requests/{tracking}/replies", json={"text": "tekrar"}).status_code == 409


@pytest.mark.usefixtures("short_durations")
def test_information_request_not_answered_in_time_returns_to_staff(
    api: httpx.Client, engine: Operaton
) -> None:
    tracking, _ = submit(api)
    instance = instance_of(tracking)
    first = complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "bilgi-gerekli", "question": "Adres tarifi?"},
        assignee="yol.personel",
    )
    poll(
        lambda: [e for e in events(tracking) if e["event"] == "vatandas-yanit-vermedi"] or None,
        what="the no-answer record",
        timeout=60,
    )
    again = wait_for_task(engine, instance, "talebi-degerlendir")
    assert again.id != first.id


@pytest.mark.usefixtures("short_durations")
def test_overdue_request_notifies_the_director_again_and_again(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    category = api.put(
        "/catalogue/categories/TEST-ACIL",
        json={"name": "Test: aynı gün", "directorateCode": "YOL", "serviceDays": 0, "active": True},
    )
    assert category.status_code == 200, category.text
    tracking, _ = submit(api, categoryCode="TEST-ACIL")
    request_id = str(wait_status(tracking, "mudurlukte")["id"])
    director = "yol.mudur@belediye.local"
    notices = wait_mail(mailbox_dir, to=director, containing=request_id, count=2, timeout=60)
    subjects = sorted(str(m["Subject"]) for m in notices)
    assert "1. bildirim" in subjects[0] and "2. bildirim" in subjects[1]
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Ekip gönderildi."},
        assignee="yol.personel",
    )
    # Once the task is done its reminder timer ends with it, and the notices already due are sent.
    poll(
        lambda: (
            True
            if not engine.json("GET", "/job", params={"processInstanceId": instance, "activityId": REMINDER})
            and not engine.json(
                "GET", "/external-task", params={"processInstanceId": instance, "activityId": ESCALATE}
            )
            else None
        ),
        what="the reminder timer and its pending notices to end with the task",
    )
    done_at = engine.json(
        "GET",
        "/history/task",
        params={"processInstanceId": instance, "taskDefinitionKey": "talebi-degerlendir", "finished": "true"},
    )[0]["endTime"]
    escalations = [a for a in engine.activities(instance) if a["activityId"] == ESCALATE]
    assert escalations and all(a["startTime"] <= done_at for a in escalations), "a notice after the task"
    sent = wait_mail(mailbox_dir, to=director, containing=request_id)
    assert len(sent) == len(escalations)  # one notice per firing, none once the task is done


def test_duplicate_intake_returns_the_same_request_and_starts_one_instance(
    api: httpx.Client, engine: Operaton
) -> None:
    body = payload()
    first = api.post("/requests", json=body)
    second = api.post("/requests", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["trackingNumber"] == second.json()["trackingNumber"]
    tracking = first.json()["trackingNumber"]
    request_id = str(wait_status(tracking, "mudurlukte")["id"])
    poll(
        lambda: instances_with_variable(engine, "requestId", request_id) or None,
        what="the instance in the engine's history",
    )
    # Every start the outbox holds for this request has reached the engine (whose history is
    # written with the start): a second instance, had one been asked for, would be there now.
    poll(
        lambda: True if _undispatched_outbox_rows(request_id) == 0 else None,
        what="the outbox to hand over everything for this request",
    )
    assert len(instances_with_variable(engine, "requestId", request_id)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "faks"}, "channel"),
        ({"description": "kısa"}, "description"),
        ({"description": "ş" * 4001}, "description"),
        ({"location": {"latitude": 95.0, "longitude": 34.6}}, "latitude"),
        ({"location": {"latitude": 36.8}}, "location"),
        ({"type": 3}, "type"),
        ({"citizen": {"fullName": "Ali Veli", "phone": "12345"}}, "phone"),
        (
            {"preferredAnswerChannel": "sms", "citizen": {"fullName": "Ali Veli", "email": "ali@x.local"}},
            "preferredAnswerChannel",
        ),
        ({"channelReference": None}, "channelReference"),
    ],
)
def test_bad_input_gets_a_422_that_names_the_field(
    api: httpx.Client, change: dict[str, object], field: str
) -> None:
    response = api.post("/requests", json=payload(**change))
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"])


def test_missing_fields_are_each_named(api: httpx.Client) -> None:
    response = api.post("/requests", json={"channel": "web"})
    assert response.status_code == 422
    missing = {e["loc"][-1] for e in response.json()["detail"] if e["type"] == "missing"}
    assert {"channelReference", "type", "description", "location", "citizen"} <= missing


def test_unknown_tracking_number_is_404_in_turkish(api: httpx.Client) -> None:
    response = api.get("/requests/BI-AAAA-BBBB-CCCC-DDDD")
    assert response.status_code == 404
    assert "bulunamadı" in response.json()["detail"]


def test_staff_search_filters_and_pages(api: httpx.Client) -> None:
    tracking, _ = submit(api, channel="cimer", categoryCode="TEMIZLIK-COP")
    wait_status(tracking, "mudurlukte")
    found = api.get("/requests", params={"channel": "cimer", "directorate": "TEMIZLIK", "size": 200}).json()
    assert tracking in [item["trackingNumber"] for item in found["items"]]
    assert all(item["channel"] == "cimer" for item in found["items"])
    page = api.get("/requests", params={"size": 1, "page": 1}).json()
    assert len(page["items"]) == 1 and page["total"] >= 1
    assert api.get("/requests", params={"size": 0}).status_code == 422
    assert api.get("/requests", params={"from": "dün"}).status_code == 422
