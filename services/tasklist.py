"""Read from Camunda Tasklist what the engine does not tell a worker: who completed a human step."""

from __future__ import annotations

import logging

import httpx

from services.config import Settings

log = logging.getLogger(__name__)


async def who_completed(settings: Settings, *, process_instance_key: int, element_id: str) -> str | None:
    """The assignee of the latest task of this element (the one just completed), or None."""
    try:
        async with httpx.AsyncClient(base_url=settings.camunda_rest_url, timeout=10) as client:
            login = await client.post(
                "/api/login",
                params={"username": settings.camunda_username, "password": settings.camunda_password},
            )
            login.raise_for_status()
            client.headers["X-CSRF-TOKEN"] = login.headers.get("X-CSRF-TOKEN", "")
            response = await client.post(
                "/v1/tasks/search",
                json={
                    "processInstanceKey": str(process_instance_key),
                    "taskDefinitionId": element_id,
                    # The latest task of that step: its completion may not be imported yet,
                    # but Tasklist records the assignee when the person claims it.
                    "sort": [{"field": "creationTime", "order": "DESC"}],
                    "pageSize": 1,
                },
            )
            response.raise_for_status()
            tasks = response.json()
    except httpx.HTTPError as error:
        # History still records the step; only the person is unknown.
        log.warning(
            "Tasklist unavailable for %s/%s: %s", process_instance_key, element_id, type(error).__name__
        )
        return None
    return str(tasks[0]["assignee"]) if tasks and tasks[0].get("assignee") else None
