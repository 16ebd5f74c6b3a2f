"""`make fault`: kill parts of the running stack under a steady flow of requests; nothing may be lost
or duplicated.

Runs against the stack `make up` started (never part of `make test`; it kills and restarts that
stack's parts), traffic on 127.0.0.1 only, bounded in time. While a channel posts requests at a
steady rate — retrying a refused or unanswered post with the same channel reference, as an
integration should — it
1. kill -9s the engine (Operaton: one Java process), or with ENGINE_NODES=2 one engine node while
   the other serves through the balancer, and starts it again;
2. with API_PROCESSES=2, kill -9s one API process (the balancer sends the posts to the other) and
   starts it again;
3. kill -9s a worker process and starts it again;
4. restarts PostgreSQL (fast shutdown, then start; the engine's database is on it too).
With two engine nodes it first measures how long a waiting long poll takes to see a new task made
on its own node and on the other (tests/fault/long_poll.py). Timers due before and around the
first fault must each fire exactly once, on whichever node (tests/fault/timers.py).
Afterwards, from our database, the engine and the mailbox (tests/bench/checks.py): every accepted
request exists once, has exactly one `birim-istek` process instance in the engine's history
(started by its own outbox row), that instance's open "Talebi değerlendir" task, one sent
notification, and its directorate had exactly one mail. Prints requests sent, accepted, lost,
duplicated and, per fault, the time until the stack was healthy again and until a request received
after the fault reached its directorate; writes JSON under <data>/fault/. Exits non-zero on a lost,
duplicated or unfinished request.

`--check PREFIX` runs only those final checks, on the requests whose channel reference starts with
PREFIX (a previous run's `FAULT-<run id>-`): nothing is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine

from deploy.local import processes
from deploy.local.cluster import Member, Topology
from deploy.local.stack import Layout, start_api, start_engine, start_postgres, start_workers
from services import api_keys
from services.bootstrap import bootstrap
from services.config import get_settings
from services.operaton import Operaton
from tests.bench.checks import Correctness, Mailbox, StoredRequest, judge, payload, stored_requests
from tests.fault import long_poll
from tests.fault.timers import TimerFigures, Timers

WORKERS_READY = "workers started against"  # workers/main.py logs it once it polls


@dataclass
class Fault:
    name: str
    injected_at: float = 0.0  # epoch seconds
    healthy_after_s: float = 0.0  # restarted, the API's /health green and the workers up again
    recovered_s: float | None = None  # until a request received after the fault reached its directorate
    longest_acceptance_gap_s: float = 0.0  # the channel's longest wait between two accepted posts


@dataclass
class Figures:
    rate: float
    sent: int = 0  # distinct requests the channel tried to deliver
    posts: int = 0  # HTTP attempts, retries included
    refused_then_retried: int = 0
    rejected: int = 0  # refused for good (4xx): the request itself was wrong
    accepted: int = 0  # the API said 201/200
    never_accepted: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unfinished: int = 0
    without_instance: int = 0
    without_staff_task: int = 0
    mails_missing: int = 0
    incidents: int = 0
    correctness: dict[str, Any] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    duration_s: float = 0.0
    topology: dict[str, int] = field(default_factory=dict)
    long_poll: dict[str, Any] = field(default_factory=dict)
    timers: dict[str, Any] = field(default_factory=dict)


class Channel:
    """A web integration posting at a steady rate; a post that is refused (5xx, 429) or unanswered
    is sent again with the same channel reference until accepted, or given up at the deadline."""

    def __init__(self, api_url: str, key: str, prefix: str, rate: float) -> None:
        self.api_url, self.key, self.prefix, self.rate = api_url, key, prefix, rate
        self.accepted: dict[str, str] = {}  # channel reference → tracking number
        self.accepted_at: list[float] = []  # epoch seconds of each acceptance
        self.sent = 0
        self.posts = 0
        self.retried = 0
        self.rejected = 0
        self.stop = threading.Event()
        self.give_up_at = float("inf")

    async def _deliver(self, client: httpx.AsyncClient, i: int) -> None:
        reference = f"{self.prefix}{i}"
        body = payload(reference)
        while time.monotonic() < self.give_up_at:
            self.posts += 1
            try:
                response = await client.post("/requests", json=body)
                if response.status_code in (200, 201):
                    self.accepted[reference] = response.json()["trackingNumber"]
                    self.accepted_at.append(time.time())
                    return
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    self.rejected += 1
                    _say(f"  {reference} rejected: {response.status_code} {response.text[:200]}")
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


# ---------------------------------------------------------------- the faults


def _kill9(layout: Layout, name: str) -> None:
    pid = processes.read_pid(layout.dirs, name)
    if pid is None:
        raise SystemExit(f"{name} is not running: start the stack with `make up` first")
    os.kill(pid, signal.SIGKILL)
    while processes.pid_alive(pid):
        time.sleep(0.1)


def _engine_fault(layout: Layout, node: Member) -> None:
    _kill9(layout, node.name)
    start_engine(layout, node)


def _api_fault(layout: Layout, member: Member) -> None:
    _kill9(layout, member.name)
    start_api(layout, member, behind_balancer=True)


def _worker_fault(layout: Layout, member: Member) -> None:
    log = layout.dirs.log_file(member.name)
    offset = log.stat().st_size if log.exists() else 0
    _kill9(layout, member.name)
    start_workers(layout, member)
    _wait(
        "the new worker process polling",
        lambda: WORKERS_READY in _read_from(log, offset),
        timeout=120,
    )


def _database_fault(layout: Layout) -> None:
    # SIGINT is PostgreSQL's fast shutdown: clients out, one checkpoint, clean exit.
    processes.stop(layout.dirs, "postgres", timeout=90, sig=signal.SIGINT)
    start_postgres(layout, processes.ensure_service_user())


def faults(topology: Topology) -> list[tuple[str, Callable[[Layout], None]]]:
    """The faults for the stack's shape, in order: the first copy of a part is the one killed."""
    node, api, worker = topology.engines[0], topology.apis[0], topology.workers[0]
    chosen: list[tuple[str, Callable[[Layout], None]]] = []
    if topology.engine_nodes > 1:
        chosen.append((f"engine node {node.name} kill -9 + restart", partial(_engine_fault, node=node)))
    else:
        chosen.append(("engine kill -9 + restart", partial(_engine_fault, node=node)))
    if topology.api_processes > 1:
        chosen.append((f"API process {api.name} kill -9 + restart", partial(_api_fault, member=api)))
    name = f"worker process {worker.name}" if topology.worker_processes > 1 else "worker"
    chosen.append((f"{name} kill -9 + restart", partial(_worker_fault, member=worker)))
    chosen.append(("PostgreSQL restart", _database_fault))
    return chosen


def _stack_parts(topology: Topology) -> list[str]:
    members = (*topology.engines, *topology.apis, *topology.workers)
    return ["postgres", *(m.name for m in members), *(["balancer"] if topology.balanced else [])]


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def _api_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _healthy(api_url: str, layout: Layout, topology: Topology) -> bool:
    """The API's /health green (our database and the engine answer) and every process of the
    stack's shape running again."""
    running = all(processes.read_pid(layout.dirs, name) for name in _stack_parts(topology))
    return running and _api_healthy(api_url)


def _longest_gap(accepted_at: list[float], start: float, end: float) -> float:
    """The longest time between two acceptances in [start, end] (its edges count as acceptances)."""
    times = [start, *sorted(t for t in accepted_at if start < t < end), end]
    return max(b - a for a, b in itertools.pairwise(times))


# ---------------------------------------------------------------- the checks


def _check(
    database: Engine, engine: Operaton, mailbox: Mailbox, prefix: str
) -> tuple[list[StoredRequest], Correctness]:
    """The final checks; the staff task follows the mail by a moment, so wait a little for it."""
    deadline = time.monotonic() + 60
    while True:
        rows = stored_requests(database, prefix)
        verdict = judge(rows, engine, mailbox)
        if not verdict.unfinished or time.monotonic() > deadline:
            return rows, verdict
        time.sleep(2)


def _drain(database: Engine, mailbox: Mailbox, prefix: str, accepted: set[str], seconds: float) -> None:
    """Wait until every stored request has its notification and its mail, or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = stored_requests(database, prefix)
        mailbox.scan()
        stored = {r.channel_reference for r in rows}
        done = sum(1 for r in rows if r.notifications_sent and r.id in mailbox.by_request)
        if accepted <= stored and done >= len(rows):
            return
        time.sleep(2)
    _say("drain: time is up; checking what there is")


def _recovery(fault: Fault, rows: list[StoredRequest], mailbox: Mailbox) -> float | None:
    """Seconds from the fault until the first request received after it had its directorate mail."""
    injected = datetime.fromtimestamp(fault.injected_at, UTC)
    mailed = [at for r in rows if r.received_at >= injected and (at := mailbox.first(r.id)) is not None]
    return (min(mailed) - injected).total_seconds() if mailed else None


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(prog="make fault", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds of traffic before/after each fault"
    )
    parser.add_argument("--drain", type=float, default=600.0, help="most seconds to wait for the backlog")
    parser.add_argument(
        "--timers", type=int, default=100, help="timers per batch (one before, one around the first fault)"
    )
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--check", metavar="PREFIX", help="only check the requests whose channel reference starts so"
    )
    args = parser.parse_args()

    settings = get_settings()
    layout = Layout.from_env()
    topology = Topology.started(layout.dirs.run)
    database = create_engine(settings.database_url, pool_pre_ping=True)
    engine = Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password)
    figures = Figures(rate=args.rate, topology=asdict(topology))
    started = time.monotonic()
    try:
        if args.check:
            prefix = args.check
            rows = stored_requests(database, prefix)
            if not rows:
                raise SystemExit(f"no web request has a channel reference starting with {prefix!r}")
            since = min(r.received_at for r in rows) - timedelta(seconds=5)
            mailbox = Mailbox(settings.mailbox_dir, since)
            accepted = {r.channel_reference for r in rows}
            figures.sent = figures.accepted = len(accepted)
        else:
            parts = _stack_parts(topology)
            missing = [name for name in parts if processes.read_pid(layout.dirs, name) is None]
            if missing or not _api_healthy(args.api):
                what = ", ".join(missing) or "API /health"
                raise SystemExit(f"the stack is not up and healthy ({what}): `make up` first")
            _say(f"stack: {topology.describe()}")
            if topology.engine_nodes > 1:
                _say("long polling: a task made on one node, a poll waiting on the same or the other node")
                polls = long_poll.measure(topology.engines, poll_timeout_s=settings.worker_poll_seconds)
                figures.long_poll = asdict(polls)
            run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            prefix = f"FAULT-{run_id}-"
            mailbox = Mailbox(settings.mailbox_dir, datetime.now(UTC) - timedelta(seconds=1))
            timers = Timers(engine)
            channel = _inject_faults(
                args,
                layout,
                topology,
                key_name=f"fault-{run_id}",
                prefix=prefix,
                figures=figures,
                timers=timers,
            )
            accepted = set(channel.accepted)
            _say(f"traffic stopped: {channel.sent} requests, {len(accepted)} accepted; draining")
            _drain(database, mailbox, prefix, accepted, args.drain)
            if timers.due:
                # A timer a killed node had locked runs elsewhere once that lock expires (5 min).
                _say("timers: waiting for every one to have fired")
                timers.wait(timeout_s=420)
                figures.timers = asdict(timers.check())
            figures.sent, figures.posts = channel.sent, channel.posts
            figures.refused_then_retried, figures.rejected = channel.retried, channel.rejected
            figures.accepted = len(accepted)
            figures.never_accepted = channel.sent - figures.accepted - channel.rejected

        rows, verdict = _check(database, engine, mailbox, prefix)
    finally:
        engine.close()
        database.dispose()
    stored = {r.channel_reference for r in rows}
    figures.stored = len(stored)
    figures.lost = sum(1 for reference in accepted if reference not in stored)
    figures.duplicated = verdict.duplicated
    figures.unfinished = verdict.unfinished
    figures.without_instance = verdict.without_instance
    figures.without_staff_task = verdict.without_staff_task
    figures.mails_missing = verdict.without_mail
    figures.incidents = verdict.incidents
    figures.correctness = asdict(verdict)
    for fault in figures.faults:
        fault.recovered_s = _recovery(fault, rows, mailbox)
    figures.duration_s = time.monotonic() - started
    report(figures, verdict, layout.data / "fault")


def _inject_faults(
    args: argparse.Namespace,
    layout: Layout,
    topology: Topology,
    *,
    key_name: str,
    prefix: str,
    figures: Figures,
    timers: Timers,
) -> Channel:
    """Traffic on, each fault in turn with `--settle` seconds of traffic around it, traffic off."""
    settings = get_settings()
    container = bootstrap(settings)
    try:
        key = api_keys.create(container.uow, name=key_name, channel="web", requests_per_minute=100_000)
    finally:
        container.close()
    channel = Channel(args.api, key, prefix, args.rate)
    traffic = threading.Thread(target=lambda: asyncio.run(channel.run()), daemon=True)
    try:
        traffic.start()
        _say(f"traffic: {args.rate:g} requests/s as {prefix}<n>")
        settle_started = time.monotonic()
        if args.timers:
            settle = timedelta(seconds=args.settle)
            timers.start(args.timers, timedelta(seconds=5), settle - timedelta(seconds=2))
            timers.start(args.timers, settle - timedelta(seconds=1), settle + timedelta(seconds=5))
            _say(f"timers: {2 * args.timers} due before and around the first fault")
        time.sleep(max(0.0, args.settle - (time.monotonic() - settle_started)))
        for name, inject in faults(topology):
            fault = Fault(name=name, injected_at=time.time())
            t0 = time.monotonic()
            _say(f"fault: {name}")
            inject(layout)
            _wait("the stack to be healthy again", lambda: _healthy(args.api, layout, topology), timeout=300)
            fault.healthy_after_s = time.monotonic() - t0
            figures.faults.append(fault)
            _say(f"  healthy after {fault.healthy_after_s:.0f} s; {len(channel.accepted)} accepted so far")
            time.sleep(args.settle)
            fault.longest_acceptance_gap_s = _longest_gap(
                channel.accepted_at, fault.injected_at, time.time() - args.settle / 2
            )
    finally:
        channel.stop.set()
        channel.give_up_at = time.monotonic() + 120
        traffic.join(timeout=180)
        container = bootstrap(settings)
        try:
            api_keys.revoke(container.uow, name=key_name)
        finally:
            container.close()
    return channel


def report(figures: Figures, verdict: Correctness, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fault-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(asdict(figures), indent=2, ensure_ascii=False))
    rows = [
        ("stack", Topology(**figures.topology).describe()),
        ("rate / duration", f"{figures.rate:g} req/s / {figures.duration_s:.0f} s"),
        (
            "requests sent / HTTP posts",
            f"{figures.sent} / {figures.posts} ({figures.refused_then_retried} retried, "
            f"{figures.rejected} rejected)",
        ),
        (
            "accepted / never accepted / stored",
            f"{figures.accepted} / {figures.never_accepted} / {figures.stored}",
        ),
        ("lost / duplicated / unfinished", f"{figures.lost} / {figures.duplicated} / {figures.unfinished}"),
        (
            "instances / staff tasks / notifications / mails",
            f"{verdict.instances} / {verdict.staff_tasks} / {verdict.notifications} / {verdict.mails}",
        ),
        (
            "without instance / staff task / mail",
            f"{figures.without_instance} / {figures.without_staff_task} / {figures.mails_missing}",
        ),
    ]
    if verdict.incidents:
        rows.append(("open incidents", f"{verdict.incidents}: {'; '.join(verdict.incident_messages)}"))
    for fault in figures.faults:
        recovered = f"{fault.recovered_s:.0f} s" if fault.recovered_s is not None else "never"
        rows.append(
            (
                fault.name,
                f"healthy again in {fault.healthy_after_s:.0f} s; a request received after it "
                f"reached its directorate {recovered} after the fault; longest wait between two "
                f"accepted posts {fault.longest_acceptance_gap_s:.1f} s",
            )
        )
    if figures.timers:
        rows.append(("timers", TimerFigures(**figures.timers).summary()))
    if figures.long_poll:
        polls = long_poll.LongPollFigures(**figures.long_poll)
        rows.append(("long poll, task on the same node", polls.summary(polls.same_node_ms)))
        rows.append(
            (
                "long poll, task on the other node",
                f"{polls.summary(polls.cross_node_ms)} (poll timeout {polls.poll_timeout_s:g} s)",
            )
        )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path}")
    problems = {
        k: v
        for k, v in asdict(verdict).items()
        if isinstance(v, int) and v and k.startswith(("without", "extra", "not_", "instance_id", "duplicate"))
    }
    if problems:
        print("correctness: " + ", ".join(f"{k} {v}" for k, v in problems.items()))
    if figures.lost or figures.duplicated or figures.unfinished:
        raise SystemExit("FAILED RUN: lost, duplicated or unfinished requests")
    if figures.timers and (figures.timers["fired_twice_or_more"] or figures.timers["not_fired"]):
        raise SystemExit("FAILED RUN: a timer fired twice or not at all")
    if figures.never_accepted or figures.rejected:
        raise SystemExit("FAILED RUN: a request was never accepted")


if __name__ == "__main__":
    main()
