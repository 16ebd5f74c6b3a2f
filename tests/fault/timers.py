"""Timers fire once, whichever engine node's job executor takes them, also while a node is killed.

`make fault` starts instances of tests/fault/timers.bpmn (process `fault-zamanlayici`: a timer
due at `fireAt`, then the end) through the balancer, in two batches: one due before the first
fault, one due in the seconds around it (the engine or one of its nodes is being killed then). At
the end it checks, from the engine's history, that every timer's job ran successfully exactly
once, which node ran it (the job log's host name: one name per node, see deploy/local/stack.py)
and how late it fired. A timer job that a killed node had locked waits for that lock to expire
(the job executor's lock time, 5 minutes by default) before another node runs it.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.operaton import Operaton

HERE = Path(__file__).resolve().parent
DIAGRAM = HERE / "timers.bpmn"
PROCESS = "fault-zamanlayici"
TIMER = "bekle"


@dataclass
class TimerFigures:
    started: int = 0
    fired_once: int = 0
    fired_twice_or_more: int = 0
    not_fired: int = 0
    by_node: dict[str, int] = field(default_factory=dict)
    late_median_s: float = 0.0
    late_max_s: float = 0.0

    def summary(self) -> str:
        nodes = ", ".join(f"{node} {count}" for node, count in sorted(self.by_node.items()))
        return (
            f"{self.started} started, {self.fired_once} fired once, {self.fired_twice_or_more} more than "
            f"once, {self.not_fired} not fired; by node: {nodes or 'none'}; late median "
            f"{self.late_median_s:.1f} s, max {self.late_max_s:.1f} s"
        )


class Timers:
    def __init__(self, engine: Operaton) -> None:
        self.engine = engine
        self.run = f"timer-{uuid.uuid4().hex[:8]}"
        self.due: dict[str, datetime] = {}  # business key → when its timer is due

    def start(self, count: int, first: timedelta, last: timedelta) -> None:
        """`count` instances whose timers fall due evenly between now+first and now+last (started
        eight at a time, so that the batch is in place before its first timer is due)."""
        self.engine.deploy(PROCESS, [DIAGRAM], source="make fault")
        now = datetime.now(UTC)
        step = (last - first) / max(count - 1, 1)
        batch = {f"{self.run}-{len(self.due) + i}": now + first + step * i for i in range(count)}

        def start_one(key: str) -> None:
            self.engine.call(
                "POST",
                f"/process-definition/key/{PROCESS}/start",
                json={
                    "businessKey": key,
                    "variables": {
                        "fireAt": {"value": batch[key].isoformat(timespec="seconds"), "type": "String"}
                    },
                },
            )

        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="timer-start") as pool:
            list(pool.map(start_one, batch))
        self.due.update(batch)

    def wait(self, timeout_s: float) -> None:
        """Until every instance ended, or the time is up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            running = self.engine.json(
                "GET", "/process-instance/count", params={"processDefinitionKey": PROCESS}
            )["count"]
            if not running:
                return
            time.sleep(2)

    def check(self) -> TimerFigures:
        figures = TimerFigures(started=len(self.due))
        instances = {
            row["id"]: row["businessKey"]
            for row in self.engine.json(
                "GET",
                "/history/process-instance",
                params={"processDefinitionKey": PROCESS, "maxResults": 100_000},
            )
            if row["businessKey"] in self.due
        }
        runs: Counter[str] = Counter()
        for entry in self.engine.json(
            "GET",
            "/history/job-log",
            params={"processDefinitionKey": PROCESS, "successLog": "true", "maxResults": 100_000},
        ):
            if entry["processInstanceId"] in instances:
                runs[entry["processInstanceId"]] += 1
                figures.by_node[entry["hostname"]] = figures.by_node.get(entry["hostname"], 0) + 1
        late: list[float] = []
        for row in self.engine.json(
            "GET",
            "/history/activity-instance",
            params={
                "processDefinitionKey": PROCESS,
                "activityId": TIMER,
                "finished": "true",
                "maxResults": 100_000,
            },
        ):
            if (key := instances.get(row["processInstanceId"])) is not None:
                ended = datetime.fromisoformat(row["endTime"])
                late.append((ended - self.due[key]).total_seconds())
        for instance in instances:
            count = runs.get(instance, 0)
            figures.fired_once += count == 1
            figures.fired_twice_or_more += count > 1
            figures.not_fired += count == 0
        figures.not_fired += len(self.due) - len(instances)
        if late:
            figures.late_median_s, figures.late_max_s = statistics.median(late), max(late)
        return figures
