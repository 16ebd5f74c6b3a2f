"""What people do in Tasklist and Cockpit, over the engine's REST API as those web apps do it.

Each person acts with their own engine login (the sample users of deploy/local/users.json,
password `demo`), so the engine's authorizations apply as they would in Tasklist.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from services.config import get_settings
from services.operaton import Operaton, poll
from services.process_engine import HumanTask

__all__ = ["complete", "instances_with_variable", "person", "poll"]


@lru_cache
def person(username: str) -> Operaton:
    """The engine as this person is allowed to use it (Tasklist's login)."""
    return Operaton(get_settings().engine_rest_url, username, "demo")


def complete(
    engine: Operaton, instance: str, activity: str, variables: dict[str, Any], assignee: str = "demo"
) -> HumanTask:
    """As a person in Tasklist: find the task, claim it, open its form, submit it."""
    task = engine.wait_for_task(instance, activity)
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
