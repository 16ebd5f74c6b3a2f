"""The outbox: a process start is committed with its business row and published exactly once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from pyzeebe.errors import MessageAlreadyExistsError, ZeebeGatewayUnavailableError
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.orm import Session

from services.bootstrap import Container
from services.models import OutboxMessage, SystemCheck
from services.outbox import MESSAGE_TTL_MS, claim_pending, dispatch_pending, enqueue_message
from services.system_checks import START_MESSAGE, request_check


@dataclass
class FakeZeebe:
    """Publishes like Zeebe: a second message with a buffered message id is refused."""

    published: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    async def publish_message(
        self,
        name: str,
        correlation_key: str,
        variables: dict[str, Any] | None = None,
        time_to_live_in_milliseconds: int = 60000,
        message_id: str | None = None,
        tenant_id: str | None = None,
    ) -> object:
        if self.down:
            unavailable = grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "connection refused"
            )
            raise ZeebeGatewayUnavailableError(unavailable)
        if any(p["message_id"] == message_id for p in self.published):
            raise MessageAlreadyExistsError()
        self.published.append(
            {
                "name": name,
                "correlation_key": correlation_key,
                "variables": variables,
                "ttl": time_to_live_in_milliseconds,
                "message_id": message_id,
            }
        )
        return object()


@pytest.fixture()
def quiet_outbox(container: Container) -> Container:
    """Rows left undispatched by earlier runs are hidden (inside the rolled-back transaction)."""
    with container.uow() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None))
            .values(dispatched_at=text("now()"))
        )
        uow.commit()
    return container


def _row(container: Container, correlation_key: str) -> OutboxMessage:
    with container.uow() as uow:
        row = uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.correlation_key == correlation_key)
        )
        assert row is not None
        uow.session.expunge(row)
        return row


def test_a_system_check_and_its_process_start_are_committed_together(container: Container) -> None:
    check = request_check(container.uow, requested_by="operatör")

    assert check.status == "pending" and check.requested_by == "operatör"
    row = _row(container, str(check.id))
    assert row.message_name == START_MESSAGE
    assert row.variables == {"systemCheckId": str(check.id)}  # ids only, no personal data
    assert row.dispatched_at is None and row.attempts == 0


def test_nothing_is_enqueued_when_the_transaction_is_not_committed(container: Container) -> None:
    check_id = uuid.uuid4()
    with container.uow() as uow:
        uow.session.add(SystemCheck(id=check_id, status="pending"))
        enqueue_message(uow.session, message_name=START_MESSAGE, correlation_key=str(check_id), variables={})
        # leaving without commit()
    with container.uow() as uow:
        assert uow.session.get(SystemCheck, check_id) is None
        assert (
            uow.session.scalar(select(OutboxMessage).where(OutboxMessage.correlation_key == str(check_id)))
            is None
        )


async def test_dispatch_publishes_each_row_once_with_its_id_as_message_id(quiet_outbox: Container) -> None:
    zeebe = FakeZeebe()
    check = request_check(quiet_outbox.uow, requested_by=None)

    assert await dispatch_pending(quiet_outbox.uow, zeebe) == 1
    assert await dispatch_pending(quiet_outbox.uow, zeebe) == 0

    row = _row(quiet_outbox, str(check.id))
    assert zeebe.published == [
        {
            "name": START_MESSAGE,
            "correlation_key": str(check.id),
            "variables": {"systemCheckId": str(check.id)},
            "ttl": MESSAGE_TTL_MS,
            "message_id": str(row.id),
        }
    ]
    assert row.dispatched_at is not None and row.attempts == 1 and row.last_error is None


async def test_a_crash_before_recording_the_dispatch_does_not_publish_twice(quiet_outbox: Container) -> None:
    zeebe = FakeZeebe()
    check = request_check(quiet_outbox.uow, requested_by=None)
    await dispatch_pending(quiet_outbox.uow, zeebe)
    # The dispatcher published, then died before its commit: the row looks undispatched again.
    with quiet_outbox.uow() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.correlation_key == str(check.id))
            .values(dispatched_at=None)
        )
        uow.commit()

    assert await dispatch_pending(quiet_outbox.uow, zeebe) == 1  # Zeebe refused the duplicate

    assert len(zeebe.published) == 1
    row = _row(quiet_outbox, str(check.id))
    assert row.dispatched_at is not None and row.attempts == 2


async def test_rows_wait_while_the_engine_is_down(quiet_outbox: Container) -> None:
    zeebe = FakeZeebe(down=True)
    first = request_check(quiet_outbox.uow, requested_by=None)
    second = request_check(quiet_outbox.uow, requested_by=None)

    assert await dispatch_pending(quiet_outbox.uow, zeebe) == 0

    rows = [_row(quiet_outbox, str(check.id)) for check in (first, second)]
    failed = [row for row in rows if row.attempts == 1]
    assert len(failed) == 1, "the round stops at the first failure"
    assert failed[0].dispatched_at is None
    assert failed[0].last_error is not None
    assert failed[0].last_error.startswith("ZeebeGatewayUnavailableError")

    zeebe.down = False
    assert await dispatch_pending(quiet_outbox.uow, zeebe) == 2
    assert {p["correlation_key"] for p in zeebe.published} == {str(first.id), str(second.id)}


def test_a_row_locked_by_another_dispatcher_is_skipped(database_url: str) -> None:
    """Needs two real transactions, so its two rows are committed and deleted afterwards."""
    engine = create_engine(database_url)
    ids = [uuid.uuid4(), uuid.uuid4()]
    try:
        with Session(engine) as session, session.begin():
            for row_id in ids:
                session.add(
                    OutboxMessage(
                        id=row_id, message_name="test", correlation_key=str(row_id), variables={}, attempts=0
                    )
                )
        with Session(engine) as other, other.begin():
            other.get(OutboxMessage, ids[0], with_for_update=True)  # another dispatcher holds it
            with Session(engine) as session, session.begin():
                claimed = {row.id for row in claim_pending(session, batch=10_000)}
        assert ids[1] in claimed
        assert ids[0] not in claimed
    finally:
        with Session(engine) as session, session.begin():
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        engine.dispose()
