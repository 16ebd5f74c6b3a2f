"""`make bench`: how fast and how lean the citizen-request path is, against the engine's own ceiling.

Runs against the stack `make up` started (never part of `make test`). Phases:
1. ceiling — the same shape (message start, two service tasks, a user task) with no-op workers;
2. intake — N requests posted by C concurrent clients (or a fixed rate for a duration);
3. end to end — from intake until the directorate's mail was accepted by the SMTP server, i.e. the
   staff task is being created;
4. resources and correctness — peak RSS, engine CPU share, database growth; every request once,
   one instance, one notification (database and SMTP mailbox).
Prints a table and writes JSON under <data>/bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pyzeebe import ZeebeWorker
from pyzeebe.errors import ZeebeBackPressureError
from sqlalchemy import create_engine, text
from tqdm import tqdm

from deploy.local import processes
from deploy.local.stack import Layout
from services import api_keys
from services.bootstrap import bootstrap
from services.config import get_settings
from services.engine import long_lived_client, open_channel
from tests.integration.citizen import payload

HERE = Path(__file__).resolve().parent
CEILING_MESSAGE = "olcum-tavan-baslat"


@dataclass
class Figures:
    requests: int
    concurrency: int
    mode: str
    ceiling_instances_per_s: float = 0.0
    ceiling_p50_ms: float = 0.0
    ceiling_p99_ms: float = 0.0
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
    db_mb_per_10k_requests: float = 0.0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    instances: int = 0
    notifications: int = 0
    mails: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def ceiling(n: int, concurrency: int) -> tuple[float, list[float]]:
    """The engine's own rate for this shape, with no-op workers in this process."""
    channel = open_channel(get_settings().zeebe_gateway_address)
    client = long_lived_client(channel)
    await client.deploy_resource(HERE / "ceiling.bpmn")
    started: dict[str, float] = {}
    done: dict[str, float] = {}
    # Configured as the product's worker is (job streaming, short retry delay): the ceiling is
    # the engine's, not pyzeebe's defaults'.
    worker = ZeebeWorker(
        channel, name="bench-noop", max_connection_retries=-1, stream_enabled=True, poll_retry_delay=1
    )

    @worker.task("olcum-tavan.yonlendir", max_jobs_to_activate=64, max_running_jobs=64)  # type: ignore[arg-type]
    async def route() -> dict[str, Any]:
        return {}

    @worker.task("olcum-tavan.bildir", max_jobs_to_activate=64, max_running_jobs=64)  # type: ignore[arg-type]
    async def notify(benchId: str = "") -> dict[str, Any]:
        done[benchId] = time.perf_counter()
        return {}

    working = asyncio.create_task(worker.work())
    limit = asyncio.Semaphore(concurrency)

    async def start(i: int) -> None:
        bench_id = f"{uuid.uuid4()}"
        async with limit:
            started[bench_id] = time.perf_counter()
            while True:  # the engine pushes back when its request limit is reached: retry, as the outbox does
                try:
                    await client.publish_message(
                        CEILING_MESSAGE,
                        correlation_key=bench_id,
                        variables={"benchId": bench_id},
                        message_id=bench_id,
                    )
                    return
                except ZeebeBackPressureError:
                    await asyncio.sleep(0.05)

    t0 = time.perf_counter()
    with tqdm(total=n, desc="ceiling", unit="inst", mininterval=2) as bar:
        await asyncio.gather(*(start(i) for i in range(n)))
        while len(done) < n and time.perf_counter() - t0 < 300:
            bar.update(len(done) - bar.n)
            await asyncio.sleep(0.2)
        bar.update(len(done) - bar.n)
    elapsed = max(done.values()) - t0 if done else 0.0
    await worker.stop()
    working.cancel()
    await channel.close()
    latencies = [(done[k] - started[k]) * 1000 for k in done]
    return (len(done) / elapsed if elapsed else 0.0), latencies


async def intake(
    api_url: str,
    n: int,
    concurrency: int,
    rate: float | None,
    duration: float | None,
    run_id: str,
    api_key: str,
) -> tuple[list[float], int, float, int]:
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration) if rate and duration else n
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=api_url,
        timeout=30,
        limits=httpx.Limits(max_connections=concurrency),
        headers={"X-API-Key": api_key},
    ) as client:

        async def post(i: int) -> None:
            nonlocal errors
            body = payload(channel="web", channelReference=f"BENCH-{run_id}-{i}", categoryCode="TEMIZLIK-COP")
            async with limit:
                t = time.perf_counter()
                try:
                    response = await client.post("/requests", json=body)
                    ok = response.status_code == 201
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t) * 1000)
                errors += 0 if ok else 1
                bar.update(1)

        t0 = time.perf_counter()
        with tqdm(total=total, desc="intake", unit="req") as bar:
            if rate:
                tasks = []
                for i in range(total):
                    tasks.append(asyncio.create_task(post(i)))
                    await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
                await asyncio.gather(*tasks)
            else:
                await asyncio.gather(*(post(i) for i in range(total)))
        elapsed = time.perf_counter() - t0
    return latencies, errors, elapsed, total


def _pid_stat(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _java_pid(layout: Layout) -> int | None:
    """bin/camunda exec's java; the pid file holds that same process."""
    return processes.read_pid(layout.dirs, "camunda")


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, help="sustained mode: requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="sustained mode: seconds")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    args = parser.parse_args()

    settings = get_settings()
    layout = Layout.from_env()
    engine = create_engine(settings.database_url)
    mode = f"rate {args.rate}/s for {args.duration:.0f} s" if args.rate else "as fast as possible"
    figures = Figures(requests=args.requests, concurrency=args.concurrency, mode=mode)

    rate, latencies = asyncio.run(ceiling(args.requests, args.concurrency))
    figures.ceiling_instances_per_s = rate
    figures.ceiling_p50_ms, figures.ceiling_p99_ms = pct(latencies, 50), pct(latencies, 99)

    with engine.connect() as c:
        db_before = c.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    camunda_pid = _java_pid(layout)
    cpu_before, wall_before = (_pid_stat(camunda_pid) if camunda_pid else 0.0), time.perf_counter()
    mails_before = len(list((layout.data / "mailbox").glob("*.eml")))

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    # The bench posts as a web integration of its own, with a limit it never reaches.
    container = bootstrap(settings)
    key_name = f"bench-{run_id}"
    api_key = api_keys.create(container.uow, name=key_name, channel="web", requests_per_minute=1_000_000)
    try:
        lat, errors, elapsed, total = asyncio.run(
            intake(
                args.api,
                args.requests,
                args.concurrency,
                args.rate,
                args.duration if args.rate else None,
                run_id,
                api_key,
            )
        )
    finally:
        api_keys.revoke(container.uow, name=key_name)
        container.close()
    figures.requests = total
    figures.intake_requests_per_s = total / elapsed
    figures.intake_p50_ms, figures.intake_p95_ms, figures.intake_p99_ms = (
        pct(lat, 50),
        pct(lat, 95),
        pct(lat, 99),
    )
    figures.intake_errors = errors

    query = text(
        "SELECT r.id, r.received_at, r.process_instance_id, "
        "(SELECT count(*) FROM notifications n WHERE n.idempotency_key LIKE 'notify:' || r.id || ':%' "
        " AND n.sent_at IS NOT NULL) AS sent, "
        "(SELECT max(n.sent_at) FROM notifications n "
        " WHERE n.idempotency_key LIKE 'notify:' || r.id || ':%') AS sent_at "
        "FROM citizen_requests r WHERE r.channel = 'web' AND r.channel_reference LIKE :prefix"
    )
    deadline = time.monotonic() + 900
    with tqdm(total=total, desc="end to end", unit="req") as bar:
        while True:
            with engine.connect() as c:
                rows = c.execute(query, {"prefix": f"BENCH-{run_id}-%"}).mappings().all()
            finished = sum(1 for r in rows if r["sent"])
            bar.update(finished - bar.n)
            if finished >= total - errors or time.monotonic() > deadline:
                break
            time.sleep(1)
    cpu_after, wall_after = (_pid_stat(camunda_pid) if camunda_pid else 0.0), time.perf_counter()

    e2e = [(r["sent_at"] - r["received_at"]).total_seconds() * 1000 for r in rows if r["sent_at"]]
    if e2e:
        first = min(r["received_at"] for r in rows)
        last = max(r["sent_at"] for r in rows if r["sent_at"])
        figures.e2e_instances_per_s = len(e2e) / max((last - first).total_seconds(), 1e-9)
    figures.e2e_p50_ms, figures.e2e_p95_ms, figures.e2e_p99_ms = pct(e2e, 50), pct(e2e, 95), pct(e2e, 99)
    if figures.ceiling_instances_per_s:
        figures.ratio_to_ceiling = figures.e2e_instances_per_s / figures.ceiling_instances_per_s

    for name in ("api", "workers", "camunda", "opensearch"):
        pid = processes.read_pid(layout.dirs, name)
        if pid:
            figures.peak_rss_mb[name] = round(_peak_rss_mb(pid), 1)
    cores = os.cpu_count() or 1
    figures.engine_cpu_share = (cpu_after - cpu_before) / ((wall_after - wall_before) * cores)
    with engine.connect() as c:
        db_after = c.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    figures.db_mb_per_10k_requests = (db_after - db_before) / 1024 / 1024 / max(len(rows), 1) * 10_000

    figures.accepted = len(rows)
    figures.lost = max(0, total - errors - len(rows))
    figures.duplicated = 0  # (channel, channel_reference) is unique: a duplicate cannot be stored
    figures.instances = len({r["process_instance_id"] for r in rows if r["process_instance_id"]})
    figures.notifications = sum(int(r["sent"]) for r in rows)
    figures.mails = len(list((layout.data / "mailbox").glob("*.eml"))) - mails_before
    engine.dispose()

    report(figures, layout.data / "bench")


def report(figures: Figures, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(asdict(figures), indent=2))
    rows = [
        ("requests / concurrency / mode", f"{figures.requests} / {figures.concurrency} / {figures.mode}"),
        (
            "engine ceiling (no-op workers)",
            f"{figures.ceiling_instances_per_s:.1f} inst/s, "
            f"p50 {figures.ceiling_p50_ms:.0f} ms, p99 {figures.ceiling_p99_ms:.0f} ms",
        ),
        (
            "intake POST /requests",
            f"{figures.intake_requests_per_s:.1f} req/s, p50 {figures.intake_p50_ms:.0f} ms, "
            f"p95 {figures.intake_p95_ms:.0f} ms, p99 {figures.intake_p99_ms:.0f} ms, "
            f"errors {figures.intake_errors}",
        ),
        (
            "end to end (intake → directorate mailed)",
            f"{figures.e2e_instances_per_s:.1f} inst/s, "
            f"p50 {figures.e2e_p50_ms:.0f} ms, p95 {figures.e2e_p95_ms:.0f} ms, "
            f"p99 {figures.e2e_p99_ms:.0f} ms",
        ),
        ("ours ÷ ceiling", f"{figures.ratio_to_ceiling:.2f} (target ≥ 0.8)"),
        ("peak RSS (MB)", ", ".join(f"{k} {v:.0f}" for k, v in figures.peak_rss_mb.items())),
        ("engine CPU share of the machine", f"{figures.engine_cpu_share:.0%}"),
        ("database growth per 10,000 requests", f"{figures.db_mb_per_10k_requests:.1f} MB"),
        ("accepted / lost / duplicated", f"{figures.accepted} / {figures.lost} / {figures.duplicated}"),
        (
            "instances / notifications / mails",
            f"{figures.instances} / {figures.notifications} / {figures.mails}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"\nwritten to {path}")
    ok = (
        figures.lost == 0
        and figures.intake_errors == 0
        and figures.instances == figures.accepted
        and figures.notifications == figures.accepted
    )
    if not ok:
        raise SystemExit("FAILED RUN: lost, duplicated or unfinished requests")


if __name__ == "__main__":
    main()
