"""`make bench`: how fast and how lean the citizen-request path is, against the engine's own ceiling.

Runs against the stack `make up` started (never part of `make test`). Phases:
1. ceiling — after `--warmup` instances not counted, `tests/bench/ceiling.bpmn` (process
   `bench-tavan`, topics `bench.*`): the shape of birim-istek's automated part (message start,
   two external tasks, end), deployed by the bench, started through `POST /engine-rest/message`
   as the outbox starts an instance
   (`services.operaton.Operaton.start_by_message`), its tasks done by no-op handlers on our own
   worker runtime (`workers.runtime.Worker` over `services.operaton.ExternalTasks`, configured as
   kalite-workers is) in this process: the engine with our client, without our business code;
2. intake — N requests posted by C concurrent clients (or a fixed rate for a duration) as a web
   integration with a key of its own;
3. end to end — from each post until the directorate's mail was accepted by the SMTP mailbox
   (the staff task is being created then);
4. resources and correctness — peak RSS of the API, the workers and the engine's JVM, the
   engine's CPU share, growth of our database and the engine's; every request stored once, one
   `birim-istek` instance each (the engine's history, by business key, started by the request's
   outbox row), its open staff task, one notification, one mail (tests/bench/checks.py).
`--scale` runs all of it once per shape — 1 and 2 engine nodes × 1 and 2 worker processes, one API
process — restarting the engine nodes, the balancer, the API and the workers between shapes
(deploy.local.stack.reshape) and putting the stack back as it was; then the shapes side by side.
Prints a table and writes JSON under <data>/bench/. A lost, duplicated or unfinished request
exits non-zero; the targets (ours ÷ ceiling ≥ 0.8, intake p99 < 100 ms at 50 req/s, RSS < 150 MB
per Python process) are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import Engine, create_engine
from tqdm import tqdm

from deploy.local import processes
from deploy.local.cluster import Topology
from deploy.local.stack import ENGINE_DATABASE, Layout, reshape
from services import api_keys
from services.bootstrap import bootstrap
from services.config import Settings, get_settings
from services.operaton import ExternalTasks, Operaton
from services.process_engine import EngineRefused, EngineUnavailable
from tests.bench import indicators
from tests.bench.checks import (
    Correctness,
    Mailbox,
    database_sizes,
    instances_by_business_key,
    judge,
    payload,
    pct,
    stored_requests,
)
from workers.runtime import ExternalTask, Router, Worker

HERE = Path(__file__).resolve().parent
CEILING_DIAGRAM = HERE / "ceiling.bpmn"
CEILING_PROCESS = "bench-tavan"
CEILING_MESSAGE = "bench-tavan-baslat"
ROUTE_TOPIC = "bench.yonlendir"
NOTIFY_TOPIC = "bench.bildir"
PYTHON_PROCESSES = ("api", "workers")


@dataclass
class Figures:
    requests: int
    concurrency: int
    mode: str
    ceiling_instances: int = 0
    ceiling_completed: int = 0
    ceiling_start_errors: int = 0
    ceiling_instances_per_s: float = 0.0
    ceiling_p50_ms: float = 0.0
    ceiling_p99_ms: float = 0.0
    ceiling_engine_cpu_share: float = 0.0
    intake_requests_per_s: float = 0.0
    intake_p50_ms: float = 0.0
    intake_p95_ms: float = 0.0
    intake_p99_ms: float = 0.0
    intake_errors: int = 0
    e2e_instances_per_s: float = 0.0
    e2e_p50_ms: float = 0.0
    e2e_p95_ms: float = 0.0
    e2e_p99_ms: float = 0.0
    ratio_to_ceiling: float = 0.0
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    engine_cpu_share: float = 0.0
    db_growth_mb: dict[str, float] = field(default_factory=dict)
    db_mb_per_10k_requests: float = 0.0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    unfinished: int = 0
    instances: int = 0
    staff_tasks: int = 0
    notifications: int = 0
    mails: int = 0
    correctness: dict[str, Any] = field(default_factory=dict)
    topology: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- 1. the engine's ceiling


class BenchVariables(BaseModel):
    bench_id: str = Field(alias="benchId")


@dataclass
class Ceiling:
    instances: int
    completed: int
    start_errors: int
    per_s: float
    latencies_ms: list[float]
    engine_cpu_share: float


async def ceiling(
    settings: Settings, layout: Layout, run_id: str, n: int, concurrency: int, *, workers: int = 1
) -> Ceiling:
    """The engine's own rate for this shape: our engine client starts, our worker runtime with
    no-op handlers completes (`workers` of them, polling side by side as worker processes do)."""
    engine = Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password)
    engine.deploy(CEILING_PROCESS, [CEILING_DIAGRAM], source="make bench")
    started: dict[str, float] = {}
    done: dict[str, float] = {}

    router = Router()

    @router.task(ROUTE_TOPIC, BenchVariables)
    async def route(task: ExternalTask, v: BenchVariables) -> dict[str, Any]:
        return {}

    @router.task(NOTIFY_TOPIC, BenchVariables)
    async def notify(task: ExternalTask, v: BenchVariables) -> dict[str, Any]:
        if v.bench_id in started:  # not an instance an earlier, interrupted run left behind
            done.setdefault(v.bench_id, time.perf_counter())
        return {}

    clients = [
        ExternalTasks(
            settings.engine_rest_url,
            settings.engine_username,
            settings.engine_password,
            worker_id=f"bench-tavan@{socket.gethostname()}:{os.getpid()}:{i}",
            poll_timeout_ms=int(settings.worker_poll_seconds * 1000),
        )
        for i in range(workers)
    ]
    runners = [Worker(client, [router], max_tasks=settings.worker_max_tasks) for client in clients]
    working = [asyncio.create_task(runner.work()) for runner in runners]
    loop = asyncio.get_running_loop()
    threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-start")
    limit = asyncio.Semaphore(concurrency)
    errors = 0

    async def start(bench_id: str) -> None:
        nonlocal errors
        async with limit:
            started[bench_id] = time.perf_counter()
            try:
                await loop.run_in_executor(
                    threads,
                    partial(
                        engine.start_by_message,
                        CEILING_MESSAGE,
                        business_key=bench_id,
                        variables={"benchId": bench_id},
                        start_id=bench_id,
                    ),
                )
            except (EngineUnavailable, EngineRefused) as error:
                errors += 1
                tqdm.write(f"ceiling: start {bench_id} failed: {error}")

    ids = [f"bench-{run_id}-{i}" for i in range(n)]
    engine_pids = _engine_pids(layout)
    cpu_before = _cpu_seconds(engine_pids)
    t0 = time.perf_counter()
    try:
        with tqdm(total=n, desc="ceiling", unit="inst", mininterval=1) as bar:
            starting = asyncio.gather(*(start(b) for b in ids))
            while (not starting.done() or len(done) < n - errors) and time.perf_counter() - t0 < 300:
                bar.update(len(done) - bar.n)
                await asyncio.sleep(0.2)
            await starting
            bar.update(len(done) - bar.n)
        wall = time.perf_counter() - t0
        cpu_share = (_cpu_seconds(engine_pids) - cpu_before) / (wall * (os.cpu_count() or 1))
    finally:
        for runner in runners:
            await runner.stop()
        await asyncio.gather(*working)
        for client in clients:
            await client.close()
        threads.shutdown()

    # The last handler has returned; its task's completion ends the instance a moment later.
    deadline = time.monotonic() + 30
    while True:
        history = instances_by_business_key(engine, CEILING_PROCESS, ids)
        completed = sum(1 for b in ids if [i["state"] for i in history.get(b, [])] == ["COMPLETED"])
        if completed >= len(done) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    engine.close()
    elapsed = max(done.values()) - t0 if done else 0.0
    return Ceiling(
        instances=n,
        completed=completed,
        start_errors=errors,
        per_s=len(done) / elapsed if elapsed else 0.0,
        latencies_ms=[(done[b] - started[b]) * 1000 for b in done],
        engine_cpu_share=cpu_share,
    )


# ---------------------------------------------------------------- 2. intake


@dataclass(frozen=True)
class Post:
    reference: str
    sent_at: datetime  # wall clock, when the integration posted
    latency_ms: float
    status: int | None  # None: no answer


async def intake(
    api_url: str, references: list[str], concurrency: int, rate: float | None, api_key: str
) -> tuple[list[Post], float]:
    """Post every request once. At a fixed rate the posts are not held back by a client limit, so
    the latency is what an integration posting at that rate sees."""
    posts: list[Post] = []
    limit = asyncio.Semaphore(concurrency if not rate else len(references) or 1)
    async with httpx.AsyncClient(
        base_url=api_url,
        timeout=30,
        limits=httpx.Limits(max_connections=concurrency if not rate else max(concurrency, 100)),
        headers={"X-API-Key": api_key},
    ) as client:

        async def post(reference: str) -> None:
            body = payload(reference)
            async with limit:
                sent_at = datetime.now(UTC)
                t = time.perf_counter()
                status: int | None
                try:
                    status = (await client.post("/requests", json=body)).status_code
                except httpx.HTTPError:
                    status = None
                posts.append(Post(reference, sent_at, (time.perf_counter() - t) * 1000, status))
                bar.update(1)

        t0 = time.perf_counter()
        with tqdm(total=len(references), desc="intake", unit="req") as bar:
            if rate:
                tasks = []
                for i, reference in enumerate(references):
                    tasks.append(asyncio.create_task(post(reference)))
                    await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
                await asyncio.gather(*tasks)
            else:
                await asyncio.gather(*(post(r) for r in references))
        elapsed = time.perf_counter() - t0
    return posts, elapsed


# ---------------------------------------------------------------- resources


def _engine_pids(layout: Layout) -> list[int]:
    """The engine's JVMs: the one node, or every node of the shape `make up` started."""
    nodes = Topology.started(layout.dirs.run).engines
    return [pid for node in nodes if (pid := processes.read_pid(layout.dirs, node.name))]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _databases(database: Engine) -> list[str]:
    ours = database.url.database or "kalite"
    # The engine's own database lives on our server unless ENGINE_DATABASE_URL points elsewhere.
    return [ours] if os.environ.get("ENGINE_DATABASE_URL") else [ours, ENGINE_DATABASE]


def _health(api_url: str) -> None:
    try:
        response = httpx.get(f"{api_url}/health", timeout=5)
    except httpx.HTTPError as error:
        raise SystemExit(f"the API at {api_url} does not answer ({error}): `make up` first") from None
    if response.status_code != 200:
        raise SystemExit(f"the stack is not healthy: {response.text}")


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, help="sustained mode: requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="sustained mode: seconds")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--warmup", type=int, default=100, help="ceiling instances run first and not counted (JIT warm-up)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="run once per shape: 1 and 2 engine nodes × 1 and 2 worker processes (restarts them)",
    )
    parser.add_argument(
        "--indicators",
        action="store_true",
        help="instead: the monitoring report over a year of bulk-loaded requests (PostgreSQL only)",
    )
    parser.add_argument("--indicator-requests", type=int, default=1_500_000, help="--indicators: requests")
    parser.add_argument("--indicator-runs", type=int, default=5, help="--indicators: timed runs per case")
    parser.add_argument(
        "--indicator-events", type=int, default=1000, help="--indicators: new history entries per refresh"
    )
    parser.add_argument(
        "--indicator-database",
        default="kalite_bench_indicators",
        help="--indicators: the database it drops, creates and loads",
    )
    args = parser.parse_args()
    if args.indicators:
        sys.exit(indicators.main(args))
    settings = get_settings()
    layout = Layout.from_env()
    _health(args.api)
    if not args.scale:
        figures, verdict = measure(args, settings, layout)
        sys.exit(report(figures, verdict, layout.data / "bench"))
    sys.exit(scale(args, settings, layout))


# The shapes `--scale` compares: (engine nodes, worker processes); one API process throughout, so
# that the engine and the workers are what changes.
SHAPES = ((1, 1), (1, 2), (2, 1), (2, 2))


def scale(args: argparse.Namespace, settings: Settings, layout: Layout) -> int:
    """One run per shape, the stack reshaped between them and put back as it was afterwards."""
    before = Topology.started(layout.dirs.run)
    results: list[Figures] = []
    failures = 0
    try:
        for nodes, workers in SHAPES:
            shape = Topology(engine_nodes=nodes, api_processes=1, worker_processes=workers)
            tqdm.write(f"\n=== {shape.describe()}")
            if Topology.started(layout.dirs.run) != shape:
                reshape(layout, shape)
            _health(args.api)
            figures, verdict = measure(args, settings, layout)
            failures += report(figures, verdict, layout.data / "bench")
            results.append(figures)
    finally:
        if Topology.started(layout.dirs.run) != before:
            tqdm.write(f"\nputting the stack back: {before.describe()}")
            reshape(layout, before)
    compare(results, layout.data / "bench")
    return 1 if failures else 0


def compare(results: list[Figures], folder: Path) -> None:
    """The shapes side by side."""
    path = folder / f"bench-scale-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps([asdict(f) for f in results], indent=2, ensure_ascii=False))
    head = (
        "engine nodes",
        "workers",
        "ceiling inst/s",
        "intake req/s",
        "e2e inst/s",
        "e2e p95 ms",
        "engine CPU",
    )
    rows = [
        (
            str(f.topology["engine_nodes"]),
            str(f.topology["worker_processes"]),
            f"{f.ceiling_instances_per_s:.1f}",
            f"{f.intake_requests_per_s:.1f}",
            f"{f.e2e_instances_per_s:.1f}",
            f"{f.e2e_p95_ms:.0f}",
            f"{f.engine_cpu_share:.0%}",
        )
        for f in results
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"\nscaling on {os.cpu_count()} cores")
    for line in (head, *rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    print(f"written to {path}")


def measure(args: argparse.Namespace, settings: Settings, layout: Layout) -> tuple[Figures, Correctness]:
    """One run of the four phases against the stack as it is."""
    database = create_engine(settings.database_url)
    total = int(args.rate * args.duration) if args.rate else args.requests
    mode = f"rate {args.rate:g}/s for {args.duration:.0f} s" if args.rate else "as fast as possible"
    shape = Topology.started(layout.dirs.run)
    figures = Figures(requests=total, concurrency=args.concurrency, mode=mode, topology=asdict(shape))
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    # 1. The ceiling, as many instances as the run has requests, as fast as the engine takes them,
    # after a warm-up the engine's JIT needs (a cold engine runs its first seconds far slower).
    if args.warmup:
        asyncio.run(
            ceiling(
                settings,
                layout,
                f"{run_id}-warmup",
                args.warmup,
                args.concurrency,
                workers=shape.worker_processes,
            )
        )
    top = asyncio.run(
        ceiling(settings, layout, run_id, total, args.concurrency, workers=shape.worker_processes)
    )
    figures.ceiling_instances, figures.ceiling_completed = top.instances, top.completed
    figures.ceiling_start_errors = top.start_errors
    figures.ceiling_instances_per_s = top.per_s
    figures.ceiling_p50_ms, figures.ceiling_p99_ms = pct(top.latencies_ms, 50), pct(top.latencies_ms, 99)
    figures.ceiling_engine_cpu_share = top.engine_cpu_share

    # 2. Intake, as a web integration of its own with a limit it never reaches.
    databases = _databases(database)
    db_before = database_sizes(database, databases)
    engine_pids = _engine_pids(layout)
    cpu_before, wall_before = _cpu_seconds(engine_pids), time.perf_counter()
    prefix = f"BENCH-{run_id}-"
    references = [f"{prefix}{i}" for i in range(total)]
    mailbox = Mailbox(settings.mailbox_dir, since=datetime.now(UTC) - timedelta(seconds=1))
    container = bootstrap(settings)
    key_name = f"bench-{run_id}"
    api_key = api_keys.create(container.uow, name=key_name, channel="web", requests_per_minute=1_000_000)
    try:
        posts, elapsed = asyncio.run(intake(args.api, references, args.concurrency, args.rate, api_key))
    finally:
        api_keys.revoke(container.uow, name=key_name)
        container.close()
    latencies = [p.latency_ms for p in posts]
    figures.intake_requests_per_s = len(posts) / elapsed if elapsed else 0.0
    figures.intake_p50_ms, figures.intake_p95_ms, figures.intake_p99_ms = (
        pct(latencies, 50),
        pct(latencies, 95),
        pct(latencies, 99),
    )
    figures.intake_errors = sum(1 for p in posts if p.status != 201)
    answered = {p.reference for p in posts if p.status in (200, 201)}

    # 3. End to end: until every stored request's directorate mail is in the mailbox.
    deadline = time.monotonic() + 900
    progress_at, finished = time.monotonic(), 0
    with tqdm(total=total, desc="end to end", unit="req") as bar:
        while True:
            rows = stored_requests(database, prefix)
            mailbox.scan()
            now_finished = sum(1 for r in rows if r.id in mailbox.by_request and r.notifications_sent)
            if now_finished > finished:
                progress_at, finished = time.monotonic(), now_finished
            bar.update(finished - bar.n)
            if finished >= len(rows) >= len(answered):
                break
            if time.monotonic() > deadline or time.monotonic() - progress_at > 180:
                tqdm.write("end to end: gave up waiting (no progress for 3 minutes, or 15 minutes in all)")
                break
            time.sleep(1)
    cpu_after, wall_after = _cpu_seconds(engine_pids), time.perf_counter()

    sent_at = {p.reference: p.sent_at for p in posts}
    e2e: list[float] = []
    first_post, last_mail = None, None
    for r in rows:
        mailed = mailbox.first(r.id)
        if mailed is None:
            continue
        posted = sent_at.get(r.channel_reference, r.received_at)
        e2e.append((mailed - posted).total_seconds() * 1000)
        first_post = min(first_post or posted, posted)
        last_mail = max(last_mail or mailed, mailed)
    if first_post and last_mail:
        figures.e2e_instances_per_s = len(e2e) / max((last_mail - first_post).total_seconds(), 1e-9)
    figures.e2e_p50_ms, figures.e2e_p95_ms, figures.e2e_p99_ms = pct(e2e, 50), pct(e2e, 95), pct(e2e, 99)
    if figures.ceiling_instances_per_s:
        figures.ratio_to_ceiling = figures.e2e_instances_per_s / figures.ceiling_instances_per_s

    # 4. Resources and correctness.
    for member in (*shape.apis, *shape.workers, *shape.engines):
        if pid := processes.read_pid(layout.dirs, member.name):
            figures.peak_rss_mb[member.name] = round(_peak_rss_mb(pid), 1)
    figures.engine_cpu_share = (cpu_after - cpu_before) / ((wall_after - wall_before) * (os.cpu_count() or 1))
    db_after = database_sizes(database, databases)
    growth = {name: (db_after[name] - db_before.get(name, 0)) / 1024 / 1024 for name in db_after}
    figures.db_growth_mb = {name: round(mb, 2) for name, mb in growth.items()}
    figures.db_mb_per_10k_requests = sum(growth.values()) / max(len(rows), 1) * 10_000

    with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as engine:
        # The staff task is created as the notification step completes, just after its mail.
        deadline = time.monotonic() + 60
        while True:
            verdict = judge(rows, engine, mailbox)
            if not verdict.unfinished or time.monotonic() > deadline:
                break
            time.sleep(1)
            rows = stored_requests(database, prefix)
    database.dispose()
    stored = Counter(r.channel_reference for r in rows)
    figures.accepted = verdict.accepted
    figures.lost = sum(1 for ref in answered if ref not in stored)
    figures.duplicated = verdict.duplicated
    figures.unfinished = verdict.unfinished
    figures.instances, figures.staff_tasks = verdict.instances, verdict.staff_tasks
    figures.notifications, figures.mails = verdict.notifications, verdict.mails
    figures.correctness = asdict(verdict)
    return figures, verdict


def report(figures: Figures, verdict: Correctness, folder: Path) -> int:
    """Print and keep the run's figures; 1 when the run failed (lost, duplicated, unfinished)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(asdict(figures), indent=2, ensure_ascii=False))
    rss = figures.peak_rss_mb
    rows = [
        ("stack", Topology(**figures.topology).describe()),
        ("requests / concurrency / mode", f"{figures.requests} / {figures.concurrency} / {figures.mode}"),
        (
            "engine ceiling (no-op workers)",
            f"{figures.ceiling_instances_per_s:.1f} inst/s, "
            f"p50 {figures.ceiling_p50_ms:.0f} ms, p99 {figures.ceiling_p99_ms:.0f} ms; "
            f"{figures.ceiling_completed}/{figures.ceiling_instances} completed, "
            f"engine CPU {figures.ceiling_engine_cpu_share:.0%}",
        ),
        (
            "intake POST /requests",
            f"{figures.intake_requests_per_s:.1f} req/s, p50 {figures.intake_p50_ms:.0f} ms, "
            f"p95 {figures.intake_p95_ms:.0f} ms, p99 {figures.intake_p99_ms:.0f} ms "
            f"(target p99 < 100 ms at 50 req/s), errors {figures.intake_errors}",
        ),
        (
            "end to end (intake → directorate mailed)",
            f"{figures.e2e_instances_per_s:.1f} inst/s, "
            f"p50 {figures.e2e_p50_ms:.0f} ms, p95 {figures.e2e_p95_ms:.0f} ms, "
            f"p99 {figures.e2e_p99_ms:.0f} ms",
        ),
        ("ours ÷ ceiling", f"{figures.ratio_to_ceiling:.2f} (target ≥ 0.8)"),
        (
            "peak RSS (MB)",
            ", ".join(f"{k} {v:.0f}" for k, v in rss.items()) + " (target < 150 per Python process)",
        ),
        ("engine CPU share of the machine", f"{figures.engine_cpu_share:.0%}"),
        (
            "database growth",
            ", ".join(f"{k} {v:.1f} MB" for k, v in figures.db_growth_mb.items())
            + f"; {figures.db_mb_per_10k_requests:.1f} MB per 10,000 requests",
        ),
        (
            "accepted / lost / duplicated / unfinished",
            f"{figures.accepted} / {figures.lost} / {figures.duplicated} / {figures.unfinished}",
        ),
        (
            "instances / staff tasks / notifications / mails",
            f"{figures.instances} / {figures.staff_tasks} / {figures.notifications} / {figures.mails}",
        ),
    ]
    if verdict.incidents:
        rows.append(("open incidents", f"{verdict.incidents}: {'; '.join(verdict.incident_messages)}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path}")
    over = [k for k, mb in rss.items() if k.startswith(PYTHON_PROCESSES) and mb >= 150]
    if over:
        print(f"note: peak RSS over the 150 MB target: {', '.join(over)}")
    problems = {
        k: v
        for k, v in asdict(verdict).items()
        if isinstance(v, int) and v and k.startswith(("without", "extra", "not_", "instance_id", "duplicate"))
    }
    if problems:
        print("correctness: " + ", ".join(f"{k} {v}" for k, v in problems.items()))
    if figures.lost or figures.duplicated or figures.unfinished or figures.intake_errors:
        print("FAILED RUN: lost, duplicated or unfinished requests")
        return 1
    if figures.ceiling_completed < figures.ceiling_instances:
        print("FAILED RUN: the ceiling's instances did not all complete")
        return 1
    return 0


if __name__ == "__main__":
    main()
