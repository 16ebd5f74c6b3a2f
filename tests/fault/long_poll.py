"""How long a waiting worker's long poll takes to see a new external task, on the node that made
the task and on another node of the cluster.

An engine node wakes its own waiting polls when one of its transactions creates an external task;
a poll waiting on another node finds the task only when it looks again (its timeout ends, and the
worker polls once more). Measured with the ceiling diagram of `make bench` (process
`bench-tavan`, topics `bench.*`, which no worker of ours serves): a fetch-and-lock waits on node B
while an instance is started on node A, directly on the nodes' own ports (not through the
balancer), each pairing several times; the instances are deleted afterwards.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from deploy.local.cluster import Member
from services.operaton import Operaton
from tests.bench.run import CEILING_DIAGRAM, CEILING_MESSAGE, CEILING_PROCESS, ROUTE_TOPIC

USER = ("demo", "demo")
SETTLE_S = 1.0  # the poll is waiting at the node before the instance starts


@dataclass
class LongPollFigures:
    poll_timeout_s: float
    same_node_ms: list[float] = field(default_factory=list)
    cross_node_ms: list[float] = field(default_factory=list)

    @staticmethod
    def summary(values: list[float]) -> str:
        if not values:
            return "not measured"
        return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms ({len(values)} runs)"


def _rest(node: Member) -> str:
    return f"http://127.0.0.1:{node.port}/engine-rest"


def _wait_for_task(node: Member, worker_id: str, timeout_s: float, seen: dict[str, float]) -> None:
    """One long poll on `node`, as our workers make it; records when it was answered with a task."""
    body = {
        "workerId": worker_id,
        "maxTasks": 1,
        "asyncResponseTimeout": int(timeout_s * 1000),
        "topics": [{"topicName": ROUTE_TOPIC, "lockDuration": 60_000}],
    }
    deadline = time.monotonic() + timeout_s * 3
    with httpx.Client(auth=USER, timeout=timeout_s + 10) as client:
        # A poll that ends empty is made again at once, as the worker runtime does.
        while time.monotonic() < deadline:
            tasks = client.post(f"{_rest(node)}/external-task/fetchAndLock", json=body).json()
            if tasks:
                seen["at"] = time.perf_counter()
                seen["instance"] = tasks[0]["processInstanceId"]
                return


def _one(starter: Member, waiter: Member, timeout_s: float) -> float | None:
    seen: dict[str, float] = {}
    worker_id = f"long-poll-probe-{uuid.uuid4()}"
    poll = threading.Thread(target=_wait_for_task, args=(waiter, worker_id, timeout_s, seen), daemon=True)
    poll.start()
    time.sleep(SETTLE_S)
    with Operaton(_rest(starter), *USER) as engine:
        probe = f"long-poll-{uuid.uuid4()}"
        t0 = time.perf_counter()
        engine.start_by_message(
            CEILING_MESSAGE, business_key=probe, variables={"benchId": probe}, start_id=probe
        )
    poll.join(timeout=timeout_s * 3 + 10)
    with Operaton(_rest(starter), *USER) as engine:
        for instance in engine.json("GET", "/process-instance", params={"businessKey": probe}):
            engine.call("DELETE", f"/process-instance/{instance['id']}")
    return (seen["at"] - t0) * 1000 if "at" in seen else None


def measure(nodes: list[Member], *, poll_timeout_s: float, runs: int = 5) -> LongPollFigures:
    """Same node and across nodes, `runs` times each (needs two nodes for the second)."""
    figures = LongPollFigures(poll_timeout_s=poll_timeout_s)
    with Operaton(_rest(nodes[0]), *USER) as engine:
        engine.deploy(CEILING_PROCESS, [CEILING_DIAGRAM], source="make fault")
    for _ in range(runs):
        if (same := _one(nodes[0], nodes[0], poll_timeout_s)) is not None:
            figures.same_node_ms.append(same)
        if len(nodes) > 1 and (cross := _one(nodes[0], nodes[1], poll_timeout_s)) is not None:
            figures.cross_node_ms.append(cross)
    return figures
