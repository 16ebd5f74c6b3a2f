"""Transactional outbox: process starts (and messages to waiting instances) are committed with the
change that needs them and sent to the engine afterwards — one instance per row, always.

The engine does not deduplicate starts: the same message twice makes two instances. So:

1. **Lease before sending.** A dispatcher claims rows (FOR UPDATE SKIP LOCKED), stamps
   `attempted_at` and commits, then sends. Another dispatcher leaves a row alone until
   `LEASE_SECONDS` after its last attempt, which is longer than an engine call may take
   (`ENGINE_CALL_SECONDS`): a start still in flight at the engine is never sent a second time.
2. **Ask before sending again.** Every start carries the row's id (`startedBy`). A row attempted
   before (answer lost, dispatcher or engine killed mid-send) is first looked up in the engine's
   history; when an instance with that start id exists, running or ended, the row is done.
3. **Messages to a waiting instance** (`starts_process` false) go to the instance with the row's
   business key. The engine keeps no message that nothing waits for, so one that comes a moment
   early is tried again for `UNAWAITED_MESSAGE_SECONDS`; after that nothing waits any more
   (delivered already, or the wait ended) and the row is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from services import metrics
from services.db import UnitOfWorkFactory
from services.models import OutboxMessage
from services.process_engine import EngineUnavailable, ProcessEngine

log = logging.getLogger(__name__)

ENGINE_CALL_SECONDS = 15  # the adapter's HTTP timeout
LEASE_SECONDS = 2 * ENGINE_CALL_SECONDS + 5
# The engine keeps no message for an instance that does not wait for it yet (a citizen's reply
# can come a moment before the engine reaches the wait): such a message is tried this long.
UNAWAITED_MESSAGE_SECONDS = 120


class NothingWaitsYet(Exception):
    """A message no instance waits for (yet): tried again until UNAWAITED_MESSAGE_SECONDS."""


def enqueue_message(
    session: Session,
    *,
    message_name: str,
    correlation_key: str,
    variables: dict[str, Any],
    starts_process: bool = True,
) -> OutboxMessage:
    """Add a process start (or, `starts_process=False`, a message to the waiting instance whose
    business key is `correlation_key`) to the caller's transaction (the caller commits)."""
    row = OutboxMessage(
        id=uuid.uuid4(),
        message_name=message_name,
        correlation_key=correlation_key,
        variables=variables,
        attempts=0,
        starts_process=starts_process,
    )
    session.add(row)
    return row


def lease_pending(session: Session, batch: int) -> list[OutboxMessage]:
    """Claim up to `batch` rows to send, oldest first: not dispatched, not leased by another
    dispatcher (locked now, or attempted within the lease). The caller commits the lease."""
    now = datetime.now(UTC)
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.dispatched_at.is_(None),
                or_(
                    OutboxMessage.attempted_at.is_(None),
                    OutboxMessage.attempted_at < now - timedelta(seconds=LEASE_SECONDS),
                ),
            )
            .order_by(OutboxMessage.created_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.attempts += 1
        row.attempted_at = now
    return rows


def send(engine: ProcessEngine, row: OutboxMessage) -> str:
    """Deliver one row; returns what happened (for the log). Raises when the engine is away."""
    if not row.starts_process:
        if engine.correlate(row.message_name, business_key=row.correlation_key, variables=row.variables):
            return "delivered"
        if datetime.now(UTC) - row.created_at < timedelta(seconds=UNAWAITED_MESSAGE_SECONDS):
            raise NothingWaitsYet(f"no instance of {row.correlation_key} waits for {row.message_name} yet")
        # Delivered before (an answer lost) or the wait ended (timed out): nothing to do.
        return "nothing waits for it any more"
    if row.attempts > 1 and (instance := engine.started_instance(str(row.id))):
        return f"had started {instance}"
    instance = engine.start_by_message(
        row.message_name, business_key=row.correlation_key, variables=row.variables, start_id=str(row.id)
    )
    return f"started {instance}"


@dataclass(frozen=True)
class Outcome:
    row_id: uuid.UUID
    error: str | None = None  # None: done
    # The answer was lost: the engine may still be committing it, so the lease stays until it
    # has surely ended. Otherwise (never reached the engine, or refused) the lease is given back
    # and the row is retried at once.
    keep_lease: bool = False


def record(uow_factory: UnitOfWorkFactory, outcomes: list[Outcome]) -> None:
    """What a round achieved, in one transaction (a crash before it only means the rows are
    looked up in the engine's history when their lease has run out)."""
    if not outcomes:
        return
    with uow_factory() as uow:
        done = [o.row_id for o in outcomes if o.error is None]
        if done:
            uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(done))
                .values(dispatched_at=datetime.now(UTC), last_error=None)
            )
        for o in outcomes:
            if o.error is not None:
                values: dict[str, Any] = {"last_error": o.error[:1000]}
                if not o.keep_lease:
                    values["attempted_at"] = None
                uow.session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == o.row_id).values(**values)
                )
        uow.commit()


async def dispatch_pending(
    uow_factory: UnitOfWorkFactory, engine: ProcessEngine, *, batch: int = 64, parallel: int = 8
) -> int:
    """Send leased rows; returns how many are done. Rows with the same business key go one after
    the other in the order they were written; the first failure of the engine ends the round."""
    with uow_factory() as uow:
        rows = await asyncio.to_thread(lease_pending, uow.session, batch)
        await asyncio.to_thread(uow.commit)  # the lease, before anything is sent
        for row in rows:
            uow.session.expunge(row)
    by_key: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        by_key.setdefault(row.correlation_key, []).append(row)
    limit = asyncio.Semaphore(parallel)
    failed = asyncio.Event()
    outcomes: list[Outcome] = []

    async def send_in_order(queue: list[OutboxMessage]) -> None:
        for row in queue:
            if failed.is_set():
                outcomes.append(Outcome(row.id, "not sent: the round ended early"))
                continue
            async with limit:
                try:
                    outcome = await asyncio.to_thread(send, engine, row)
                except NothingWaitsYet as error:
                    outcomes.append(Outcome(row.id, str(error)))
                    continue
                except Exception as error:  # the engine is away or refused: retry next round
                    failed.set()
                    log.warning("outbox %s not sent yet: %s", row.id, error)
                    in_doubt = isinstance(error, EngineUnavailable) and error.maybe_processed
                    outcomes.append(Outcome(row.id, f"{type(error).__name__}: {error}", keep_lease=in_doubt))
                    continue
            log.info("outbox %s (%s): %s", row.id, row.message_name, outcome)
            outcomes.append(Outcome(row.id))

    await asyncio.gather(*(send_in_order(queue) for queue in by_key.values()))
    await asyncio.to_thread(record, uow_factory, outcomes)
    done = sum(1 for o in outcomes if o.error is None)
    metrics.OUTBOX_DISPATCHED.inc(done)
    metrics.OUTBOX_FAILED.inc(len(outcomes) - done)
    return done


async def run_dispatcher(
    uow_factory: UnitOfWorkFactory, engine: ProcessEngine, *, poll_seconds: float, stop: asyncio.Event
) -> None:
    """Dispatch until stop is set; back off while the engine or database is unavailable."""
    delay = poll_seconds
    while not stop.is_set():
        try:
            count = await dispatch_pending(uow_factory, engine)
            delay = 0 if count else poll_seconds
        except Exception:
            log.exception("outbox dispatcher failed; retrying")
            delay = min(max(delay * 2, poll_seconds), 10.0)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
