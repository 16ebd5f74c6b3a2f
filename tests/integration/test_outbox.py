"""Exactly one process instance per outbox row, on the real engine, although the engine does not
deduplicate starts: when the engine started an instance but its answer was lost, when the engine
is killed while a batch is being sent, and when two dispatchers run at once.

The rows live in a database of their own (so the dispatcher sees no other test's rows) and start
`outbox-kaniti` (tests/integration/fixtures), a diagram that only waits, so nothing else runs on
them.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, select, text, update

from deploy.local import processes, stack
from services.bootstrap import Container, bootstrap
from services.config import Settings, get_settings
from services.models import OutboxMessage
from services.operaton import STARTED_BY, Operaton
from services.outbox import LEASE_SECONDS, dispatch_pending, enqueue_message
from tests.integration.tasklist import poll

FIXTURES = Path(__file__).with_name("fixtures")
REPO = Path(__file__).resolve().parents[2]
MESSAGE = "outbox-kaniti-baslat"


OUTBOX_DATABASE = "kalite_test_outbox"


@pytest.fixture(scope="module")
def outbox_database(stack: None) -> str:
    """A fresh, migrated database with no outbox rows but the ones these tests write."""
    url = make_url(get_settings().database_url).set(database=OUTBOX_DATABASE)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {OUTBOX_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {OUTBOX_DATABASE}"))
    finally:
        server.dispose()
    config = Config(str(REPO / "alembic.ini"))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    command.upgrade(config, "head")
    return url.render_as_string(hide_password=False)


@pytest.fixture()
def container(outbox_database: str) -> Iterator[Container]:
    built = bootstrap(Settings(database_url=outbox_database))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def proof_diagram(engine: Operaton) -> str:
    engine.deploy(
        "outbox-kaniti",
        [FIXTURES / "outbox-proof.bpmn", REPO / "bpmn" / "forms" / "sistem-kontrol-dogrula.form"],
        source="tests",
    )
    return "outbox-kaniti"


def _enqueue(container: Container, count: int) -> list[uuid.UUID]:
    with container.uow() as uow:
        rows = [
            enqueue_message(
                uow.session, message_name=MESSAGE, correlation_key=f"kanit-{uuid.uuid4()}", variables={"n": i}
            )
            for i in range(count)
        ]
        uow.commit()
        return [row.id for row in rows]


def _rows(container: Container, ids: list[uuid.UUID]) -> dict[uuid.UUID, OutboxMessage]:
    with container.uow() as uow:
        found = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))))
        for row in found:
            uow.session.expunge(row)
        return {row.id: row for row in found}


def _instances_started_by(engine: Operaton, row_id: uuid.UUID) -> int:
    found = engine.json(
        "POST",
        "/history/process-instance/count",
        json={"variables": [{"name": STARTED_BY, "operator": "eq", "value": str(row_id)}]},
    )
    return int(found["count"])


def _expire_leases(container: Container, ids: list[uuid.UUID]) -> None:
    """As if LEASE_SECONDS had passed since the last attempt."""
    with container.uow() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.attempted_at.is_not(None))
            .values(attempted_at=datetime.now(UTC) - timedelta(seconds=LEASE_SECONDS + 1))
        )
        uow.commit()


def _dispatch_until_done(container: Container, ids: list[uuid.UUID], timeout: float = 60) -> None:
    def done() -> bool | None:
        _expire_leases(container, ids)
        asyncio.run(dispatch_pending(container.uow, container.process_engine))
        rows = _rows(container, ids)
        return True if all(r.dispatched_at for r in rows.values()) else None

    poll(done, what="every row dispatched", timeout=timeout, every=0.5)


class AnswerDroppingProxy:
    """A TCP proxy in front of the engine that forwards every request and, once the engine has
    begun to answer (it answers after its commit), closes the caller's connection without
    passing the answer on: a start the engine made whose answer was lost."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        client.settimeout(2)
        try:
            while True:
                try:
                    chunk = client.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                upstream.sendall(chunk)
                upstream.settimeout(0.2)
                try:
                    if upstream.recv(1):  # the engine answers: the start is committed
                        break
                except TimeoutError:
                    continue
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture()
def dropping_proxy() -> Iterator[AnswerDroppingProxy]:
    proxy = AnswerDroppingProxy(8080)
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_start_whose_answer_was_lost_is_not_made_again(
    container: Container, engine: Operaton, proof_diagram: str, dropping_proxy: AnswerDroppingProxy
) -> None:
    (row_id,) = _enqueue(container, 1)
    behind_proxy = Operaton(f"http://127.0.0.1:{dropping_proxy.port}/engine-rest", "demo", "demo")
    try:
        assert asyncio.run(dispatch_pending(container.uow, behind_proxy)) == 0
    finally:
        behind_proxy.close()

    row = _rows(container, [row_id])[row_id]
    assert row.dispatched_at is None and row.attempts == 1
    assert row.attempted_at is not None, "an answer lost keeps the lease: the engine may have acted"
    assert row.last_error and "EngineUnavailable" in row.last_error
    assert poll(lambda: _instances_started_by(engine, row_id) or None, what="the started instance") == 1

    _dispatch_until_done(container, [row_id])

    row = _rows(container, [row_id])[row_id]
    assert row.attempts == 2 and row.dispatched_at is not None
    assert _instances_started_by(engine, row_id) == 1


def test_two_dispatchers_at_once_start_each_row_once(
    container: Container, engine: Operaton, proof_diagram: str
) -> None:
    ids = _enqueue(container, 40)

    async def both() -> tuple[int, int]:
        first, second = await asyncio.gather(
            dispatch_pending(container.uow, container.process_engine, batch=40),
            dispatch_pending(container.uow, container.process_engine, batch=40),
        )
        return first, second

    first, second = asyncio.run(both())
    _dispatch_until_done(container, ids)

    assert first + second <= 40
    assert [_instances_started_by(engine, row_id) for row_id in ids] == [1] * 40


def test_killing_the_engine_while_a_batch_is_sent_starts_each_row_once(
    container: Container, engine: Operaton, proof_diagram: str
) -> None:
    ids = _enqueue(container, 60)
    layout = stack.Layout.from_env()
    assert processes.read_pid(layout.dirs, "engine"), "the test needs the local engine"

    sending = threading.Thread(
        target=lambda: asyncio.run(
            dispatch_pending(container.uow, container.process_engine, batch=60, parallel=4)
        )
    )
    sending.start()
    try:
        poll(
            lambda: True if any(_instances_started_by(engine, row_id) for row_id in ids[:8]) else None,
            what="the first starts of the batch",
            every=0.05,
        )
        processes.stop(layout.dirs, "engine", sig=signal.SIGKILL)
        sending.join(timeout=60)
        assert not sending.is_alive()
    finally:
        stack.start_engine(layout)

    rows = _rows(container, ids)
    assert any(r.dispatched_at is None for r in rows.values()), "the kill came after the batch"
    _dispatch_until_done(container, ids, timeout=120)

    assert [_instances_started_by(engine, row_id) for row_id in ids] == [1] * 60
