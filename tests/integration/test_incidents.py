"""A worker that cannot do its job (here: the mail server is down) retries with a back-off, then
raises an incident that a person understands in Cockpit; once the cause is fixed and the incident
resolved as Cockpit's retry does it, the instance goes on and the directorate gets its mail once.

Played with the stack's real mailbox: its process is stopped (SIGTERM through its pid file, as
`make down` does) and started again the way `make up` starts it, always, before the next test.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from deploy.local import processes, stack
from services.config import get_settings
from services.operaton import Operaton
from services.personal_data import EMAIL
from tests.integration.citizen import (
    instance_of,
    mails,
    request_row,
    submit,
    wait_mail,
    wait_status,
)
from tests.integration.tasklist import poll, wait_for_task
from workers.failures import MAIL_SERVER_UNREACHABLE
from workers.runtime import DEFAULT_RETRIES, DEFAULT_RETRY_BACK_OFF

REPO = Path(__file__).resolve().parents[2]
NOTIFY_STEP = "mudurluge-bildir"  # "Müdürlüğe bildir" in birim-istek
STAFF_TASK = "talebi-degerlendir"
DIRECTORATE_MAIL = "yol.bakim@belediye.local"  # YOL-CUKUR's directorate in the catalogue
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


class MailServer:
    """The stack's own mailbox process (SMTP on 127.0.0.1:2525)."""

    def __init__(self) -> None:
        self.layout = stack.Layout.from_env()
        self.port = get_settings().smtp_port

    def stop(self) -> None:
        assert processes.stop(self.layout.dirs, "mailbox", timeout=30), "the stack's mailbox is not running"
        poll(
            lambda: True if not processes.port_open(self.port) else None,
            what=f"port {self.port} to refuse connections",
            timeout=30,
        )

    def start(self) -> None:
        if processes.read_pid(self.layout.dirs, "mailbox") is None:
            stack.start_mailbox(self.layout)
        poll(
            lambda: True if processes.port_open(self.port) else None,
            what=f"port {self.port} to accept connections",
            timeout=30,
        )


def step_settings(element_id: str) -> tuple[int, float]:
    """The retries and the back-off (seconds) birim-istek gives the step in its extension
    properties; the worker's defaults where it sets none."""
    tree = ET.parse(REPO / "bpmn" / "birim-istek.bpmn")
    for task in tree.iter(f"{BPMN}serviceTask"):
        if task.get("id") == element_id:
            properties = {p.get("name"): p.get("value") for p in task.iter(f"{CAMUNDA}property")}
            retries = int(properties.get("retries") or DEFAULT_RETRIES)
            back_off = DEFAULT_RETRY_BACK_OFF
            if properties.get("retryBackOff"):
                back_off = TypeAdapter(timedelta).validate_python(properties["retryBackOff"])
            return retries, back_off.total_seconds()
    raise AssertionError(f"no service task {element_id} in birim-istek.bpmn")


def external_task(engine: Operaton, external_task_id: str) -> dict[str, Any]:
    """The external task as Cockpit shows it on the incident (message, retries left)."""
    found: dict[str, Any] = engine.json("GET", f"/external-task/{external_task_id}")
    return found


def error_details(engine: Operaton, external_task_id: str) -> str:
    """What Cockpit shows behind the incident's message (the stack trace)."""
    return engine.call("GET", f"/external-task/{external_task_id}/errorDetails").text


def resolve(engine: Operaton, incident: dict[str, Any]) -> None:
    """Cockpit's "retry" on an external task's incident: the task gets a retry (the incident's
    configuration is the external task's id), which resolves the incident."""
    assert incident["incidentType"] == "failedExternalTask", incident
    engine.retry_external_task(incident["configuration"])


def mail_incidents(engine: Operaton) -> dict[str, dict[str, Any]]:
    return {
        i["id"]: i
        for i in engine.incidents(incidentType="failedExternalTask")
        if "SMTP" in (i.get("incidentMessage") or "")
    }


@pytest.fixture()
def mail_server(engine: Operaton) -> Iterator[MailServer]:
    """The mailbox, running again after the test whatever happened; incidents the outage raised
    elsewhere (other instances mailing meanwhile) are resolved as a person would."""
    server = MailServer()
    before = set(mail_incidents(engine))
    try:
        yield server
    finally:
        server.start()
        for incident_id, incident in mail_incidents(engine).items():
            if incident_id not in before:
                resolve(engine, incident)


def test_mail_server_down_raises_an_understandable_incident_and_resolving_it_continues(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, mail_server: MailServer
) -> None:
    retries, back_off = step_settings(NOTIFY_STEP)
    mail_server.stop()

    started = time.monotonic()
    # The receipt goes by SMS: the directorate's notice is the first mail the outage stops.
    tracking, _ = submit(api, preferredAnswerChannel="sms")
    instance = instance_of(tracking)
    request_id = str(poll(lambda: request_row(tracking), what=f"request {tracking}")["id"])
    (incident,) = poll(
        lambda: engine.incidents(processInstanceId=instance) or None,
        what=f"an incident on instance {instance}",
        timeout=60 + retries * (back_off + 15),
        every=1,
    )
    waited = time.monotonic() - started
    message = incident["incidentMessage"] or ""
    print(f"\nincident after {waited:.0f} s ({retries} attempts): {message}")

    # Retried with the back-off before giving up, on the notification step, without mailing.
    assert incident["incidentType"] == "failedExternalTask"
    assert incident["activityId"] == NOTIFY_STEP
    assert waited >= (retries - 1) * back_off
    task_id = incident["configuration"]
    task = external_task(engine, task_id)
    assert (task["activityId"], task["retries"], task["errorMessage"]) == (NOTIFY_STEP, 0, message)
    details = error_details(engine, task_id)
    assert "Traceback" in details and "SMTP" in details
    workers_log = stack.Layout.from_env().dirs.log_file("workers").read_text()
    attempts = workers_log.count(f"task {task_id} failed (")
    assert attempts == retries, f"{attempts} failed attempts logged for external task {task_id}"
    assert not mails(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id)
    row = request_row(tracking)
    assert row is not None and row["status"] != "mudurlukte"

    # The cause is fixed, the incident resolved the way a person does it in Cockpit.
    mail_server.start()
    resolve(engine, incident)

    wait_for_task(engine, instance, STAFF_TASK)
    wait_mail(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id, timeout=60)
    wait_status(tracking, "mudurlukte")
    assert engine.incidents(processInstanceId=instance) == []
    (resolved,) = engine.json("GET", "/history/incident", params={"processInstanceId": instance})
    assert resolved["id"] == incident["id"] and resolved["resolved"] is True
    (step,) = [a for a in engine.activities(instance) if a["activityId"] == NOTIFY_STEP]
    assert step["endTime"] is not None and not step["canceled"]
    # The step's task is done and gone from the engine: nothing can deliver it again, and its
    # mail went out before it completed.
    assert engine.json("GET", "/external-task", params={"processInstanceId": instance}) == []
    assert len(mails(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id)) == 1, "mailed twice"

    # Checked last so that a wording problem still leaves the instance resolved: what Cockpit
    # shows says in plain words that the mail server is the cause, and carries no addresses.
    assert message.startswith(MAIL_SERVER_UNREACHABLE), f"not understandable: {message!r}"
    assert "SMTP" in message and "mail server" in message and "retry this incident in Cockpit" in message
    assert not EMAIL.search(message), f"an e-mail address in the incident: {message!r}"
    assert not EMAIL.search(details), "an e-mail address in the incident's details"
