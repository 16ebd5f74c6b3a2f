"""What people do in Tasklist and Cockpit, over the engine's REST API as those web apps do it.

Each person acts with their own engine login (the sample users of deploy/local/users.json,
password `demo`), so the engine's authorizations apply as they would in Tasklist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from services.config import get_settings
from services.operaton import Operaton
from services.process_engine import HumanTask
from tests.credentials import Bearer
from tests.integration.conftest import FreshToken

T = TypeVar("T")


def poll(fetch: Callable[[], T | None], *, what: str, timeout: float = 60.0, every: float = 0.25) -> T:
    """Wait for a condition the engine reaches asynchronously (never sleep-then-assert)."""
    deadline = time.monotonic() + timeout
    while True:
        found = fetch()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def wait_for_task(
    engine: Operaton, process_instance_id: str, activity_id: str, timeout: float = 60
) -> HumanTask:
    """The open task of this step, once the engine has created it."""
    return poll(
        lambda: next(
            iter(engine.tasks(processInstanceId=process_instance_id, taskDefinitionKey=activity_id)), None
        ),
        what=f"task {activity_id} of instance {process_instance_id}",
        timeout=timeout,
    )


def wait_for_state(
    engine: Operaton, process_instance_id: str, state: str, timeout: float = 60
) -> dict[str, Any]:
    """The instance's history once it is in this state (ACTIVE, COMPLETED, EXTERNALLY_TERMINATED,
    INTERNALLY_TERMINATED)."""
    return poll(
        lambda: (
            inst
            if (inst := engine.historic_instance(process_instance_id)) and inst["state"] == state
            else None
        ),
        what=f"instance {process_instance_id} in state {state}",
        timeout=timeout,
    )


def as_person(username: str) -> Operaton:
    """The engine as this person is allowed to use it: a member of staff with their Keycloak token
    (their user and groups, as in Tasklist; staff have no engine password), the engine's own
    administrator by its password. A client of its own (close it)."""
    settings = get_settings()
    if username == settings.engine_username:
        return Operaton(settings.engine_rest_url, username, settings.engine_password)
    return Operaton(settings.engine_rest_url, auth=Bearer(FreshToken(username)))


# One client per person for the whole test session.
person = lru_cache(as_person)


def complete(
    engine: Operaton, instance: str, activity: str, variables: dict[str, Any], assignee: str = "demo"
) -> HumanTask:
    """As a person in Tasklist: find the task, claim it, open its form, submit it."""
    task = wait_for_task(engine, instance, activity)
    tasklist = person(assignee)
    if task.assignee != assignee:  # the diagram may have assigned it already
        tasklist.claim(task.id, assignee)
    form = tasklist.deployed_form(task.id)
    assert form.get("components"), f"the form of {activity} has no fields"
    tasklist.submit_form(task.id, variables)
    return task


def instances_with_variable(engine: Operaton, name: str, value: Any) -> set[str]:
    """Process instances (running or ended) that held a variable with this value."""
    return {
        row["processInstanceId"]
        for row in engine.historic_variables(variableName=name, variableValue=value)
        if row["value"] == value
    }
