"""Helpers for nonconformities and DİFs: reading our records as the API and the database show them,
and the DİF's steps as their people do them in Tasklist (the directorate's director plans and
approves, each action's owner, an engine user, works their own action)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from services.config import get_settings
from services.operaton import Operaton
from services.process_engine import HumanTask
from tests.integration.tasklist import complete, poll

AUDIT_FINDING = (
    "Şikâyet kayıtlarında İğdır caddesindeki çöp konteynerlerinin üç gündür boşaltılmadığı görüldü."
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def query(sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            return [dict(r) for r in connection.execute(text(sql), params).mappings().all()]
    finally:
        engine.dispose()


def nonconformity_of_request(request_id: Any) -> dict[str, Any]:
    return poll(
        lambda: next(
            iter(
                query(
                    "SELECT * FROM nonconformities WHERE request_id = :r "
                    "AND process_instance_id IS NOT NULL ORDER BY found_at DESC",
                    r=request_id,
                )
            ),
            None,
        ),
        what=f"the nonconformity of request {request_id}",
    )


def nonconformity(nonconformity_id: Any, *, status: str | None = None) -> dict[str, Any]:
    return poll(
        lambda: next(
            (
                r
                for r in query("SELECT * FROM nonconformities WHERE id = :i", i=str(nonconformity_id))
                if r["process_instance_id"] and (status is None or r["status"] == status)
            ),
            None,
        ),
        what=f"nonconformity {nonconformity_id} in status {status}",
    )


def dif_of(nonconformity_id: Any) -> dict[str, Any]:
    """The DİF opened on the nonconformity's finding, once its process runs."""
    return poll(
        lambda: next(
            iter(
                query(
                    "SELECT d.* FROM difs d JOIN findings f ON f.id = d.finding_id "
                    "WHERE f.nonconformity_id = :n AND d.process_instance_id IS NOT NULL",
                    n=str(nonconformity_id),
                )
            ),
            None,
        ),
        what=f"the DİF of nonconformity {nonconformity_id}",
    )


def wait_dif_status(api: httpx.Client, dif_id: Any, status: str, timeout: float = 60) -> dict[str, Any]:
    return poll(
        lambda: d if (d := api.get(f"/difs/{dif_id}").json())["status"] == status else None,
        what=f"DİF {dif_id} in status {status}",
        timeout=timeout,
    )


def report(api: httpx.Client, directorate: str = "TEMIZLIK", **overrides: Any) -> dict[str, Any]:
    body = {
        "directorateCode": directorate,
        "description": AUDIT_FINDING,
        "source": "denetim",
        "foundBy": "denetci.ayse",
        "reference": f"DNT-{uuid.uuid4()}",
        **overrides,
    }
    response = api.post("/nonconformities", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def plan(
    engine: Operaton,
    instance: str,
    actions: list[dict[str, Any]],
    root_cause: str = "Toplama rotası güncel değil.",
    director: str = "yol.mudur",
) -> HumanTask:
    """The directorate's director fills in the root cause and the actions in Tasklist."""
    return complete(
        engine,
        instance,
        "eylemleri-planla",
        {"rootCause": root_cause, "actions": actions},
        assignee=director,
    )


def action(description: str, due: str, responsible: str = "yol.personel") -> dict[str, Any]:
    """One planned action; its owner is an engine user, who works the action's task in Tasklist."""
    return {
        "description": description,
        "responsible": responsible,
        "responsibleEmail": f"{responsible}@belediye.local",
        "dueDate": due,
    }


def upload(
    api: httpx.Client,
    dif_id: Any,
    action_id: Any,
    content: bytes = PDF,
    *,
    name: str = "tutanak-çöp-toplama.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    return api.post(
        f"/difs/{dif_id}/actions/{action_id}/evidence",
        files={"file": (name, content, content_type)},
    )


def tasks_of(engine: Operaton, instance: str, activity: str, count: int) -> list[HumanTask]:
    return poll(
        lambda: (
            t
            if len(t := engine.tasks(processInstanceId=instance, taskDefinitionKey=activity)) >= count
            else None
        ),
        what=f"{count} open {activity} task(s) of {instance}",
    )


def candidate_groups(engine: Operaton, task_id: str) -> list[str]:
    """The groups Tasklist offers the task to (its candidate identity links)."""
    links = engine.json("GET", f"/task/{task_id}/identity-links", params={"type": "candidate"})
    return sorted(link["groupId"] for link in links if link.get("groupId"))


def task_variables(engine: Operaton, task_id: str) -> dict[str, Any]:
    """What the task's form is filled from (the variables Tasklist reads for the task)."""
    return engine.task_variables(task_id)


def task_variable(engine: Operaton, task_id: str, name: str) -> Any:
    """A variable of the task, once it is set (some are set by a worker or the API meanwhile)."""
    return poll(
        lambda: v if (v := task_variables(engine, task_id).get(name)) is not None else None,
        what=f"variable {name} of task {task_id}",
    )
