"""Helpers for nonconformities and DİFs: reading our records as the API and the database show them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from services.config import get_settings
from tests.integration.camunda_web import CamundaWeb, poll
from tests.integration.citizen import complete

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
    camunda: CamundaWeb,
    instance: int,
    actions: list[dict[str, Any]],
    root_cause: str = "Toplama rotası güncel değil.",
) -> dict[str, Any]:
    return complete(camunda, instance, "eylemleri-planla", {"rootCause": root_cause, "actions": actions})


def action(description: str, due: str, responsible: str = "demo") -> dict[str, Any]:
    return {
        "description": description,
        "responsible": responsible,
        "responsibleEmail": f"{responsible}.personel@belediye.local",
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
        data={"uploadedBy": "demo"},
    )


def tasks_of(camunda: CamundaWeb, instance: int, element: str, count: int) -> list[dict[str, Any]]:
    return poll(
        lambda: (
            t
            if len(
                t := camunda.search_tasks(
                    processInstanceKey=str(instance), taskDefinitionId=element, state="CREATED"
                )
            )
            >= count
            else None
        ),
        what=f"{count} open {element} task(s) of {instance}",
    )


def task_variables(camunda: CamundaWeb, task_id: str) -> dict[str, Any]:
    """What the task's form is filled from (Tasklist's variables of the task)."""
    import json

    response = camunda.send("POST", f"/v1/tasks/{task_id}/variables/search", json={})
    response.raise_for_status()
    return {v["name"]: json.loads(v["value"]) for v in response.json()}


def task_variable(camunda: CamundaWeb, task_id: str, name: str) -> Any:
    """A variable of the task once Tasklist has imported it (it lags the engine a little)."""
    return poll(
        lambda: v if (v := task_variables(camunda, task_id).get(name)) is not None else None,
        what=f"variable {name} of task {task_id}",
    )
