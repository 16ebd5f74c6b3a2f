"""The whole chain on the real parts: API → PostgreSQL → outbox → engine → worker → SMTP →
Tasklist (REST, as the system administrator would) → worker → instance completed."""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx

from services.operaton import Operaton
from tests.integration.tasklist import complete, person, poll, wait_for_state, wait_for_task

TURKISH = "İı Şş Ğğ Çç Öö Üü"


def _status(api: httpx.Client, check_id: str, wanted: str) -> dict[str, Any] | None:
    body: dict[str, Any] = api.get(f"/system-checks/{check_id}").raise_for_status().json()
    return body if body["status"] == wanted else None


def _mail_mentioning(mailbox: Path, marker: str) -> Any:
    for path in sorted(mailbox.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        if body is not None and marker in body.get_content():
            return message
    return None


def test_system_check_runs_through_every_part(api: httpx.Client, engine: Operaton, mailbox_dir: Path) -> None:
    created = api.post("/system-checks", json={"requestedBy": "smoke-test"})
    assert created.status_code == 201, created.text
    check_id = created.json()["id"]
    assert api.get(created.json()["statusUrl"]).status_code == 200

    notified = poll(lambda: _status(api, check_id, "notified"), what="notification sent", timeout=90)
    instance = str(notified["processInstanceId"])

    mail = poll(lambda: _mail_mentioning(mailbox_dir, check_id), what="mail in the mailbox")
    assert TURKISH in mail.get_body(preferencelist=("plain",)).get_content()
    assert "Sistem kontrolü" in mail["Subject"]

    task = wait_for_task(engine, instance, "bildirimi-dogrula")
    assert task.name == "Bildirimi doğrula"
    links = engine.json("GET", f"/task/{task.id}/identity-links", params={"type": "candidate"})
    assert "sistem-yoneticileri" in {link["groupId"] for link in links}
    # The form the administrator opens in Tasklist.
    form = person("yonetici").deployed_form(task.id)
    assert "Doğrulayan" in json.dumps(form, ensure_ascii=False)

    complete(
        engine,
        instance,
        "bildirimi-dogrula",
        {"mailReceived": True, "confirmedBy": "yonetici", "note": "Şube testi"},
        assignee="yonetici",
    )

    done = poll(lambda: _status(api, check_id, "completed"), what="system check completed", timeout=60)
    assert done["confirmedBy"] == "yonetici"
    assert engine.who_completed(instance, "bildirimi-dogrula") == "yonetici"
    wait_for_state(engine, instance, "COMPLETED")


def test_unknown_system_check_is_404(api: httpx.Client) -> None:
    response = api.get("/system-checks/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


def test_malformed_system_check_id_is_422_naming_the_field(api: httpx.Client) -> None:
    response = api.get("/system-checks/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "check_id"
