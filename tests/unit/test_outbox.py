"""The outbox in PostgreSQL: a process start is committed with its business row, and a row is
leased to one dispatcher at a time. (Sending to the engine is proven on the real engine in
tests/integration/test_outbox.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, delete, select, text, update
from sqlalchemy.orm import Session

from services.bootstrap import Container
from services.models import OutboxMessage, SystemCheck
from services.outbox import LEASE_SECONDS, Outcome, enqueue_message, lease_pending, record
from services.system_checks import START_MESSAGE, request_check


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
    assert row.message_name == START_MESSAGE and row.starts_process
    assert row.variables == {"systemCheckId": str(check.id)}  # ids only, no personal data
    assert row.dispatched_at is None and row.attempts == 0 and row.attempted_at is None


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


def _committed_rows(database_url: str, count: int) -> tuple[list[uuid.UUID], Engine]:
    engine = create_engine(database_url)
    ids = [uuid.uuid4() for _ in range(count)]
    with Session(engine) as session, session.begin():
        for row_id in ids:
            session.add(
                OutboxMessage(
                    id=row_id, message_name="test", correlation_key=str(row_id), variables={}, attempts=0
                )
            )
    return ids, engine


def _cleanup(engine: Engine, ids: list[uuid.UUID]) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    engine.dispose()


def test_a_row_locked_or_leased_by_another_dispatcher_is_skipped(database_url: str) -> None:
    """Needs real concurrent transactions, so its rows are committed and deleted afterwards."""
    ids, engine = _committed_rows(database_url, 3)
    try:
        with Session(engine) as session, session.begin():
            # The second row was attempted a moment ago by another dispatcher: its lease holds.
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == ids[1]).values(attempted_at=text("now()"))
            )
        with Session(engine) as other, other.begin():
            other.get(OutboxMessage, ids[0], with_for_update=True)  # another dispatcher holds it
            with Session(engine) as session, session.begin():
                leased = {row.id: row for row in lease_pending(session, batch=10_000)}
                assert ids[2] in leased and ids[0] not in leased and ids[1] not in leased
                assert leased[ids[2]].attempts == 1 and leased[ids[2]].attempted_at is not None
        with Session(engine) as session, session.begin():
            # The lease is committed: a second dispatcher now skips the third row too.
            assert ids[2] not in {row.id for row in lease_pending(session, batch=10_000)}
            # ... until the lease has run out.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == ids[2])
                .values(attempted_at=datetime.now(UTC) - timedelta(seconds=LEASE_SECONDS + 1))
            )
        with Session(engine) as session, session.begin():
            again = {row.id: row for row in lease_pending(session, batch=10_000)}
            assert ids[2] in again and again[ids[2]].attempts == 2
    finally:
        _cleanup(engine, ids)


def test_a_failed_send_gives_its_lease_back_unless_the_engine_may_have_acted(container: Container) -> None:
    refused, in_doubt, sent = (request_check(container.uow, requested_by=None) for _ in range(3))
    with container.uow() as uow:
        leased = lease_pending(uow.session, batch=10_000)
        uow.commit()
    assert {str(c.id) for c in (refused, in_doubt, sent)} <= {r.correlation_key for r in leased}
    by_key = {r.correlation_key: r.id for r in leased}

    record(
        container.uow,
        [
            Outcome(by_key[str(refused.id)], "EngineUnavailable: ConnectError"),
            Outcome(by_key[str(in_doubt.id)], "EngineUnavailable: ReadTimeout", keep_lease=True),
            Outcome(by_key[str(sent.id)]),
        ],
    )

    refused_row, doubt_row, sent_row = (_row(container, str(c.id)) for c in (refused, in_doubt, sent))
    assert refused_row.attempted_at is None and refused_row.last_error == "EngineUnavailable: ConnectError"
    assert doubt_row.attempted_at is not None and doubt_row.dispatched_at is None
    assert sent_row.dispatched_at is not None and sent_row.last_error is None
