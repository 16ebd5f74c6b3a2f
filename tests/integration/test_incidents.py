"""A worker that cannot do its job (here: the mail server is down) retries with a back-off, then
raises an incident that a person understands in Operate; once the cause is fixed and the incident
resolved as in Operate, the instance goes on and the directorate gets its mail exactly once.

Played with the stack's real mailbox: its process is stopped (SIGTERM through its pid file, as
`make down` does) and started again the way `make up` starts it, always, before the next test.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local import processes, stack
from services.config import get_settings
from services.personal_data import EMAIL
from tests.integration.camunda_web import CamundaWeb, poll
from tests.integration.citizen import (
    instance_of,
    mails,
    request_row,
    submit,
    wait_mail,
    wait_status,
)
from workers.failures import MAIL_SERVER_UNREACHABLE, RETRY_BACK_OFF_MS

REPO = Path(__file__).resolve().parents[2]
NOTIFY_STEP = "mudurluge-bildir"  # "Müdürlüğe bildir" in birim-istek
STAFF_TASK = "talebi-degerlendir"
DIRECTORATE_MAIL = "yol.bakim@belediye.local"  # YOL-CUKUR's directorate in the catalogue
ENGINE_DEFAULT_RETRIES = 3


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


def active_incidents(camunda: CamundaWeb, **criteria: Any) -> list[dict[str, Any]]:
    response = camunda.send(
        "POST", "/v1/incidents/search", json={"filter": {"state": "ACTIVE", **criteria}, "size": 1000}
    )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def resolve_incident(camunda: CamundaWeb, incident: dict[str, Any]) -> None:
    """What the incident's "Retry" button in Operate sends (Operate 8.6's own web API). For a job
    without retries left Operate first gives the job one retry, then resolves the incident."""
    response = camunda.send(
        "POST",
        f"/api/process-instances/{incident['processInstanceKey']}/operation",
        json={"operationType": "RESOLVE_INCIDENT", "incidentId": str(incident["key"])},
    )
    response.raise_for_status()


def flow_node(camunda: CamundaWeb, instance: int, element_id: str) -> dict[str, Any] | None:
    response = camunda.send(
        "POST",
        "/v1/flownode-instances/search",
        json={"filter": {"processInstanceKey": instance, "flowNodeId": element_id}, "size": 10},
    )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items[-1] if items else None


def diagram_retries(element_id: str) -> int:
    """The retries birim-istek gives the step; the engine's default when it sets none."""
    tree = ET.parse(REPO / "bpmn" / "birim-istek.bpmn")
    for task in tree.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}serviceTask"):
        if task.get("id") == element_id:
            definition = task.find(".//{http://camunda.org/schema/zeebe/1.0}taskDefinition")
            retries = definition.get("retries") if definition is not None else None
            return int(retries) if retries else ENGINE_DEFAULT_RETRIES
    raise AssertionError(f"no service task {element_id} in birim-istek.bpmn")


@pytest.fixture()
def mail_server(camunda: CamundaWeb) -> Iterator[MailServer]:
    """The mailbox, running again after the test whatever happened; incidents the outage raised
    elsewhere (other instances mailing meanwhile) are resolved as a person would."""
    server = MailServer()
    before = {i["key"] for i in active_incidents(camunda)}
    try:
        yield server
    finally:
        server.start()
        time.sleep(3)  # Operate imports the last failures a moment after the engine
        for incident in active_incidents(camunda):
            if incident["key"] not in before and "SMTP" in (incident.get("message") or ""):
                resolve_incident(camunda, incident)


def test_mail_server_down_raises_an_understandable_incident_and_resolving_it_continues(
    api: httpx.Client, camunda: CamundaWeb, mailbox_dir: Path, mail_server: MailServer
) -> None:
    retries = diagram_retries(NOTIFY_STEP)
    mail_server.stop()

    started = time.monotonic()
    tracking, _ = submit(api)
    instance = instance_of(tracking)
    request_id = str(poll(lambda: request_row(tracking), what=f"request {tracking}")["id"])
    (incident,) = poll(
        lambda: active_incidents(camunda, processInstanceKey=instance) or None,
        what=f"an incident on instance {instance}",
        timeout=60 + retries * (RETRY_BACK_OFF_MS / 1000 + 15),
        every=2,
    )
    waited = time.monotonic() - started
    print(f"\nincident after {waited:.0f} s ({retries} attempts): {incident['message']}")

    # Retried with the back-off before giving up, on the notification step, without mailing.
    assert incident["type"] == "JOB_NO_RETRIES"
    assert waited >= (retries - 1) * RETRY_BACK_OFF_MS / 1000
    node = poll(
        lambda: n if (n := flow_node(camunda, instance, NOTIFY_STEP)) and n.get("incidentKey") else None,
        what=f"the incident on {NOTIFY_STEP}",
    )
    assert node["incidentKey"] == incident["key"]
    workers_log = stack.Layout.from_env().dirs.log_file("workers").read_text()
    attempts = workers_log.count(f"job {incident['jobKey']} failed (")
    assert attempts == retries, f"{attempts} failed attempts logged for job {incident['jobKey']}"
    assert not mails(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id)
    row = request_row(tracking)
    assert row is not None and row["status"] != "mudurlukte"

    # The cause is fixed, the incident resolved the way a person does it in Operate.
    mail_server.start()
    resolve_incident(camunda, incident)

    camunda.wait_for_task(instance, STAFF_TASK)
    wait_mail(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id, timeout=60)
    wait_status(tracking, "mudurlukte")
    poll(
        lambda: True if not active_incidents(camunda, processInstanceKey=instance) else None,
        what=f"the incident of instance {instance} to be gone",
    )
    # Operate clears the step's incident flag a moment after it records the step completed.
    poll(
        lambda: (
            n
            if (n := flow_node(camunda, instance, NOTIFY_STEP))
            and n["state"] == "COMPLETED"
            and not n.get("incident")
            else None
        ),
        what=f"{NOTIFY_STEP} completed without its incident",
    )
    time.sleep(5)  # a second delivery of the job would have mailed by now
    assert len(mails(mailbox_dir, to=DIRECTORATE_MAIL, containing=request_id)) == 1, "mailed twice"

    # Checked last so that a wording problem still leaves the instance resolved: what Operate
    # shows says in plain words that the mail server is the cause, and carries no addresses.
    message = incident["message"]
    assert message.startswith(MAIL_SERVER_UNREACHABLE), f"not understandable: {message!r}"
    assert "SMTP" in message and "mail server" in message
    assert not EMAIL.search(message), f"an e-mail address in the incident: {message!r}"
