"""Tasklist's ready-made filters (deploy/local/engine_filters.py) as the staff get them from the
real engine: every role sees them, in order; each lists only the signed-in person's groups' tasks
(or their own), by due date and then priority; the list's columns carry the request's tracking
number, category, district and priority label; `make up` keeps them as written.

`filtre-kaniti` (tests/integration/fixtures) is a diagram with one user task whose candidate
group, priority and due date come from the start variables; the test starts one instance per case
below and deletes its deployment, instances and history at the end. Lists are read with
`GET /filter/{id}/list` as the person, like Tasklist does, and narrowed to this test's tasks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.local.engine_filters import (
    ALL_TASKS,
    COLUMN_PREFIX,
    COLUMNS,
    FILTERS,
    URGENT_PRIORITY,
    ensure_filters,
)
from services.operaton import Operaton, typed_all
from tests.integration.tasklist import as_person, wait_for_task

FIXTURE = Path(__file__).with_name("fixtures") / "filter-proof.bpmn"
PROCESS = "filtre-kaniti"
TASK = "filtre-kaniti-gorev"
MY_DIRECTORATE, ASSIGNED_TO_ME, OVERDUE, URGENT = (f.name for f in FILTERS)


@dataclass(frozen=True)
class Case:
    group: str
    priority: int
    due_in_days: int
    category: str
    district: str
    label: str


# Road's urgent task is late; two of its tasks share a due date (priority decides); Park has an
# urgent, late task that no Road list may show.
CASES = {
    "yol-acil": Case("mudurluk-yol", URGENT_PRIORITY, -2, "Yolda çukur", "Yenişehir", "Acil"),
    "yol-yuksek": Case("mudurluk-yol", 75, 3, "Kaldırım onarımı", "Mezitli", "Yüksek"),
    "yol-normal": Case("mudurluk-yol", 50, 3, "Yol çizgisi", "Toroslar", "Normal"),
    "park-acil": Case("mudurluk-park", URGENT_PRIORITY, -2, "Yola devrilen ağaç", "Akdeniz", "Acil"),
}


def _as(username: str) -> Operaton:
    return as_person(username)


@dataclass(frozen=True)
class Proof:
    tasks: dict[str, str]  # case -> task id
    tracking: dict[str, str]  # case -> tracking number

    def case_of(self, task_id: str) -> str | None:
        return next((case for case, tid in self.tasks.items() if tid == task_id), None)


@pytest.fixture(scope="module", autouse=True)
def filters(engine: Operaton) -> None:
    """What `make up` does (engine_identity): on a stack it made, nothing changes."""
    ensure_filters(engine)


@pytest.fixture(scope="module")
def proof(engine: Operaton) -> Iterator[Proof]:
    deployment = engine.deploy(PROCESS, [FIXTURE], source="tests")
    run = uuid.uuid4().hex[:6].upper()
    tasks: dict[str, str] = {}
    tracking: dict[str, str] = {}
    try:
        for name, case in CASES.items():
            number = f"FK-{run}-{name}"
            due = (datetime.now() + timedelta(days=case.due_in_days)).replace(microsecond=0)
            started = engine.json(
                "POST",
                f"/process-definition/key/{PROCESS}/start",
                json={
                    "businessKey": number,
                    "variables": typed_all(
                        {
                            "group": case.group,
                            "taskPriority": case.priority,
                            "dueDate": due.isoformat(),
                            "trackingNumber": number,
                            "categoryName": case.category,
                            "district": case.district,
                            "priorityLabel": case.label,
                        }
                    ),
                },
            )
            tasks[name] = wait_for_task(engine, started["id"], TASK).id
            tracking[name] = number
        yield Proof(tasks, tracking)
    finally:
        engine.call("DELETE", f"/deployment/{deployment}", params={"cascade": "true"})


def _filter_id(client: Operaton, name: str) -> str:
    found = client.json("GET", "/filter", params={"resourceType": "Task", "name": name})
    assert len(found) == 1, f"{name}: {found}"
    return str(found[0]["id"])


def _listed(client: Operaton, name: str, proof: Proof) -> list[str]:
    """This test's tasks in the filter's list as the person gets it, in the list's order."""
    rows = client.json("GET", f"/filter/{_filter_id(client, name)}/list")
    return [case for row in rows if (case := proof.case_of(row["id"])) is not None]


def _columns(client: Operaton, name: str, proof: Proof) -> dict[str, dict[str, Any]]:
    """The filter's variable columns per task, as Tasklist fetches them (HAL, embedded variables)."""
    response = client.call(
        "GET", f"/filter/{_filter_id(client, name)}/list", headers={"Accept": "application/hal+json"}
    )
    tasks = (response.json().get("_embedded") or {}).get("task") or []
    return {
        case: {v["name"]: v["value"] for v in (task.get("_embedded") or {}).get("variable") or []}
        for task in tasks
        if (case := proof.case_of(task["id"])) is not None
    }


@pytest.mark.parametrize("username", ["yol.personel", "park.mudur", "halkla.iliskiler", "operator"])
def test_every_role_sees_the_filters_in_order(username: str) -> None:
    with _as(username) as client:
        filters = client.json("GET", "/filter", params={"resourceType": "Task"})
    ordered = [f["name"] for f in sorted(filters, key=lambda f: f["properties"].get("priority", 0))]
    assert ordered == [MY_DIRECTORATE, ASSIGNED_TO_ME, OVERDUE, URGENT, ALL_TASKS]
    for shown in filters:
        properties = shown["properties"]
        assert properties["refresh"] is True and properties["description"] and properties["color"]
        assert properties["variables"] == [
            {"name": COLUMN_PREFIX + name, "label": label} for name, label in COLUMNS.items()
        ]
    labels = [v["label"] for v in filters[0]["properties"]["variables"]]
    assert labels == ["Takip no", "Kategori", "İlçe", "Öncelik"]


def test_my_directorates_open_tasks_are_my_groups_by_due_date_then_priority(proof: Proof) -> None:
    with _as("yol.personel") as yol, _as("park.personel") as park:
        assert _listed(yol, MY_DIRECTORATE, proof) == ["yol-acil", "yol-yuksek", "yol-normal"]
        assert _listed(park, MY_DIRECTORATE, proof) == ["park-acil"]
        # The director is in the staff group too.
        with _as("yol.mudur") as director:
            assert _listed(director, MY_DIRECTORATE, proof) == ["yol-acil", "yol-yuksek", "yol-normal"]


def test_the_list_shows_the_requests_columns_to_the_staff(proof: Proof) -> None:
    with _as("yol.personel") as yol:
        columns = _columns(yol, MY_DIRECTORATE, proof)
    assert set(columns) == {"yol-acil", "yol-yuksek", "yol-normal"}
    assert columns["yol-acil"] == {
        "tasklist_trackingNumber": proof.tracking["yol-acil"],
        "tasklist_categoryName": "Yolda çukur",
        "tasklist_district": "Yenişehir",
        "tasklist_priorityLabel": "Acil",
    }


def test_overdue_and_urgent_are_my_groups_only(proof: Proof) -> None:
    with _as("yol.personel") as yol, _as("park.personel") as park:
        assert _listed(yol, OVERDUE, proof) == ["yol-acil"]
        assert _listed(yol, URGENT, proof) == ["yol-acil"]
        assert _listed(park, OVERDUE, proof) == ["park-acil"]
        assert _listed(park, URGENT, proof) == ["park-acil"]


def test_a_claimed_task_is_mine_and_stays_in_my_directorates_lists(engine: Operaton, proof: Proof) -> None:
    with _as("yol.personel") as yol, _as("yol.mudur") as director:
        assert _listed(yol, ASSIGNED_TO_ME, proof) == []
        yol.call("POST", f"/task/{proof.tasks['yol-acil']}/claim", json={"userId": "yol.personel"})
        assert _listed(yol, ASSIGNED_TO_ME, proof) == ["yol-acil"]
        assert _listed(director, ASSIGNED_TO_ME, proof) == []
        # Claimed, it is still the directorate's open, late and urgent work.
        assert _listed(director, MY_DIRECTORATE, proof) == ["yol-acil", "yol-yuksek", "yol-normal"]
        assert _listed(director, OVERDUE, proof) == ["yol-acil"]
        assert _listed(director, URGENT, proof) == ["yol-acil"]


def test_make_up_puts_a_changed_filter_back(engine: Operaton) -> None:
    filter_id = _filter_id(engine, URGENT)
    changed = engine.json("GET", f"/filter/{filter_id}")
    changed["properties"]["color"] = "#000000"
    changed["query"]["minPriority"] = 1
    engine.call("PUT", f"/filter/{filter_id}", json=changed)

    assert ensure_filters(engine) == 1
    restored = engine.json("GET", f"/filter/{filter_id}")
    assert (restored["properties"]["color"], restored["query"]["minPriority"]) == ("#c0392b", 100)
    assert ensure_filters(engine) == 0
