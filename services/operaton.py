"""Operaton (Apache 2.0, the Camunda 7 engine's continuation) over its REST API.

`Operaton` is the engine port's adapter plus what Tasklist and Cockpit do in a browser (tasks,
forms, history, incidents), used by the tools and the tests: one client for all of it.
`ExternalTasks` is the asynchronous long-polling side the workers use. Both speak
`/engine-rest` with HTTP Basic as an engine user; variables travel typed (`{"value", "type"}`),
lists and dicts as Spin `Json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from services.process_engine import (
    EngineRefused,
    EngineUnavailable,
    HumanTask,
)

# The variable an instance started through `start_by_message` carries: the caller's start id.
STARTED_BY = "startedBy"
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


# ---------------------------------------------------------------- variables


def typed(value: Any) -> dict[str, Any]:
    """A Python value as an Operaton typed variable."""
    if value is None:
        return {"value": None, "type": "Null"}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean"}
    if isinstance(value, int):
        return {"value": value, "type": "Integer" if _INT_MIN <= value <= _INT_MAX else "Long"}
    if isinstance(value, float):
        return {"value": value, "type": "Double"}
    if isinstance(value, str):
        return {"value": value, "type": "String"}
    if isinstance(value, datetime):
        return {"value": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "type": "Date"}
    if isinstance(value, list | tuple | dict):
        return {"value": json.dumps(value, ensure_ascii=False), "type": "Json"}
    raise TypeError(f"cannot send a {type(value).__name__} as a process variable")


def typed_all(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: typed(value) for name, value in variables.items()}


def plain(variable: Mapping[str, Any]) -> Any:
    """An Operaton typed variable as a Python value (Json and JSON-serialised objects decoded)."""
    value = variable.get("value")
    kind = variable.get("type")
    info = variable.get("valueInfo") or {}
    if isinstance(value, str) and (
        kind == "Json" or (kind == "Object" and info.get("serializationDataFormat") == "application/json")
    ):
        return json.loads(value)
    return value


def plain_all(variables: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    return {name: plain(v) for name, v in (variables or {}).items()}


# ---------------------------------------------------------------- the client


class Operaton:
    """The engine port over REST, plus Tasklist's and Cockpit's calls. Thread-safe."""

    def __init__(
        self,
        rest_url: str,
        username: str = "",
        password: str = "",
        *,
        timeout: float = 15.0,
        auth: httpx.Auth | None = None,
    ) -> None:
        """As an engine user by HTTP Basic, or with `auth` (e.g. a member of staff's bearer token,
        which the engine accepts with single sign-on)."""
        self.rest_url = rest_url.rstrip("/")
        self._http = httpx.Client(base_url=self.rest_url, auth=auth or (username, password), timeout=timeout)

    def __enter__(self) -> Operaton:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ plumbing

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One REST call; a refusal raises EngineRefused with the engine's message."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise _unavailable(error, path) from error
        if response.status_code >= 400:
            raise _refusal(response, path)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        return response.json() if response.content else None

    # ------------------------------------------------------------ the port

    def reachable(self) -> tuple[bool, str]:
        try:
            self.json("GET", "/version")
        except EngineUnavailable as error:
            return False, str(error)
        except EngineRefused as error:
            return False, f"HTTP {error.status}"
        return True, "ok"

    def deploy(self, name: str, files: Sequence[Path], *, source: str) -> str:
        """One deployment of these files together (a diagram with its forms); an unchanged set is
        kept as it was. Returns the deployment's id."""
        uploads = [(f.name, (f.name, f.read_bytes(), "application/octet-stream")) for f in files]
        body = self.json(
            "POST",
            "/deployment/create",
            data={"deployment-name": name, "deployment-source": source, "enable-duplicate-filtering": "true"},
            files=uploads,
        )
        return str(body["id"])

    def start_by_message(
        self, message: str, *, business_key: str, variables: Mapping[str, Any], start_id: str
    ) -> str:
        results = self.json(
            "POST",
            "/message",
            json={
                "messageName": message,
                "businessKey": business_key,
                "processVariables": typed_all({**variables, STARTED_BY: start_id}),
                "resultEnabled": True,
            },
        )
        instance = results[0].get("processInstance") if results else None
        if not instance:
            raise EngineRefused(409, f"message {message} started no process instance")
        return str(instance["id"])

    def started_instance(self, start_id: str) -> str | None:
        found = self.json(
            "POST",
            "/history/process-instance",
            json={"variables": [{"name": STARTED_BY, "operator": "eq", "value": start_id}]},
            params={"maxResults": 1},
        )
        return str(found[0]["id"]) if found else None

    def correlate(self, message: str, *, business_key: str, variables: Mapping[str, Any]) -> bool:
        try:
            self.call(
                "POST",
                "/message",
                json={
                    "messageName": message,
                    "businessKey": business_key,
                    "processVariables": typed_all(variables),
                },
            )
        except EngineRefused as error:
            # Nothing waits for it (already delivered, or the wait ended): not an engine failure.
            if error.status == 400 and "correlat" in error.message.lower():
                return False
            raise
        return True

    def set_variables(self, process_instance_id: str, variables: Mapping[str, Any]) -> None:
        self.call(
            "POST",
            f"/process-instance/{process_instance_id}/variables",
            json={"modifications": typed_all(variables)},
        )

    def who_completed(self, process_instance_id: str, activity_id: str) -> str | None:
        tasks = self.json(
            "GET",
            "/history/task",
            params={
                "processInstanceId": process_instance_id,
                "taskDefinitionKey": activity_id,
                "finished": "true",
                "sortBy": "endTime",
                "sortOrder": "desc",
                "maxResults": 1,
            },
        )
        return str(tasks[0]["assignee"]) if tasks and tasks[0].get("assignee") else None

    # ------------------------------------------------------------ Tasklist

    def tasks(self, **criteria: Any) -> list[HumanTask]:
        """Open user tasks, as Tasklist lists them (`GET /task` criteria)."""
        rows = self.json("GET", "/task", params={"sortBy": "created", "sortOrder": "asc", **criteria})
        return [_task(row) for row in rows]

    def claim(self, task_id: str, user_id: str) -> None:
        """Claim as Tasklist does; a task someone else holds is first given back, as a manager does."""
        try:
            self.call("POST", f"/task/{task_id}/claim", json={"userId": user_id})
        except EngineRefused as error:
            if "already claimed" not in error.message:
                raise
            self.call("POST", f"/task/{task_id}/unclaim")
            self.call("POST", f"/task/{task_id}/claim", json={"userId": user_id})

    def submit_form(self, task_id: str, variables: Mapping[str, Any]) -> None:
        self.call("POST", f"/task/{task_id}/submit-form", json={"variables": typed_all(variables)})

    def deployed_form(self, task_id: str) -> dict[str, Any]:
        form: dict[str, Any] = self.json("GET", f"/task/{task_id}/deployed-form")
        return form

    def task_variables(self, task_id: str) -> dict[str, Any]:
        return plain_all(
            self.json("GET", f"/task/{task_id}/form-variables", params={"deserializeValues": "false"})
        )

    # ------------------------------------------------------------ Cockpit

    def historic_instance(self, process_instance_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.json("GET", f"/history/process-instance/{process_instance_id}")
        except EngineRefused as error:
            if error.status == 404:
                return None
            raise
        return found

    def instances(self, **criteria: Any) -> list[dict[str, Any]]:
        """Historic process instances (running and ended), `GET /history/process-instance` criteria."""
        found: list[dict[str, Any]] = self.json("GET", "/history/process-instance", params=criteria)
        return found

    def entered_activities(self, process_definition_id: str) -> set[str]:
        """Every activity any instance of this definition entered (Cockpit's history statistics)."""
        rows = self.json(
            "GET",
            f"/history/process-definition/{process_definition_id}/statistics",
            params={"canceled": "true", "finished": "true", "completeScope": "true"},
        )
        return {row["id"] for row in rows}

    def instance_count(self, process_key: str) -> int:
        found = self.json(
            "GET", "/history/process-instance/count", params={"processDefinitionKey": process_key}
        )
        return int(found["count"])

    def activities(self, process_instance_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json(
            "GET",
            "/history/activity-instance",
            params={"processInstanceId": process_instance_id, "sortBy": "startTime", "sortOrder": "asc"},
        )
        return found

    def activity_ids(self, process_instance_id: str) -> set[str]:
        return {a["activityId"] for a in self.activities(process_instance_id)}

    def taken_flows(self, process_key: str) -> list[tuple[str, str]]:
        """(instance id, flow id) of every sequence flow taken, from the engine's take listener
        (`deploy/engine`: Operaton's history records no flows)."""
        rows = self.json(
            "GET",
            self.rest_url.rsplit("/", 1)[0] + "/flow-coverage/taken",
            params={"processKey": process_key},
        )
        return [(r["processInstanceId"], r["flowId"]) for r in rows]

    def historic_variables(self, **criteria: Any) -> Iterator[dict[str, Any]]:
        """Every historic variable instance matching the criteria, page by page (values decoded)."""
        first = 0
        while True:
            batch = self.json(
                "GET",
                "/history/variable-instance",
                params={"deserializeValues": "false", "firstResult": first, "maxResults": 500, **criteria},
            )
            for row in batch:
                yield {**row, "value": plain(row)}
            if len(batch) < 500:
                return
            first += 500

    def incidents(self, **criteria: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("GET", "/incident", params=criteria)
        return found

    def retry_external_task(self, external_task_id: str, retries: int = 1) -> None:
        """What Cockpit's "retry" on an external task incident does."""
        self.call("PUT", f"/external-task/{external_task_id}/retries", json={"retries": retries})

    def latest_definition(self, key: str) -> dict[str, Any]:
        found: dict[str, Any] = self.json("GET", f"/process-definition/key/{key}")
        return found

    def process_definitions(self, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json(
            "GET", "/process-definition", params={"key": key, "sortBy": "version", "sortOrder": "desc"}
        )
        return found


def _task(row: Mapping[str, Any]) -> HumanTask:
    return HumanTask(
        id=row["id"],
        name=row.get("name") or "",
        activity_id=row["taskDefinitionKey"],
        process_instance_id=row["processInstanceId"],
        process_definition_id=row["processDefinitionId"],
        business_key=row.get("businessKey"),
        assignee=row.get("assignee"),
        created=row["created"],
        due=row.get("due"),
        follow_up=row.get("followUp"),
        priority=row.get("priority", 50),
        form_key=(row.get("operatonFormRef") or {}).get("key") if row.get("operatonFormRef") else None,
    )


def _unavailable(error: httpx.TransportError, path: str) -> EngineUnavailable:
    never_arrived = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return EngineUnavailable(f"{type(error).__name__} calling {path}", maybe_processed=not never_arrived)


# How the engine words a call its own database failed under (connections cut by a restart or a
# fail-over): like the web server's error page, the engine could not work, the call may be tried
# again. Its log has the cause; a deterministic mistake never reads so.
DATABASE_AWAY = "An exception occurred in the persistence layer"


def _refusal(response: httpx.Response, path: str) -> EngineRefused | EngineUnavailable:
    """The engine's REST API words its own refusals ({"type", "message"}); a 5xx without that
    shape is the web server's error page: the engine could not work at all (its database
    restarting, for one) and the call may be tried again, not taken as the engine's answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    kind = str(body.get("type", "")) if isinstance(body, dict) else ""
    message = _message(response)
    if response.status_code >= 500 and (not kind or message.startswith(DATABASE_AWAY)):
        return EngineUnavailable(f"HTTP {response.status_code} calling {path}", maybe_processed=True)
    return EngineRefused(response.status_code, message, kind)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("type") or body)[:1000]
    return str(body)[:1000]


# ---------------------------------------------------------------- external tasks (workers)


class ExternalTasks:
    """The workers' side: long-polling fetch-and-lock, complete, BPMN error, failure, lock extension."""

    def __init__(
        self, rest_url: str, username: str, password: str, *, worker_id: str, poll_timeout_ms: int
    ) -> None:
        self.worker_id = worker_id
        self.poll_timeout_ms = poll_timeout_ms
        self._http = httpx.AsyncClient(
            base_url=rest_url.rstrip("/"),
            auth=(username, password),
            # A long poll may be held this long by the engine, plus the way back.
            timeout=httpx.Timeout(15.0, read=poll_timeout_ms / 1000 + 15.0),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, path: str, body: Mapping[str, Any]) -> Any:
        try:
            response = await self._http.post(path, json=body)
        except httpx.TransportError as error:
            raise _unavailable(error, path) from error
        if response.status_code >= 400:
            raise _refusal(response, path)
        return response.json() if response.content else None

    async def fetch_and_lock(
        self, topics: Sequence[Mapping[str, Any]], *, max_tasks: int
    ) -> list[dict[str, Any]]:
        """Wait up to poll_timeout_ms for tasks of these topics (each `{"topicName", "lockDuration"}`)."""
        found: list[dict[str, Any]] = await self._call(
            "/external-task/fetchAndLock",
            {
                "workerId": self.worker_id,
                "maxTasks": max_tasks,
                "usePriority": True,
                "asyncResponseTimeout": self.poll_timeout_ms,
                "topics": [
                    {"includeExtensionProperties": True, "deserializeValues": False, **topic}
                    for topic in topics
                ],
            },
        )
        return found

    async def complete(self, task_id: str, variables: Mapping[str, Any]) -> None:
        await self._call(
            f"/external-task/{task_id}/complete",
            {"workerId": self.worker_id, "variables": typed_all(variables)},
        )

    async def bpmn_error(
        self, task_id: str, code: str, message: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        await self._call(
            f"/external-task/{task_id}/bpmnError",
            {
                "workerId": self.worker_id,
                "errorCode": code,
                "errorMessage": message,
                "variables": typed_all(variables or {}),
            },
        )

    async def failure(
        self, task_id: str, *, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        await self._call(
            f"/external-task/{task_id}/failure",
            {
                "workerId": self.worker_id,
                "errorMessage": message,
                "errorDetails": details,
                "retries": retries,
                "retryTimeout": retry_timeout_ms,
            },
        )

    async def extend_lock(self, task_id: str, duration_ms: int) -> None:
        await self._call(
            f"/external-task/{task_id}/extendLock", {"workerId": self.worker_id, "newDuration": duration_ms}
        )

    async def unlock(self, task_id: str) -> None:
        await self._call(f"/external-task/{task_id}/unlock", {})
