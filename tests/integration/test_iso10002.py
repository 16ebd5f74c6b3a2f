"""The ISO 10002 cycle on the real engine, PostgreSQL and SMTP: the receipt (7.4), priorities and
urgent requests (7.5), Tasklist's names, due and follow-up dates, status updates (7.3, 7.6),
objections (7.8, 7.9) and satisfaction (8.3). Citizens use the API with their tracking number,
staff use Tasklist (each with their own login) and the API with their own token."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from services import service_time
from services.config import get_settings
from services.models import Category
from services.operaton import Operaton
from services.working_days import ISTANBUL
from tests.credentials import bearer
from tests.integration.citizen import (
    body_of,
    complete,
    events,
    fire_timer,
    instance_of,
    mails,
    normalise_phone,
    sms_messages,
    submit,
    wait_mail,
    wait_status,
)
from tests.integration.conftest import staff_token
from tests.integration.tasklist import poll, wait_for_state, wait_for_task


def _sql(statement: str, **values: Any) -> list[dict[str, Any]]:
    database = create_engine(get_settings().database_url)
    try:
        with database.begin() as connection:
            result = connection.execute(text(statement), values)
            return [dict(r) for r in result.mappings()] if result.returns_rows else []
    finally:
        database.dispose()


def _local(moment: datetime) -> str:
    return moment.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M")


def _answered(api: httpx.Client, engine: Operaton, **overrides: Any) -> tuple[str, dict[str, Any], str]:
    """A request worked and answered positively: (tracking number, intake body, instance)."""
    tracking, body = submit(api, **overrides)
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Çukur asfaltla kapatıldı, yol açıldı."},
        assignee="yol.personel",
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee="halkla.iliskiler",
    )
    wait_status(tracking, "kapatildi")
    wait_for_task_or_wait(engine, instance)
    return tracking, body, instance


def wait_for_task_or_wait(engine: Operaton, instance: str) -> None:
    """The instance has reached the objection period's wait (its timer job exists)."""
    poll(
        lambda: (
            engine.json(
                "GET", "/job", params={"processInstanceId": instance, "activityId": "itiraz-suresi-doldu"}
            )
            or None
        ),
        what="the objection period's timer",
    )


# ---------------------------------------------------------------- 7.4 receipt


def test_the_receipt_names_tracking_number_category_directorate_and_date_once(
    api: httpx.Client, mailbox_dir: Path
) -> None:
    tracking, body = submit(
        api, channel="cagri-merkezi", channelReference="ALO185-çağrı-receipt-" + body_id()
    )
    again = api.post("/requests", json=body)  # the call centre's integration retries
    assert again.status_code == 200 and again.json()["trackingNumber"] == tracking
    row = wait_status(tracking, "mudurlukte")
    (receipt,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="alınmıştır")
    due = row["due_at"]
    assert due == service_time.deadline(row["received_at"], _category("YOL-CUKUR"), "normal")
    assert str(receipt["Subject"]) == f"Başvurunuz alındı ({tracking})"
    # Mail lines end in CRLF on the wire (RFC 5322); the text is compared character for character.
    assert body_of(receipt).replace("\r\n", "\n") == (
        "Sayın Ayşe Yıldırım Öztürk,\n\n"
        f"Başvurunuz {tracking} takip numarasıyla alınmıştır.\n\n"
        "Kategori: Yolda çukur / asfalt bozulması\n"
        "İlgili birim: Yol Yapım ve Bakım Dairesi Başkanlığı\n"
        "Öncelik: Normal\n"
        f"Beklenen yanıt tarihi: {_local(due)} (hizmet süresi: 5 iş günü)\n\n"
        "Başvurunuzun durumunu takip numaranızla web sitemizden ya da Alo 185'ten öğrenebilirsiniz.\n"
    )
    # Still exactly one receipt after the retried intake.
    assert len(mails(mailbox_dir, to=body["citizen"]["email"], containing="alınmıştır")) == 1


def test_a_citizen_who_chose_sms_gets_the_receipt_as_one_turkish_sms(
    api: httpx.Client, smsc_dir: Path
) -> None:
    tracking, body = submit(api, preferredAnswerChannel="sms", categoryCode="ITFAIYE-GAZ")
    row = wait_status(tracking, "mudurlukte")
    assert row["due_at"] - row["received_at"] == timedelta(hours=1)  # gas smell: urgent, one hour
    phone = normalise_phone(body["citizen"]["phone"])
    (receipt,) = poll(
        lambda: [m for m in sms_messages(smsc_dir, phone) if tracking in m["text"]] or None,
        what="the receipt SMS",
    )
    assert receipt["text"] == (
        f"Başvurunuz alındı, takip no {tracking}. Birim: İtfaiye Dairesi Başkanlığı. "
        f"Beklenen yanıt: {_local(row['due_at'])}"
    )
    assert receipt["dataCoding"] == 8  # UCS-2: Turkish letters


def body_id() -> str:
    return uuid.uuid4().hex[:12]


def _category(code: str) -> Category:
    row = _sql("SELECT * FROM categories WHERE code = :c", c=code)[0]
    return Category(
        code=row["code"],
        name=row["name"],
        directorate_code=row["directorate_code"],
        service_days=row["service_days"],
        default_priority=row["default_priority"],
        high_service_days=row["high_service_days"],
        urgent_service_hours=row["urgent_service_hours"],
    )


def test_a_request_without_a_category_gets_its_receipt_before_the_operator_routes_it(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body = submit(api, categoryCode=None)
    instance = instance_of(tracking)
    (receipt,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="alınmıştır")
    assert "Kategori: operatörümüz belirleyecek" in body_of(receipt)
    task = wait_for_task(engine, instance, "manuel-yonlendirme")
    assert task.name == f"Manuel yönlendirme — {tracking}"
    complete(engine, instance, "manuel-yonlendirme", {"categoryCode": "PARK-OYUN"}, assignee="operator")
    # The directorate differs from the one named in the receipt (none): the citizen is told.
    (update,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yönlendirildi")
    assert "Park ve Bahçeler Müdürlüğü" in body_of(update)


# ---------------------------------------------------------------- 7.5 priority, Tasklist


def test_urgent_request_tells_the_director_at_once_and_tops_tasklist(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, _ = submit(
        api,
        categoryCode="YOL-ROGAR",
        location={"address": "Çankaya Mah. 1. Sk., Yenişehir/Mersin", "district": "Yenişehir"},
    )
    instance = instance_of(tracking)
    row = wait_status(tracking, "mudurlukte")
    assert row["priority"] == "acil"
    assert row["due_at"] - row["received_at"] == timedelta(hours=4)  # clock hours, not working days
    (urgent,) = wait_mail(mailbox_dir, to="yol.mudur@belediye.local", containing=tracking)
    assert "ACİL" in str(urgent["Subject"])
    task = wait_for_task(engine, instance, "talebi-degerlendir")
    assert task.name == f"Talebi değerlendir — {tracking} · Açık rögar / kayıp mazgal kapağı · Yenişehir"
    assert task.priority == 100
    # The engine keeps due and follow-up dates to the second.
    assert task.due is not None and datetime.fromisoformat(task.due) == row["due_at"].replace(microsecond=0)
    assert task.follow_up is not None
    assert datetime.fromisoformat(task.follow_up) == (row["received_at"] + timedelta(hours=3)).replace(
        microsecond=0
    )
    # Tasklist's own sorting: by priority, the urgent task comes before a normal one of the group.
    listed = engine.json(
        "POST",
        "/task",
        json={"candidateGroup": "mudurluk-yol", "sorting": [{"sortBy": "priority", "sortOrder": "desc"}]},
    )
    assert listed[0]["priority"] == 100


def test_directorate_raises_the_priority_with_a_reason_and_the_task_follows(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, _ = submit(api)
    instance = instance_of(tracking)
    row = wait_status(tracking, "mudurlukte")
    first = wait_for_task(engine, instance, "talebi-degerlendir")
    assert first.priority == 50
    staff = bearer(staff_token("yol.personel"))

    other = api.put(
        f"/requests/{row['id']}/priority",
        json={"priority": "acil", "reason": "Okul önünde"},
        headers=bearer(staff_token("park.personel")),
    )
    assert other.status_code == 403, other.text  # another directorate's request
    bad = api.put(
        f"/requests/{row['id']}/priority", json={"priority": "çok-acil", "reason": "x"}, headers=staff
    )
    assert bad.status_code == 422

    changed = api.put(
        f"/requests/{row['id']}/priority",
        json={"priority": "acil", "reason": "Çukur okul servis güzergâhında, kaza riski var."},
        headers=staff,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "acil"
    # The waiting task is recreated with the new priority and the urgent due date; the director knows.
    recreated = poll(
        lambda: next(
            (t for t in engine.tasks(processInstanceId=instance) if t.priority == 100 and t.id != first.id),
            None,
        ),
        what="the task with the new priority",
    )
    assert recreated.activity_id == "talebi-degerlendir"
    wait_mail(mailbox_dir, to="yol.mudur@belediye.local", containing=tracking)
    recorded = [e for e in events(tracking) if e["event"] == "oncelik-degisti"]
    assert recorded[0]["actor"] == "yol.personel"
    assert recorded[0]["details"] == {
        "from": "normal",
        "to": "acil",
        "reason": "Çukur okul servis güzergâhında, kaza riski var.",
    }
    same = api.put(
        f"/requests/{row['id']}/priority",
        json={"priority": "acil", "reason": "Yine acil olsun."},
        headers=staff,
    )
    assert same.status_code == 409


# ---------------------------------------------------------------- 7.3, 7.6 status updates


def test_a_citizen_who_wants_only_the_answer_gets_the_receipt_and_the_answer_only(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body = submit(api, statusUpdates=False, categoryCode="PARK-OYUN")
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yanlis-mudurluk", "wrongDirectorateNote": "Yol bakımın işi."},
        assignee="park.personel",
    )
    complete(engine, instance, "manuel-yonlendirme", {"categoryCode": "YOL-CUKUR"}, assignee="operator")
    wait_for_task(engine, instance, "talebi-degerlendir")
    wait_status(tracking, "mudurlukte")
    citizen = body["citizen"]["email"]
    assert [str(m["Subject"]) for m in mails(mailbox_dir, to=citizen)] == [f"Başvurunuz alındı ({tracking})"]
    assert any(e["event"] == "yonlendirildi" for e in events(tracking))


# ---------------------------------------------------------------- 7.8, 7.9 objections


def test_objection_reopens_the_request_to_the_directorate_with_the_reason(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body, instance = _answered(api, engine)
    early = api.post(f"/requests/{tracking}/objections", json={"reason": "çok kısa"})
    assert early.status_code == 422  # a reason of at least ten characters
    objected = api.post(
        f"/requests/{tracking}/objections",
        json={"reason": "Çukur hâlâ orada, asfalt yapılmadı; fotoğraf ektedir."},
    )
    assert objected.status_code == 202, objected.text
    second = api.post(f"/requests/{tracking}/objections", json={"reason": "İkinci kez itiraz ediyorum."})
    assert second.status_code == 409
    assert "değerlendirilmekte olan bir itirazınız var" in second.json()["detail"]

    task = wait_for_task(engine, instance, "itirazi-degerlendir")
    assert task.name.startswith(f"İtirazı değerlendir — {tracking}")
    # Public Relations read the citizen's reason in our records; the engine has only its id.
    request_id = str(wait_status(tracking, "itiraz-degerlendirmede")["id"])
    (objection,) = api.get(
        f"/requests/{request_id}/objections", headers=bearer(staff_token("halkla.iliskiler"))
    ).json()
    assert objection["reason"] == "Çukur hâlâ orada, asfalt yapılmadı; fotoğraf ektedir."
    assert objection["status"] == "acik"
    assert "Çukur hâlâ orada" not in str(engine.task_variables(task.id))
    other = api.get(f"/requests/{request_id}/objections", headers=bearer(staff_token("park.personel")))
    assert other.status_code == 403
    complete(
        engine,
        instance,
        "itirazi-degerlendir",
        {
            "objectionDecision": "yeniden-ac",
            "objectionJustification": "Saha kontrolünde çukurun durduğu görüldü.",
        },
        assignee="halkla.iliskiler",
    )
    row = wait_status(tracking, "yeniden-acildi")
    assert row["closed_at"] is None and row["objection_deadline"] is None
    again = wait_for_task(engine, instance, "talebi-degerlendir")
    assert again.due is not None and datetime.fromisoformat(again.due) == row["due_at"].replace(microsecond=0)
    (reopened,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yeniden")
    assert tracking in body_of(reopened)
    decided = _sql("SELECT * FROM objections WHERE request_id = :r", r=row["id"])
    assert [(o["status"], o["decided_by"]) for o in decided] == [("yeniden-acildi", "halkla.iliskiler")]


def test_public_relations_confirms_the_closure_and_the_citizen_reads_why(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body, instance = _answered(api, engine)
    assert (
        api.post(
            f"/requests/{tracking}/objections", json={"reason": "Yapılan iş yetersiz, yama hemen bozuldu."}
        ).status_code
        == 202
    )
    justification = "Onarım teknik şartnameye uygun yapılmıştır; ölçüm tutanağı dosyadadır."
    complete(
        engine,
        instance,
        "itirazi-degerlendir",
        {"objectionDecision": "kapanisi-onayla", "objectionJustification": justification},
        assignee="halkla.iliskiler",
    )
    (reply,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="itirazınız")
    assert justification in body_of(reply)
    wait_for_state(engine, instance, "COMPLETED")
    assert "kapanis-onaylandi" in engine.activity_ids(instance)
    assert wait_status(tracking, "kapatildi")["answer"] == "olumlu"


def test_after_the_objection_period_the_request_closes_and_objections_are_refused(
    api: httpx.Client, engine: Operaton
) -> None:
    tracking, _, instance = _answered(api, engine)
    row = wait_status(tracking, "kapatildi")
    assert row["objection_deadline"] - row["closed_at"] > timedelta(days=14, hours=23)
    fire_timer(engine, instance, "itiraz-suresi-doldu")
    wait_for_state(engine, instance, "COMPLETED")
    assert "talep-kapatildi" in engine.activity_ids(instance)
    _sql(
        "UPDATE citizen_requests SET objection_deadline = now() - interval '1 day' WHERE id = :r", r=row["id"]
    )
    late = api.post(f"/requests/{tracking}/objections", json={"reason": "Geç kalmış bir itiraz metni."})
    assert late.status_code == 409
    assert "İtiraz süresi" in late.json()["detail"] and "doldu" in late.json()["detail"]


def test_no_objection_before_the_answer(api: httpx.Client) -> None:
    tracking, _ = submit(api)
    wait_status(tracking, "mudurlukte")
    refused = api.post(f"/requests/{tracking}/objections", json={"reason": "Henüz yanıt gelmedi ama itiraz."})
    assert refused.status_code == 409
    unknown = api.post("/requests/BI-YOK0-YOK0-YOK0-YOK0/objections", json={"reason": "Böyle bir talep yok."})
    assert unknown.status_code == 404


# ---------------------------------------------------------------- 8.3 satisfaction


def test_invited_once_and_a_low_rating_reaches_public_relations(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body, _ = _answered(api, engine)
    (invitation,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="değerlendir")
    assert tracking in body_of(invitation)
    rated = api.post(
        f"/requests/{tracking}/rating", json={"score": 2, "comment": "Ekip geç geldi, İş yarım."}
    )
    assert rated.status_code == 201, rated.text
    assert api.post(f"/requests/{tracking}/rating", json={"score": 5}).status_code == 409
    (alert,) = wait_mail(mailbox_dir, to="halkla.iliskiler@belediye.local", containing=tracking)
    assert "2" in body_of(alert)
    assert "Ekip geç geldi" not in body_of(alert)  # the comment stays with the request
    stored = _sql(
        "SELECT s.* FROM satisfaction_ratings s JOIN citizen_requests r ON r.id = s.request_id "
        "WHERE r.tracking_code = :t",
        t=tracking,
    )
    assert [(s["score"], s["comment"]) for s in stored] == [(2, "Ekip geç geldi, İş yarım.")]
    started = poll(
        lambda: (
            engine.json(
                "GET",
                "/history/process-instance",
                params={
                    "processDefinitionKey": "memnuniyet",
                    "processInstanceBusinessKey": str(stored[0]["request_id"]),
                },
            )
            or None
        ),
        what="the satisfaction instance",
    )
    assert len(started) == 1


def test_a_good_rating_is_recorded_without_an_alert(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, _, _ = _answered(api, engine)
    bad = api.post(f"/requests/{tracking}/rating", json={"score": 6})
    assert bad.status_code == 422
    assert api.post(f"/requests/{tracking}/rating", json={"score": 5}).status_code == 201
    row = wait_status(tracking, "kapatildi")
    instance = poll(
        lambda: (
            engine.json(
                "GET",
                "/history/process-instance",
                params={
                    "processDefinitionKey": "memnuniyet",
                    "processInstanceBusinessKey": str(row["id"]),
                    "finished": "true",
                },
            )
            or None
        ),
        what="the finished satisfaction instance",
    )[0]
    assert "degerlendirme-kaydedildi" in engine.activity_ids(instance["id"])
    assert not mails(mailbox_dir, to="halkla.iliskiler@belediye.local", containing=tracking)


def test_no_rating_before_closure(api: httpx.Client) -> None:
    tracking, _ = submit(api)
    wait_status(tracking, "mudurlukte")
    early = api.post(f"/requests/{tracking}/rating", json={"score": 4})
    assert early.status_code == 409


# ---------------------------------------------------------------- duplicate reports


def test_a_duplicate_is_merged_into_the_earlier_request_and_gets_its_answer(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    # A spot of its own (no other test's requests within 50 m), then a second report 20 m away.
    lat, lon = 36.70 + random.random() * 0.1, 34.50 + random.random() * 0.1
    first, _ = submit(api, location={"address": "Çiftlikköy Mah. 3. Cd.", "latitude": lat, "longitude": lon})
    first_instance = instance_of(first)
    wait_status(first, "mudurlukte")
    second, body = submit(
        api,
        location={"address": "Çiftlikköy Mah. 3. Cd. karşısı", "latitude": lat + 0.00018, "longitude": lon},
    )
    instance = instance_of(second)
    task = wait_for_task(engine, instance, "talebi-degerlendir")
    listed = engine.task_variables(task.id)["possibleDuplicates"]
    assert listed.startswith(f"{first} (20 m, ")

    # A tracking number that is not an open request of this category: back to the staff, saying why.
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "mukerrer", "duplicateOf": "BI-AAAA-BBBB-CCCC-DDDD"},
        assignee="yol.personel",
    )
    again = poll(
        lambda: next((t for t in engine.tasks(processInstanceId=instance) if t.id != task.id), None),
        what="the assessment back with the reason",
    )
    assert "bulunamadı" in engine.task_variables(again.id)["inputError"]
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "mukerrer", "duplicateOf": first},
        assignee="yol.personel",
    )
    wait_for_state(engine, instance, "COMPLETED")
    assert "birlestirildi" in engine.activity_ids(instance)
    citizen = body["citizen"]["email"]
    (joined,) = wait_mail(mailbox_dir, to=citizen, containing="birleştirilmiştir")
    assert first in body_of(joined) and second in body_of(joined)
    assert wait_status(second, "birlestirildi")["merged_into_id"] is not None

    # The earlier request is answered: the merged one's citizen gets the same answer, once.
    complete(
        engine,
        first_instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Çukur asfaltla kapatıldı, yol açıldı."},
        assignee="yol.personel",
    )
    complete(
        engine,
        first_instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee="halkla.iliskiler",
    )
    (answer,) = wait_mail(mailbox_dir, to=citizen, containing="sonuçlandırılmıştır")
    assert second in body_of(answer) and "Çukur asfaltla kapatıldı" in body_of(answer)
    row = wait_status(second, "kapatildi")
    assert row["answer"] == "olumlu"
