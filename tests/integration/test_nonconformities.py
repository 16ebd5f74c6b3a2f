"""Nonconforming services (clauses 5.2-5.4) on the real engine, PostgreSQL and SMTP: from a request's
closure check and reported on their own; reopen, redirect; the finding and its DİF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.integration.camunda_web import CamundaWeb, poll
from tests.integration.citizen import body_of, complete, events, instance_of, submit, wait_mail, wait_status
from tests.integration.quality import (
    dif_of,
    nonconformity,
    nonconformity_of_request,
    query,
    report,
    task_variable,
    task_variables,
)

CLOSURE_NOTE = "Yerinde kontrolde çukur hâlâ açık; asfalt yalnızca üstten serpilmiş."


def _closure_finds_a_nonconformity(api: httpx.Client, camunda: CamundaWeb) -> tuple[str, dict[str, Any], int]:
    tracking, body = submit(api)
    instance = instance_of(tracking)
    complete(
        camunda, instance, "talebi-degerlendir", {"outcome": "yapildi", "resolution": "Çukur kapatıldı."}
    )
    complete(
        camunda, instance, "kapatma-kontrolu", {"closureDecision": "uygun-degil", "closureNote": CLOSURE_NOTE}
    )
    wait_status(tracking, "uygunsuzluk")
    return tracking, body, instance


def test_reopened_request_goes_back_to_its_directorate_and_then_closes_normally(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
) -> None:
    tracking, body, instance = _closure_finds_a_nonconformity(api, camunda)
    request_id = wait_status(tracking, "uygunsuzluk")["id"]
    nc = nonconformity_of_request(request_id)
    assert (nc["source"], nc["directorate_code"], nc["description"]) == (
        "kapatma-kontrolu",
        "YOL",
        CLOSURE_NOTE,
    )
    assert nc["found_by"] == "demo"  # who completed the closure check in Tasklist

    child = int(nc["process_instance_id"])
    task = camunda.wait_for_task(child, "uygunsuzluk-karari")
    assert task["candidateGroups"] == ["halkla-iliskiler"]
    # Tasklist imports a task's variables a moment after the task itself.
    seen = poll(
        lambda: v if "institutions" in (v := task_variables(camunda, task["id"])) else None,
        what="the decision task's variables in Tasklist",
    )
    assert seen["nonconformityDescription"] == CLOSURE_NOTE
    assert {"label": "MESKİ Genel Müdürlüğü (su ve kanalizasyon)", "value": "MESKI"} in seen["institutions"]
    form = camunda.form("uygunsuzluk-karari", task["processDefinitionKey"])
    assert "Gerekçe" in form["schema"]

    reason = "Asfalt yaması standarda uygun değil; yeniden yapılmalı."
    complete(camunda, child, "uygunsuzluk-karari", {"decision": "yeniden-ac", "justification": reason})
    (reopened,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=nc["number"])
    assert reason in body_of(reopened) and CLOSURE_NOTE in body_of(reopened)
    wait_status(tracking, "yeniden-acildi")

    # Back at the directorate in the same request instance, with its history kept.
    complete(
        camunda,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Yama söküldü, yeniden asfaltlandı."},
    )
    complete(camunda, instance, "kapatma-kontrolu", {"closureDecision": "uygun", "closureNote": ""})
    (answer,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yeniden asfaltlandı")
    assert tracking in body_of(answer)
    row = wait_status(tracking, "kapatildi")
    assert row["answer"] == "olumlu"
    camunda.wait_for_instance_state(instance, "COMPLETED")
    kinds = [e["event"] for e in events(tracking)]
    assert kinds.index("uygunsuzluk-kaydedildi") < kinds.index("yeniden-acildi") < kinds.index("yanitlandi")

    recorded = nonconformity(nc["id"], status="dif-acik")
    assert (recorded["decision"], recorded["justification"], recorded["decided_by"]) == (
        "yeniden-ac",
        reason,
        "demo",
    )
    dif = dif_of(nc["id"])
    wait_mail(mailbox_dir, to="yol.mudur@belediye.local", containing=dif["number"])
    detail = api.get(f"/nonconformities/{nc['id']}").json()
    assert detail["findingNumber"].startswith("BLG-") and detail["difNumber"] == dif["number"]
    assert [h["event"] for h in detail["history"]][:3] == ["kaydedildi", "karar-verildi", "bulgu-acildi"]


def test_redirected_request_notifies_the_institution_and_the_citizen_and_closes(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
) -> None:
    tracking, body, instance = _closure_finds_a_nonconformity(api, camunda)
    nc = nonconformity_of_request(wait_status(tracking, "uygunsuzluk")["id"])
    reason = "Çukur su hattı arızasından kaynaklanıyor; MESKİ'nin görev alanında."
    complete(
        camunda,
        int(nc["process_instance_id"]),
        "uygunsuzluk-karari",
        {"decision": "yonlendir", "institutionCode": "MESKI", "justification": reason},
    )
    (to_meski,) = wait_mail(mailbox_dir, to="bilgi@meski.local", containing=tracking)
    text = body_of(to_meski)
    assert reason in text and "Gazi Mahallesi Şehit İlhan Sokak" in text and "Ayşe Yıldırım Öztürk" in text
    (to_citizen,) = wait_mail(mailbox_dir, to=body["citizen"]["email"], containing="yönlendirilmiştir")
    assert "MESKİ Genel Müdürlüğü" in body_of(to_citizen)
    row = wait_status(tracking, "kuruma-yonlendirildi")
    assert row["answer"] == "yonlendirildi" and row["closed_at"] is not None
    camunda.wait_for_instance_state(instance, "COMPLETED")
    status = api.get(f"/requests/{tracking}").json()
    assert "MESKİ" in status["history"][-1]["text"]
    assert nonconformity(nc["id"], status="dif-acik")["institution_code"] == "MESKI"
    dif_of(nc["id"])


def test_a_decision_without_justification_or_institution_goes_back_with_the_reason(
    api: httpx.Client, camunda: CamundaWeb
) -> None:
    tracking, _, _ = _closure_finds_a_nonconformity(api, camunda)
    nc = nonconformity_of_request(wait_status(tracking, "uygunsuzluk")["id"])
    child = int(nc["process_instance_id"])
    first = complete(
        camunda, child, "uygunsuzluk-karari", {"decision": "yonlendir", "justification": "Görev alanı dışı."}
    )
    again = poll(
        lambda: next(
            (
                t
                for t in camunda.search_tasks(
                    processInstanceKey=str(child), taskDefinitionId="uygunsuzluk-karari", state="CREATED"
                )
                if t["id"] != first["id"]
            ),
            None,
        ),
        what="the decision task back",
    )
    assert (
        task_variable(camunda, again["id"], "inputError")
        == "Yönlendirme için katalogdaki bir kurum seçilmeli."
    )
    complete(
        camunda,
        child,
        "uygunsuzluk-karari",
        {"decision": "yeniden-ac", "justification": " ", "institutionCode": None},
    )
    third = poll(
        lambda: next(
            (
                t
                for t in camunda.search_tasks(
                    processInstanceKey=str(child), taskDefinitionId="uygunsuzluk-karari", state="CREATED"
                )
                if t["id"] not in (first["id"], again["id"])
            ),
            None,
        ),
        what="the decision task back again",
    )
    # The process variable held the first round's message: wait until Tasklist shows the new one.
    expected = "Kararın gerekçesi yazılmalı."
    seen = poll(
        lambda: v if (v := task_variables(camunda, third["id"]).get("inputError")) == expected else None,
        what="the second round's message on the task",
        timeout=30,
    )
    assert seen == expected
    assert query("SELECT decision FROM nonconformities WHERE id = :i", i=str(nc["id"]))[0]["decision"] is None


def test_standalone_nonconformity_opens_a_finding_and_a_dif_without_a_decision(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
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
    assert (
        camunda.search_tasks(
            processInstanceKey=str(row["process_instance_id"]), taskDefinitionId="uygunsuzluk-karari"
        )
        == []
    )
    task = camunda.wait_for_task(int(dif["process_instance_id"]), "eylemleri-planla")
    assert task["candidateGroups"] == ["mudur-temizlik"]
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
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path
) -> None:
    tracking, _ = submit(api)
    first_instance = instance_of(tracking)
    complete(
        camunda, first_instance, "talebi-degerlendir", {"outcome": "yapildi", "resolution": "Kapatıldı."}
    )
    complete(camunda, first_instance, "kapatma-kontrolu", {"closureDecision": "uygun", "closureNote": ""})
    wait_status(tracking, "kapatildi")
    camunda.wait_for_instance_state(first_instance, "COMPLETED")

    reported = report(
        api,
        directorate="YOL",
        source="calisan",
        description="Saha ekibi çukurun bir hafta sonra yeniden açıldığını gördü.",
        requestTrackingNumber=tracking,
    )
    row = nonconformity(reported["id"])
    reason = "İş kalıcı yapılmamış; yeniden ele alınmalı."
    complete(
        camunda,
        int(row["process_instance_id"]),
        "uygunsuzluk-karari",
        {"decision": "yeniden-ac", "justification": reason},
    )
    (reopened,) = wait_mail(mailbox_dir, to="yol.bakim@belediye.local", containing=reported["number"])
    assert reason in body_of(reopened)

    # Its own process had ended: a new instance routes it to the directorate again.
    again = wait_status(tracking, "mudurlukte")
    assert again["process_instance_id"] != first_instance
    camunda.wait_for_task(int(again["process_instance_id"]), "talebi-degerlendir")
    kinds = [e["event"] for e in events(tracking)]
    assert kinds.index("yanitlandi") < kinds.index("yeniden-acildi") < len(kinds) - 1
    assert api.get(f"/requests/{tracking}").json()["closedAt"] is None
    dif_of(reported["id"])
