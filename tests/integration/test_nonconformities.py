"""Nonconforming services (clauses 5.2-5.4) on the real engine, PostgreSQL and SMTP: from a request's
closure check and reported on their own; reopen, redirect; the finding and its DİF. Each human step
is done in Tasklist by its person: the directorate's staff (yol.personel) and Public Relations
(halkla.iliskiler: the closure check and the decision)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from services.operaton import Operaton
from services.process_engine import HumanTask
from tests.integration.citizen import (
    body_of,
    end_objection_period,
    events,
    instance_of,
    submit,
    wait_mail,
    wait_status,
)
from tests.integration.quality import (
    candidate_groups,
    dif_of,
    nonconformity,
    nonconformity_of_request,
    query,
    report,
    task_variable,
    task_variables,
)
from tests.integration.tasklist import complete, person, poll, wait_for_state, wait_for_task

STAFF = "yol.personel"  # YOL-CUKUR's directorate
PUBLIC_RELATIONS = "halkla.iliskiler"
CLOSURE_NOTE = "Yerinde kontrolde çukur hâlâ açık; asfalt yalnızca üstten serpilmiş."


def _closure_finds_a_nonconformity(api: httpx.Client, engine: Operaton) -> tuple[str, dict[str, Any], str]:
    tracking, body = submit(api)
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Çukur kapatıldı."},
        assignee=STAFF,
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun-degil", "closureNote": CLOSURE_NOTE},
        assignee=PUBLIC_RELATIONS,
    )
    wait_status(tracking, "uygunsuzluk")
    return tracking, body, instance


def _decide(engine: Operaton, instance: str, variables: dict[str, Any]) -> HumanTask:
    """Public Relations decides on the nonconformity in Tasklist."""
    return complete(engine, instance, "uygunsuzluk-karari", variables, assignee=PUBLIC_RELATIONS)


def _decision_task_back(engine: Operaton, instance: str, handled: set[str]) -> HumanTask:
    return poll(
        lambda: next(
            (
                t
                for t in engine.tasks(processInstanceId=instance, taskDefinitionKey="uygunsuzluk-karari")
                if t.id not in handled
            ),
            None,
        ),
        what="the decision task back",
    )


def test_reopened_request_goes_back_to_its_directorate_and_then_closes_normally(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body, instance = _closure_finds_a_nonconformity(api, engine)
    request_id = wait_status(tracking, "uygunsuzluk")["id"]
    nc = nonconformity_of_request(request_id)
    assert (nc["source"], nc["directorate_code"], nc["description"]) == (
        "kapatma-kontrolu",
        "YOL",
        CLOSURE_NOTE,
    )
    assert nc["found_by"] == PUBLIC_RELATIONS  # who completed the closure check in Tasklist

    child = str(nc["process_instance_id"])
    task = wait_for_task(engine, child, "uygunsuzluk-karari")
    assert candidate_groups(engine, task.id) == ["halkla-iliskiler"]
    # What Public Relations' Tasklist fills the decision form from.
    seen = task_variables(person(PUBLIC_RELATIONS), task.id)
    assert seen["nonconformityDescription"] == CLOSURE_NOTE
    assert {"label": "MESKİ Genel Müdürlüğü (su ve kanalizasyon)", "value": "MESKI"} in seen["institutions"]
    form = person(PUBLIC_RELATIONS).deployed_form(task.id)
    assert form["id"] == "uygunsuzluk-karari"
    assert "Gerekçe" in json.dumps(form, ensure_ascii=False)

    reason = "Asfalt yaması standarda uygun değil; yeniden yapılmalı."
    _decide(engine, child, {"decision": "yeniden-ac", "justification": reason})
    (reopened,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=nc["number"])
    assert reason in body_of(reopened) and CLOSURE_NOTE in body_of(reopened)
    wait_status(tracking, "yeniden-acildi")

    # Back at the directorate in the same request instance, with its history kept.
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Yama söküldü, yeniden asfaltlandı."},
        assignee=STAFF,
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee=PUBLIC_RELATIONS,
    )
    (answer,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yeniden asfaltlandı")
    assert tracking in body_of(answer)
    row = wait_status(tracking, "kapatildi")
    assert row["answer"] == "olumlu"
    end_objection_period(engine, instance)
    kinds = [e["event"] for e in events(tracking)]
    assert kinds.index("uygunsuzluk-kaydedildi") < kinds.index("yeniden-acildi") < kinds.index("yanitlandi")

    recorded = nonconformity(nc["id"], status="dif-acik")
    assert (recorded["decision"], recorded["justification"], recorded["decided_by"]) == (
        "yeniden-ac",
        reason,
        PUBLIC_RELATIONS,
    )
    dif = dif_of(nc["id"])
    wait_mail(mailbox_dir, to="yol.mudur@belediye.local", containing=dif["number"])
    detail = api.get(f"/nonconformities/{nc['id']}").json()
    assert detail["findingNumber"].startswith("BLG-") and detail["difNumber"] == dif["number"]
    assert [h["event"] for h in detail["history"]][:3] == ["kaydedildi", "karar-verildi", "bulgu-acildi"]


def test_redirected_request_notifies_the_institution_and_the_citizen_and_closes(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, body, instance = _closure_finds_a_nonconformity(api, engine)
    nc = nonconformity_of_request(wait_status(tracking, "uygunsuzluk")["id"])
    reason = "Çukur su hattı arızasından kaynaklanıyor; MESKİ'nin görev alanında."
    _decide(
        engine,
        str(nc["process_instance_id"]),
        {"decision": "yonlendir", "institutionCode": "MESKI", "justification": reason},
    )
    (to_meski,) = wait_mail(mailbox_dir, to="bilgi@meski.local", containing=tracking)
    text = body_of(to_meski)
    assert reason in text and "Gazi Mahallesi Şehit İlhan Sokak" in text and "Ayşe Yıldırım Öztürk" in text
    (to_citizen,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yönlendirilmiştir")
    assert "MESKİ Genel Müdürlüğü" in body_of(to_citizen)
    row = wait_status(tracking, "kuruma-yonlendirildi")
    assert row["answer"] == "yonlendirildi" and row["closed_at"] is not None
    wait_for_state(engine, instance, "COMPLETED")
    status = api.get(f"/requests/{tracking}").json()
    assert "MESKİ" in status["history"][-1]["text"]
    assert nonconformity(nc["id"], status="dif-acik")["institution_code"] == "MESKI"
    dif_of(nc["id"])


def test_a_decision_without_justification_or_institution_goes_back_with_the_reason(
    api: httpx.Client, engine: Operaton
) -> None:
    tracking, _, _ = _closure_finds_a_nonconformity(api, engine)
    nc = nonconformity_of_request(wait_status(tracking, "uygunsuzluk")["id"])
    child = str(nc["process_instance_id"])
    first = _decide(engine, child, {"decision": "yonlendir", "justification": "Görev alanı dışı."})
    again = _decision_task_back(engine, child, {first.id})
    assert (
        task_variable(engine, again.id, "inputError") == "Yönlendirme için katalogdaki bir kurum seçilmeli."
    )
    _decide(engine, child, {"decision": "yeniden-ac", "justification": " ", "institutionCode": None})
    third = _decision_task_back(engine, child, {first.id, again.id})
    # The process variable held the first round's message: the form shows the new one.
    expected = "Kararın gerekçesi yazılmalı."
    assert task_variables(engine, third.id).get("inputError") == expected
    assert query("SELECT decision FROM nonconformities WHERE id = :i", i=str(nc["id"]))[0]["decision"] is None


def test_standalone_nonconformity_opens_a_finding_and_a_dif_without_a_decision(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    reported = report(api, directorate="TEMIZLIK", source="ic-tetkik", foundBy="tetkikci.mehmet")
    assert reported["number"].startswith("UOH-") and reported["status"] == "bildirildi"
    again = api.post(
        "/nonconformities",
        json={
            "directorateCode": "TEMIZLIK",
            "description": reported["description"],
            "source": "ic-tetkik",
            "foundBy": "tetkikci.mehmet",
            "reference": _reference_of(reported["id"]),
        },
    )
    assert again.status_code == 200 and again.json()["id"] == reported["id"]

    row = nonconformity(reported["id"], status="dif-acik")
    dif = dif_of(reported["id"])
    # No decision step was ever created (open or done) in the nonconformity's instance.
    assert (
        engine.json(
            "GET",
            "/history/task",
            params={
                "processInstanceId": str(row["process_instance_id"]),
                "taskDefinitionKey": "uygunsuzluk-karari",
            },
        )
        == []
    )
    task = wait_for_task(engine, str(dif["process_instance_id"]), "eylemleri-planla")
    assert candidate_groups(engine, task.id) == ["mudur-temizlik"]
    (opened,) = wait_mail(mailbox_dir, to="temizlik.mudur@belediye.local", containing=dif["number"])
    assert "İğdır caddesindeki çöp konteynerlerinin" in body_of(opened)

    listed = api.get("/nonconformities", params={"directorate": "TEMIZLIK", "source": "ic-tetkik"}).json()
    assert reported["id"] in [item["id"] for item in listed["items"]]
    findings = api.get("/findings", params={"directorate": "TEMIZLIK", "open": True}).json()["items"]
    assert dif["number"] in [f["difNumber"] for f in findings]


def _reference_of(nonconformity_id: str) -> str:
    return str(
        query("SELECT reference FROM nonconformities WHERE id = :i", i=nonconformity_id)[0]["reference"]
    )


def test_bad_nonconformity_reports_get_a_clear_4xx(api: httpx.Client) -> None:
    base = {
        "directorateCode": "YOL",
        "description": "Kaldırım taşları eksik bırakılmış.",
        "source": "calisan",
        "foundBy": "mehmet",
    }
    cases = [
        ({"directorateCode": "YOKBOYLE"}, 422, "unknown directorate"),
        ({"source": "kapatma-kontrolu"}, 422, "source"),
        ({"description": "kısa"}, 422, "description"),
        ({"requestTrackingNumber": "BI-YOK-YOK-YOK-YOK"}, 422, "no request"),
    ]
    for change, code, text in cases:
        response = api.post("/nonconformities", json={**base, **change})
        assert response.status_code == code, (change, response.text)
        assert text in response.text, (change, response.text)


def test_a_nonconformity_about_a_request_still_open_is_refused(api: httpx.Client) -> None:
    tracking, _ = submit(api)
    wait_status(tracking, "mudurlukte")
    response = api.post(
        "/nonconformities",
        json={
            "directorateCode": "YOL",
            "description": "Ekip sahaya hiç gitmemiş.",
            "source": "calisan",
            "foundBy": "mehmet",
            "requestTrackingNumber": tracking,
        },
    )
    assert response.status_code == 409 and "still open" in response.text


def test_an_employee_reopens_a_closed_request_and_it_starts_over_at_its_directorate(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path
) -> None:
    tracking, _ = submit(api)
    first_instance = instance_of(tracking)
    complete(
        engine,
        first_instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Kapatıldı."},
        assignee=STAFF,
    )
    complete(
        engine,
        first_instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee=PUBLIC_RELATIONS,
    )
    wait_status(tracking, "kapatildi")
    end_objection_period(engine, first_instance)

    reported = report(
        api,
        directorate="YOL",
        source="calisan",
        description="Saha ekibi çukurun bir hafta sonra yeniden açıldığını gördü.",
        requestTrackingNumber=tracking,
    )
    row = nonconformity(reported["id"])
    reason = "İş kalıcı yapılmamış; yeniden ele alınmalı."
    _decide(engine, str(row["process_instance_id"]), {"decision": "yeniden-ac", "justification": reason})
    (reopened,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=reported["number"])
    assert reason in body_of(reopened)

    # Its own process had ended: a new instance routes it to the directorate again.
    again = wait_status(tracking, "mudurlukte")
    assert again["process_instance_id"] != first_instance
    wait_for_task(engine, str(again["process_instance_id"]), "talebi-degerlendir")
    kinds = [e["event"] for e in events(tracking)]
    assert kinds.index("yanitlandi") < kinds.index("yeniden-acildi") < len(kinds) - 1
    assert api.get(f"/requests/{tracking}").json()["closedAt"] is None
    dif_of(reported["id"])
