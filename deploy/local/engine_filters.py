"""Tasklist's ready-made filters, made by `make up` and kept as written here (matched by name).

Each filter is a saved task query of the engine that Tasklist lists on the left, ordered by
`properties.priority`, the first one opened by default. The queries use the engine's expressions,
so one filter serves every role: `${currentUserGroups()}` is the signed-in person's groups (a
directorate's staff see their directorate's tasks, Public Relations theirs), `${currentUser()}`
the person, `${now()}` the moment the list is shown. Every group may read every filter
(engine_identity grants FILTER * READ); what a filter lists is still limited to the tasks the
person may see. The starter's own "Tüm görevler" (application.yaml) keeps its query and goes last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.operaton import Operaton
from services.service_time import TASK_PRIORITY

# The task priority of an urgent request: the diagrams set it on every human task.
URGENT_PRIORITY = TASK_PRIORITY["acil"]
ALL_TASKS = "Tüm görevler"  # operaton.bpm.filter.create in deploy/engine application.yaml
# The columns of the task list: process variables every request's tasks carry, read from the
# task's own copy (tasklist_<name>, made by the engine's TasklistColumns plugin from
# belediye.tasklist-columns): Tasklist shows only variables the person may read, and a
# candidate may read the task's variables, not the process instance's.
COLUMN_PREFIX = "tasklist_"
COLUMNS = {
    "trackingNumber": "Takip no",
    "categoryName": "Kategori",
    "district": "İlçe",
    "priorityLabel": "Öncelik",
}
VARIABLES = tuple({"name": COLUMN_PREFIX + name, "label": label} for name, label in COLUMNS.items())
BY_DEADLINE = (
    {"sortBy": "dueDate", "sortOrder": "asc"},
    {"sortBy": "priority", "sortOrder": "desc"},
)
# Claimed tasks stay in a group's lists: a late or urgent task is the directorate's concern
# whoever holds it.
MY_GROUPS = {"candidateGroupsExpression": "${currentUserGroups()}", "includeAssignedTasks": True}


@dataclass(frozen=True)
class TaskFilter:
    name: str
    description: str
    color: str
    order: int
    query: dict[str, Any] = field(default_factory=dict)

    def properties(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "color": self.color,
            "priority": self.order,
            "refresh": True,
            "showUndefinedVariable": False,
            "variables": [dict(v) for v in VARIABLES],
        }

    def body(self) -> dict[str, Any]:
        return {
            "resourceType": "Task",
            "name": self.name,
            "owner": None,
            "query": self.query,
            "properties": self.properties(),
        }


FILTERS = (
    TaskFilter(
        "Müdürlüğümün açık işleri",
        "Gruplarınızın bütün açık görevleri, üstlenilmiş olanlar da; son tarihi en yakın olan "
        "önce, son tarihi aynı olanlardan önceliği yüksek olan önce.",
        "#1f6fb2",
        10,
        {**MY_GROUPS, "sorting": list(BY_DEADLINE)},
    ),
    TaskFilter(
        "Bana atananlar",
        "Üstlendiğiniz ya da size atanmış görevler; son tarihi en yakın olan önce.",
        "#2e8540",
        20,
        {"assigneeExpression": "${currentUser()}", "sorting": list(BY_DEADLINE)},
    ),
    TaskFilter(
        "Süresi geçenler",
        "Gruplarınızın hizmet süresi dolmuş görevleri; en çok geciken önce.",
        "#d9822b",
        30,
        {**MY_GROUPS, "dueBeforeExpression": "${now()}", "sorting": list(BY_DEADLINE)},
    ),
    TaskFilter(
        "Acil",
        "Gruplarınızın acil öncelikli görevleri; son tarihi en yakın olan önce.",
        "#c0392b",
        40,
        {**MY_GROUPS, "minPriority": URGENT_PRIORITY, "sorting": list(BY_DEADLINE)},
    ),
)
ALL_TASKS_FILTER = TaskFilter(ALL_TASKS, "Görme yetkiniz olan bütün görevler.", "#7f8c8d", 90)


def _by_name(engine: Operaton, name: str) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = engine.json("GET", "/filter", params={"resourceType": "Task", "name": name})
    return found[0] if found else None


def _differs(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """The engine returns the query with empty defaults added: compare what we set."""
    query = existing.get("query") or {}
    return existing.get("properties") != wanted["properties"] or any(
        query.get(key) != value for key, value in wanted["query"].items()
    )


def ensure_filters(engine: Operaton) -> int:
    """Creates the filters that are missing and updates those that differ; returns how many."""
    changed = 0
    for task_filter in FILTERS:
        wanted = task_filter.body()
        existing = _by_name(engine, task_filter.name)
        if existing is None:
            engine.call("POST", "/filter/create", json=wanted)
            changed += 1
        elif _differs(existing, wanted):
            engine.call("PUT", f"/filter/{existing['id']}", json=wanted)
            changed += 1
    # The starter's filter: its query as the starter made it, our description and place (last).
    existing = _by_name(engine, ALL_TASKS)
    if existing is not None:
        wanted = {**ALL_TASKS_FILTER.body(), "query": existing.get("query") or {}}
        if _differs(existing, wanted):
            engine.call("PUT", f"/filter/{existing['id']}", json=wanted)
            changed += 1
    return changed
