"""`make fault`: kill parts of the running stack under a steady flow of requests; nothing may be lost
or duplicated.

Runs against the stack `make up` started (never part of `make test`; it kills and restarts that
stack's parts), traffic on 127.0.0.1 only, bounded in time. While a channel posts requests at a
steady rate — retrying a refused or unanswered post with the same channel reference, as an
integration should — it
1. kill -9s the engine (Zeebe, Operate, Tasklist: one Java process) and starts it again;
2. kill -9s the worker process and starts it again;
3. restarts PostgreSQL (fast shutdown, then start).
Afterwards every accepted request must exist once, have exactly one process instance, have reached
the directorate staff task, and its directorate must have had exactly one mail. Prints requests
sent, accepted, lost, duplicated and the time to recover from each fault; writes JSON under
<data>/fault/. Exits non-zero on a lost or duplicated request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from deploy.local import install, processes
from deploy.local.stack import Layout, start_camunda, start_postgres, start_workers
from services import api_keys
from services.bootstrap import bootstrap
from services.camunda_web import CamundaWeb
from services.config import get_settings
from tests.integration.citizen import payload

STAFF_TASK = "talebi-degerlendir"


@dataclass
class Fault:
    name: str
    injected_at: float = 0.0
    back_at: float = 0.0  # restarted, and the API's /health green again
    recovered_s: float | None = None  # until a request received after the fault reached its directorate


@dataclass
class Figures:
    rate: float
    sent: int = 0  # distinct requests the channel tried to deliver
    posts: int = 0  # HTTP attempts, retries included
    refused_then_retried: int = 0
    accepted: int = 0
    never_accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    without_instance: int = 0
    without_staff_task: int = 0
    mails_missing: int = 0
    faults: list[Fault] = field(default_factory=list)
    duration_s: float = 0.0


class Channel:
    """A web integration posting at a steady rate; a post that is refused (503) or unanswered is
    sent again with the same channel reference until accepted, or given up at the deadline."""

    def __init__(self, api_url: str, key: str, run_id: str, rate: float) -> None:
        self.api_url, self.key, self.run_id, self.rate = api_url, key, run_id, rate
        self.accepted: dict[str, str] = {}  # channel reference → tracking number
        self.sent = 0
        self.posts = 0
        self.retried = 0
        self.stop = threading.Event()
        self.give_up_at = float("inf")

    async def _deliver(self, client: httpx.AsyncClient, i: int) -> None:
        reference = f"FAULT-{self.run_id}-{i}"
        body = payload(channel="web", channelReference=reference, categoryCode="TEMIZLIK-COP")
        while time.monotonic() < self.give_up_at:
            self.posts += 1
            try:
                response = await client.post("/requests", json=body)
                if response.status_code in (200, 201):
                    self.accepted[reference] = response.json()["trackingNumber"]
                    return
            except httpx.HTTPError:
                pass
            self.retried += 1
            await asyncio.sleep(2)

    async def run(self) -> None:
        async with httpx.AsyncClient(
            base_url=self.api_url, timeout=10, headers={"X-API-Key": self.key}
        ) as client:
            started = time.monotonic()
            pending: list[asyncio.Task[None]] = []
            while not self.stop.is_set():
                pending.append(asyncio.create_task(self._deliver(client, self.sent)))
                self.sent += 1
                await asyncio.sleep(max(0.0, started + self.sent / self.rate - time.monotonic()))
            await asyncio.gather(*pending)


def _say(message: str) -> None:
    print(f"{datetime.now():%H:%M:%S}  {message}", flush=True)


def _kill9(layout: Layout, name: str) -> None:
    pid = processes.read_pid(layout.dirs, name)
    if pid is None:
        raise SystemExit(f"{name} is not running: start the stack with `make up` first")
    os.kill(pid, signal.SIGKILL)
    while processes.pid_alive(pid):
        time.sleep(0.1)


def _wait_healthy(api_url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url}/health", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("the stack did not become healthy again")


def _engine_fault(layout: Layout) -> None:
    _kill9(layout, "camunda")
    start_camunda(layout, install.find_java_home())


def _worker_fault(layout: Layout) -> None:
    _kill9(layout, "workers")
    start_workers(layout)


def _database_fault(layout: Layout) -> None:
    processes.stop(layout.dirs, "postgres", timeout=90, sig=signal.SIGINT)
    start_postgres(layout, processes.ensure_service_user())


def _notified(database_url: str, run_id: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT r.id, r.channel_reference, r.tracking_code, r.received_at, "
                    "r.process_instance_id, (SELECT count(*) FROM notifications n "
                    " WHERE n.idempotency_key LIKE 'notify:' || r.id || ':%' "
                    " AND n.sent_at IS NOT NULL) AS sent, "
                    "(SELECT min(n.sent_at) FROM notifications n "
                    " WHERE n.idempotency_key LIKE 'notify:' || r.id || ':%') AS sent_at "
                    "FROM citizen_requests r WHERE r.channel = 'web' AND r.channel_reference LIKE :prefix"
                ),
                {"prefix": f"FAULT-{run_id}-%"},
            )
            return [dict(r) for r in rows.mappings()]
    finally:
        engine.dispose()


def _recovery(fault: Fault, rows: list[dict[str, Any]], wall_offset: float) -> float | None:
    """Seconds from the fault until the first request received after it reached its directorate."""
    injected = datetime.fromtimestamp(fault.injected_at + wall_offset, UTC)
    after = [r["sent_at"] for r in rows if r["received_at"] >= injected and r["sent_at"] is not None]
    return (min(after) - injected).total_seconds() if after else None


def _instances_by_request(web: CamundaWeb, request_ids: set[str]) -> Counter[str]:
    """Process instances of `birim-istek` holding each request id (Operate, paged)."""
    counts: Counter[str] = Counter()
    seen: set[tuple[str, int]] = set()
    search_after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"filter": {"name": "requestId"}, "size": 1000, "sort": [{"field": "key"}]}
        if search_after:
            body["searchAfter"] = search_after
        page = web.send("POST", "/v1/variables/search", json=body).raise_for_status().json()
        for item in page["items"]:
            request_id = json.loads(item["value"])
            if request_id in request_ids and (request_id, item["processInstanceKey"]) not in seen:
                seen.add((request_id, item["processInstanceKey"]))
                counts[request_id] += 1
        if len(page["items"]) < 1000:
            return counts
        search_after = page["sortValues"]


def _staff_tasks(web: CamundaWeb) -> Counter[str]:
    """Open directorate staff tasks per process instance (Tasklist, paged)."""
    counts: Counter[str] = Counter()
    search_after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"taskDefinitionId": STAFF_TASK, "state": "CREATED", "pageSize": 1000}
        if search_after:
            body["searchAfter"] = search_after
        tasks = web.search_tasks(**body)
        counts.update(str(t["processInstanceKey"]) for t in tasks)
        if len(tasks) < 1000:
            return counts
        search_after = tasks[-1]["sortValues"]


def _mails(mailbox: Path, since: float, request_ids: set[str]) -> Counter[str]:
    """Directorate mails per request (the mail names the request's id), read from the mailbox."""
    counts: Counter[str] = Counter()
    for path in mailbox.glob("*.eml"):
        if path.stat().st_mtime < since:
            continue
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if not str(message["Subject"] or "").startswith("Yeni birim istek"):
            continue
        body = message.get_body(preferencelist=("plain",))
        content = body.get_content() if body is not None else ""
        for request_id in request_ids:
            if request_id in content:
                counts[request_id] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(prog="make fault", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds of traffic before/after each fault"
    )
    parser.add_argument("--drain", type=float, default=600.0, help="most seconds to wait for the backlog")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    args = parser.parse_args()

    settings = get_settings()
    layout = Layout.from_env()
    _wait_healthy(args.api, timeout=30)
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    wall_offset = time.time() - time.monotonic()
    started_wall, started = time.time(), time.monotonic()
    container = bootstrap(settings)
    key_name = f"fault-{run_id}"
    key = api_keys.create(container.uow, name=key_name, channel="web", requests_per_minute=100_000)
    container.close()

    channel = Channel(args.api, key, run_id, args.rate)
    traffic = threading.Thread(target=lambda: asyncio.run(channel.run()), daemon=True)
    traffic.start()
    figures = Figures(rate=args.rate)
    _say(f"traffic: {args.rate:g} requests/s")
    time.sleep(args.settle)
    for name, inject in (
        ("engine kill -9 + restart", _engine_fault),
        ("worker kill -9 + restart", _worker_fault),
        ("PostgreSQL restart", _database_fault),
    ):
        fault = Fault(name=name, injected_at=time.monotonic())
        _say(f"fault: {name}")
        inject(layout)
        _wait_healthy(args.api)
        fault.back_at = time.monotonic()
        _say(
            f"  back after {fault.back_at - fault.injected_at:.0f} s; {len(channel.accepted)} accepted so far"
        )
        figures.faults.append(fault)
        time.sleep(args.settle)
    channel.stop.set()
    channel.give_up_at = time.monotonic() + 120
    traffic.join(timeout=180)
    _say(f"traffic stopped: {channel.sent} requests, {len(channel.accepted)} accepted; draining")

    deadline = time.monotonic() + args.drain
    while True:
        rows = _notified(settings.database_url, run_id)
        if sum(1 for r in rows if r["sent"]) >= len(channel.accepted) or time.monotonic() > deadline:
            break
        time.sleep(2)
    by_reference = Counter(r["channel_reference"] for r in rows)
    with CamundaWeb.login() as web:
        # Operate and Tasklist import what the engine exported: give them time to catch up.
        deadline = time.monotonic() + 180
        while True:
            instances = _instances_by_request(web, {str(r["id"]) for r in rows})
            tasks = _staff_tasks(web)
            with_task = sum(1 for r in rows if tasks[str(r["process_instance_id"])] >= 1)
            if (len(instances) >= len(rows) and with_task >= len(rows)) or time.monotonic() > deadline:
                break
            time.sleep(3)
    mails = _mails(settings.mailbox_dir, started_wall, {str(r["id"]) for r in rows})

    figures.sent, figures.posts, figures.refused_then_retried = channel.sent, channel.posts, channel.retried
    figures.accepted = len(channel.accepted)
    figures.never_accepted = channel.sent - figures.accepted
    figures.lost = sum(1 for ref in channel.accepted if by_reference[ref] == 0)
    figures.duplicated = (
        sum(n - 1 for n in by_reference.values() if n > 1)
        + sum(n - 1 for n in instances.values() if n > 1)
        + sum(1 for r in rows if tasks[str(r["process_instance_id"])] > 1)
        + sum(n - 1 for n in mails.values() if n > 1)
        + sum(int(r["sent"]) - 1 for r in rows if int(r["sent"]) > 1)
    )
    figures.without_instance = sum(1 for r in rows if instances[str(r["id"])] == 0)
    figures.without_staff_task = sum(1 for r in rows if tasks[str(r["process_instance_id"])] == 0)
    figures.mails_missing = sum(1 for r in rows if mails[str(r["id"])] == 0)
    for fault in figures.faults:
        fault.recovered_s = _recovery(fault, rows, wall_offset)
    figures.duration_s = time.monotonic() - started
    container = bootstrap(settings)
    api_keys.revoke(container.uow, name=key_name)
    container.close()
    report(figures, layout.data / "fault")


def report(figures: Figures, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fault-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(asdict(figures), indent=2))
    rows = [
        ("rate / duration", f"{figures.rate:g} req/s / {figures.duration_s:.0f} s"),
        (
            "requests sent / HTTP posts",
            f"{figures.sent} / {figures.posts} ({figures.refused_then_retried} retried)",
        ),
        ("accepted / never accepted", f"{figures.accepted} / {figures.never_accepted}"),
        ("lost / duplicated", f"{figures.lost} / {figures.duplicated}"),
        (
            "without instance / staff task / mail",
            f"{figures.without_instance} / {figures.without_staff_task} / {figures.mails_missing}",
        ),
    ]
    for fault in figures.faults:
        recovered = f"{fault.recovered_s:.0f} s" if fault.recovered_s is not None else "never"
        rows.append(
            (
                fault.name,
                f"restarted and healthy in {fault.back_at - fault.injected_at:.0f} s; "
                f"a request received after it reached its directorate {recovered} after the fault",
            )
        )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path}")
    if figures.lost or figures.duplicated or figures.without_instance or figures.without_staff_task:
        raise SystemExit("FAILED RUN: lost, duplicated or unfinished requests")
    if figures.mails_missing or figures.never_accepted:
        raise SystemExit("FAILED RUN: a request was never accepted or its directorate never mailed")


if __name__ == "__main__":
    main()
