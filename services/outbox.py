"""Transactional outbox: process starts are committed with the change that needs them and
published to Zeebe afterwards, exactly once.

Each row becomes one Zeebe message whose message id is the row's id. Zeebe rejects a second
message with the same id while the first is buffered (its time to live), so a dispatcher that
crashes after publishing but before marking the row dispatched republishes harmlessly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import UnitOfWorkFactory
from services.models import OutboxMessage

log = logging.getLogger(__name__)

# Long enough to cover any retry of a crashed dispatcher.
MESSAGE_TTL_MS = 60 * 60 * 1000


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


async def dispatch_pending(uow_factory: UnitOfWorkFactory, client: ZeebeClient, *, batch: int = 50) -> int:
    """Publish undispatched rows; returns how many were dispatched."""
    with uow_factory() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None))
            .order_by(OutboxMessage.created_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        dispatched = 0
        for row in rows:
            row.attempts += 1
            try:
                await client.publish_message(
                    name=row.message_name,
                    correlation_key=row.correlation_key,
                    variables=row.variables,
                    time_to_live_in_milliseconds=MESSAGE_TTL_MS,
                    message_id=str(row.id),
                )
            except MessageAlreadyExistsError:
                log.info("outbox %s was already published", row.id)
            except Exception as error:  # the engine is down or busy: keep the row, retry later
                row.last_error = f"{type(error).__name__}: {error}"[:1000]
                log.warning("outbox %s not published yet: %s", row.id, type(error).__name__)
                break
            row.dispatched_at = datetime.now(UTC)
            row.last_error = None
            dispatched += 1
        uow.commit()
    return dispatched


async def run_dispatcher(
    uow_factory: UnitOfWorkFactory, client: ZeebeClient, *, poll_seconds: float, stop: asyncio.Event
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
