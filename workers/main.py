"""`kalite-workers`: every task handler plus the outbox dispatcher, in one async process.

SIGTERM/SIGINT stop polling, let running jobs finish, then exit; jobs not finished in time go
back to the engine when their timeout passes.
"""

import asyncio
import logging
import signal

import grpc
from pyzeebe import ZeebeTaskRouter, ZeebeWorker

from services import audit
from services.bootstrap import Container, bootstrap
from services.engine import long_lived_client, open_channel
from services.log_context import configure_logging, job_context
from services.outbox import run_dispatcher
from workers import citizen_request, dif, nonconformity, personal_data, system_check

log = logging.getLogger("workers")


def routers(container: Container) -> list[ZeebeTaskRouter]:
    """Every task router of every process; adding a process means adding it here."""
    return [
        system_check.router(container),
        citizen_request.router(container),
        nonconformity.router(container),
        dif.router(container),
        personal_data.router(container),
    ]


def build_worker(container: Container, channel: grpc.aio.Channel) -> ZeebeWorker:
    worker = ZeebeWorker(
        channel,
        name="kalite-workers",
        max_connection_retries=-1,
        # Jobs are pushed to the worker as the engine creates them (Zeebe 8.4+ job streaming);
        # polling remains for jobs created while no stream was open. pyzeebe waits
        # `poll_retry_delay` after the engine pushed back or all slots were busy: 5 s by default,
        # which capped the whole worker at a few instances per second under load.
        stream_enabled=True,
        poll_retry_delay=1,
        before=[job_context.enter],
        after=[job_context.leave],
    )
    worker.include_router(*routers(container))
    return worker


async def run(container: Container) -> None:
    channel = open_channel(container.settings.zeebe_gateway_address)
    worker = build_worker(container, channel)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatcher = asyncio.create_task(
        run_dispatcher(
            container.uow,
            long_lived_client(channel),
            poll_seconds=container.settings.outbox_poll_seconds,
            stop=stop,
        )
    )
    sealer = asyncio.create_task(
        audit.run_sealer(container.engine, every_seconds=container.settings.audit_seal_seconds, stop=stop)
    )
    working = asyncio.create_task(worker.work())
    log.info("workers started against %s", container.settings.zeebe_gateway_address)
    await stop.wait()
    log.info("stopping: finishing running jobs")
    await worker.stop()
    await asyncio.gather(working, dispatcher, sealer, return_exceptions=True)
    await channel.close()
    log.info("workers stopped")


def main() -> None:
    container = bootstrap()
    configure_logging(container.settings.log_level)
    try:
        asyncio.run(run(container))
    finally:
        container.close()


if __name__ == "__main__":
    main()
