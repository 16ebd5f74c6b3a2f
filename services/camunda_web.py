"""What Tasklist and Operate do in the browser, over their REST APIs (Camunda 8.6).

Camunda 8.6 protects its web APIs with a session cookie from /api/login and a CSRF token;
that is what a person's browser holds after logging in to Tasklist as demo/demo. Used by the
process coverage report and by the integration tests (acting as people in Tasklist).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from services.config import Settings, get_settings

T = TypeVar("T")


class CamundaWeb:
    def __init__(self, client: httpx.Client, username: str, password: str) -> None:
        self._client = client
        self._credentials = (username, password)

    def _login(self) -> None:
        username, password = self._credentials
        response = self._client.post("/api/login", params={"username": username, "password": password})
        response.raise_for_status()
        self._client.headers["X-CSRF-TOKEN"] = response.headers["X-CSRF-TOKEN"]

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Like a browser after an engine restart: log in again when the session is gone."""
        response = self._client.request(method, url, **kwargs)
        if response.status_code == 401:
            self._login()
            response = self._client.request(method, url, **kwargs)
        return response

    @classmethod
    def login(cls, settings: Settings | None = None) -> CamundaWeb:
        """Log in as the configured Camunda user (demo/demo on the local stack)."""
        settings = settings or get_settings()
        client = httpx.Client(base_url=settings.camunda_rest_url, timeout=15)
        web = cls(client, settings.camunda_username, settings.camunda_password)
        web._login()
        return web

    def __enter__(self) -> CamundaWeb:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.close()

    # ---------------------------------------------------------------- Tasklist

    def search_tasks(self, **criteria: Any) -> list[dict[str, Any]]:
        response = self.send("POST", "/v1/tasks/search", json=criteria)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def wait_for_task(self, process_instance_id: str, task_definition_id: str) -> dict[str, Any]:
        """Tasklist reads exported data, which lags the engine a little: poll."""
        return poll(
            lambda: next(
                iter(
                    self.search_tasks(
                        processInstanceKey=str(process_instance_id),
                        taskDefinitionId=task_definition_id,
                        state="CREATED",
                    )
                ),
                None,
            ),
            what=f"task {task_definition_id} of instance {process_instance_id}",
        )

    def form(self, form_id: str, process_definition_key: str) -> dict[str, Any]:
        response = self.send(
            "GET", f"/v1/forms/{form_id}", params={"processDefinitionKey": process_definition_key}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def assign_task(self, task_id: str, assignee: str) -> None:
        """Claim the task; one assigned to someone else is first taken back, as a manager does."""
        response = self.send("PATCH", f"/v1/tasks/{task_id}/assign", json={"assignee": assignee})
        if response.status_code == 400 and "already assigned" in response.text:
            self.send("PATCH", f"/v1/tasks/{task_id}/unassign").raise_for_status()
            response = self.send("PATCH", f"/v1/tasks/{task_id}/assign", json={"assignee": assignee})
        response.raise_for_status()

    def complete_task(self, task_id: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"variables": [{"name": k, "value": json.dumps(v)} for k, v in variables.items()]}
        response = self.send("PATCH", f"/v1/tasks/{task_id}/complete", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    # ---------------------------------------------------------------- Operate

    def process_instance(self, key: int) -> dict[str, Any] | None:
        response = self.send("GET", f"/v1/process-instances/{key}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def variables_of(self, process_instance_id: str) -> list[dict[str, Any]]:
        response = self.send(
            "POST",
            "/v1/variables/search",
            json={"filter": {"processInstanceKey": process_instance_id}, "size": 1000},
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_for_instance_state(self, key: int, state: str) -> dict[str, Any]:
        return poll(
            lambda: inst if (inst := self.process_instance(key)) and inst["state"] == state else None,
            what=f"instance {key} in state {state}",
        )

    def process_instances(self, bpmn_process_id: str) -> Iterator[dict[str, Any]]:
        """Every instance of a process (all versions), page by page."""
        after: list[Any] | None = None
        while True:
            query: dict[str, Any] = {
                "filter": {"bpmnProcessId": bpmn_process_id},
                "size": 500,
                "sort": [{"field": "key", "order": "ASC"}],
            }
            if after:
                query["searchAfter"] = after
            response = self.send("POST", "/v1/process-instances/search", json=query)
            response.raise_for_status()
            page = response.json()
            yield from page["items"]
            if len(page["items"]) < 500:
                return
            after = page["sortValues"]

    def flow_node_ids(self, process_instance_id: str) -> set[str]:
        response = self.send(
            "POST",
            "/v1/flownode-instances/search",
            json={"filter": {"processInstanceKey": process_instance_id}, "size": 1000},
        )
        response.raise_for_status()
        return {item["flowNodeId"] for item in response.json()["items"]}

    def sequence_flow_ids(self, process_instance_id: str) -> set[str]:
        """Operate's own view of the flows an instance took (its internal API, as its UI uses)."""
        response = self.send("GET", f"/api/process-instances/{process_instance_id}/sequence-flows")
        response.raise_for_status()
        return {item["activityId"] for item in response.json()}


def poll(fetch: Callable[[], T | None], *, what: str, timeout: float = 60.0, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found is not None:
            return found
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
