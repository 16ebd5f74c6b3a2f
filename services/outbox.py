"""Transactional outbox: process starts are committed with the change that needs them and
published to Zeebe afterwards, exactly once.

Why a second instance cannot appear when the dispatcher crashes between publishing a row and
committing `dispatched_at` (and so publishes it again on its next round):

1. Each row becomes one Zeebe message whose message id is the row's id. Zeebe rejects a message
   with the same id, name and correlation key while the first one is still buffered (for
   MESSAGE_TTL_MS); the retry gets MessageAlreadyExistsError and the row is marked dispatched.
2. The diagrams start with a message start event, and the correlation key is the business id
   (e.g. the system check's id). Zeebe creates no new instance for a message whose correlation
   key already started an instance of that process that is still active.

Only a republish later than the time to live, after the first instance has ended, could start a
second instance; the dispatcher retries within seconds, so the hour is a wide margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from pyzeebe.errors import MessageAlreadyExistsError, ZeebeBackPressureError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import UnitOfWorkFactory
from services.models import OutboxMessage

log = logging.getLogger(__name__)

# Long enough to cover any retry of a crashed dispatcher.
MESSAGE_TTL_MS = 60 * 60 * 1000
# The engine pushes back (RESOURCE_EXHAUSTED) when its request limit is reached: a transient
# "not now" for that one message, retried shortly, unlike an engine that does not answer.
BUSY_RETRIES = 40
BUSY_PAUSE_SECONDS = 0.05


class MessagePublisher(Protocol):
    """What the dispatcher needs of pyzeebe's ZeebeClient (tests pass a fake)."""

    async def publish_message(
        self,
        name: str,
        correlation_key: str,
        variables: dict[str, Any] | None = None,
        time_to_live_in_milliseconds: int = 60000,
        message_id: str | None = None,
        tenant_id: str | None = None,
    ) -> object: ...


def enqueue_message(
    session: Session, *, message_name: str, correlation_key: str, variables: dict[str, Any]
) -> OutboxMessage:
    """Add a message (a process start or a reply) to the caller's transaction (it commits)."""
    row = OutboxMessage(
        id=uuid.uuid4(),
        message_name=message_name,
        correlation_key=correlation_key,
        variables=variables,
        attempts=0,
    )
    session.add(row)
    return row


async def dispatch_pending(
    uow_factory: UnitOfWorkFactory, client: MessagePublisher, *, batch: int = 64, parallel: int = 16
) -> int:
    """Publish undispatched rows; returns how many were dispatched.

    The rows stay locked (FOR UPDATE SKIP LOCKED) until the commit, so a second dispatcher skips
    them instead of publishing them too. Up to `parallel` publishes are in flight (Zeebe pushes
    back beyond about 16 on this machine, and a message it pushes back is retried shortly); rows
    with the same correlation key go one after the other, in the order they were written. Any
    other failure (the engine is down) ends the round: what was not yet sent waits for the next.
    The database calls run in a thread: the dispatcher shares its event loop with the job
    handlers of the worker process.
    """
    with uow_factory() as uow:
        rows = await asyncio.to_thread(claim_pending, uow.session, batch)
        by_key: dict[str, list[OutboxMessage]] = {}
        for row in rows:
            by_key.setdefault(row.correlation_key, []).append(row)
        limit = asyncio.Semaphore(parallel)
        failed = asyncio.Event()

        async def publish_in_order(queue: list[OutboxMessage]) -> int:
            sent = 0
            for row in queue:
                async with limit:
                    if failed.is_set() or not await _publish(client, row):
                        failed.set()
                        return sent
                sent += 1
            return sent

        dispatched = sum(await asyncio.gather(*(publish_in_order(queue) for queue in by_key.values())))
        await asyncio.to_thread(uow.commit)
    return dispatched


async def _publish(client: MessagePublisher, row: OutboxMessage) -> bool:
    row.attempts += 1
    try:
        for busy in range(BUSY_RETRIES + 1):
            try:
                await client.publish_message(
                    name=row.message_name,
                    correlation_key=row.correlation_key,
                    variables=row.variables,
                    time_to_live_in_milliseconds=MESSAGE_TTL_MS,
                    message_id=str(row.id),
                )
                break
            except ZeebeBackPressureError:
                if busy == BUSY_RETRIES:
                    raise
                await asyncio.sleep(BUSY_PAUSE_SECONDS * (1 + busy % 4))
    except MessageAlreadyExistsError:
        log.info("outbox %s was already published", row.id)
    except Exception as error:  # the engine is down or busy: keep the row, retry later
        row.last_error = f"{type(error).__name__}: {error}"[:1000]
        log.warning("outbox %s not published yet: %s", row.id, type(error).__name__)
        return False
    row.dispatched_at = datetime.now(UTC)
    row.last_error = None
    return True


def claim_pending(session: Session, batch: int) -> list[OutboxMessage]:
    """Lock up to `batch` undispatched rows, oldest first, skipping rows another dispatcher holds."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None))
            .order_by(OutboxMessage.created_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )


async def run_dispatcher(
    uow_factory: UnitOfWorkFactory, client: MessagePublisher, *, poll_seconds: float, stop: asyncio.Event
) -> None:
    """Dispatch until stop is set; back off while the engine or database is unavailable."""
    delay = poll_seconds
    while not stop.is_set():
        try:
            count = await dispatch_pending(uow_factory, client)
            delay = 0 if count else poll_seconds
        except Exception:
            log.exception("outbox dispatcher failed; retrying")
            delay = min(max(delay * 2, poll_seconds), 10.0)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
