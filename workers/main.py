"""`kalite-workers`: every external-task handler, the outbox dispatcher, the audit sealer, the
monitoring summaries' refresh and the SMS centre session that brings delivery receipts, in one
asyncio process.

Health and metrics on WORKER_HTTP_HOST:WORKER_HTTP_PORT (workers/monitoring.py).

SIGTERM/SIGINT: stop fetching, let running tasks finish (or hand them back), stop the dispatcher
and the sealer, unbind from the SMS centre, stop the health listener, exit.
"""

import asyncio
import logging
import os
import signal
import socket
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from services import audit, indicator_refresh, wording
from services.bootstrap import Container, bootstrap
from services.log_context import configure_logging
from services.operaton import ExternalTasks
from services.outbox import run_dispatcher
from services.sms_receipts import record_receipt
from workers import citizen_request, dif, monitoring, nonconformity, personal_data, system_check
from workers.runtime import Router, Worker

log = logging.getLogger("workers")


def routers(container: Container) -> list[Router]:
    """Every router of every process; adding a process means adding it here."""
    return [
        system_check.router(container),
        citizen_request.router(container),
        citizen_request.satisfaction_router(container),
        nonconformity.router(container),
        dif.router(container),
        personal_data.router(container),
    ]


def external_tasks(container: Container) -> ExternalTasks:
    settings = container.settings
    return ExternalTasks(
        settings.engine_rest_url,
        settings.engine_username,
        settings.engine_password,
        # Unique per process: the engine hands a locked task back only to its own worker.
        worker_id=f"kalite-workers@{socket.gethostname()}:{os.getpid()}",
        poll_timeout_ms=int(settings.worker_poll_seconds * 1000),
    )


async def run(container: Container) -> None:
    client = external_tasks(container)
    settings = container.settings
    worker = Worker(client, routers(container), max_tasks=settings.worker_max_tasks)
    listener, listening = monitoring.start(
        worker,
        container.engine,
        host=settings.worker_http_host,
        port=settings.worker_http_port,
        poll_seconds=settings.worker_poll_seconds,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatcher = asyncio.create_task(
        run_dispatcher(
            container.uow,
            container.process_engine,
            poll_seconds=container.settings.outbox_poll_seconds,
            stop=stop,
        )
    )
    sealer = asyncio.create_task(
        audit.run_sealer(container.engine, every_seconds=container.settings.audit_seal_seconds, stop=stop)
    )
    summaries = asyncio.create_task(
        indicator_refresh.run_refresher(
            container.engine, every_seconds=container.settings.indicator_refresh_seconds, stop=stop
        )
    )
    # Bound while tasks may still send: receipts of their SMS come back on this session.
    unbind = asyncio.Event()
    receipts = asyncio.create_task(
        container.sms.receive_receipts(partial(record_receipt, container.uow), stop=unbind)
    )
    working = asyncio.create_task(worker.work())
    log.info("workers started against %s: %s", container.settings.engine_rest_url, ", ".join(worker.topics))
    await stop.wait()
    log.info("stopping: finishing running tasks")
    await worker.stop()
    unbind.set()
    await asyncio.gather(working, dispatcher, sealer, summaries, receipts, return_exceptions=True)
    # Last: the probes answer while running tasks finish.
    listener.stop()
    await asyncio.gather(listening, return_exceptions=True)
    await client.close()
    log.info("workers stopped")


def main() -> None:
    container = bootstrap()
    configure_logging(container.settings.log_level)
    try:
        # A release's new texts are stored before the first task needs them (until then the
        # shipped text is sent); the API does the same.
        wording.load_defaults(container.uow)
    except SQLAlchemyError as error:
        log.warning("texts not checked, database unavailable: %s", type(error).__name__)
    try:
        asyncio.run(run(container))
    finally:
        container.close()


if __name__ == "__main__":
    main()
