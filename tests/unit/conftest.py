"""Unit tests need no engine. Those that touch the database use a real PostgreSQL: the one in
TEST_DATABASE_URL, else the local stack's `kalite_test` (its PostgreSQL alone is started if
needed). The database is created when missing and migrated once per run; every test runs in a
transaction that is rolled back.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from starlette.types import ASGIApp

from deploy.local.mailbox import start_mailbox
from deploy.local.smsc import SmscController, start_smsc
from services.api.app import create_app
from services.bootstrap import Container, bootstrap
from services.config import Settings
from tests.credentials import AsCaller, create_channel_keys, serve_issuer
from tests.issuer import SampleIssuer

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://kalite:kalite@127.0.0.1:5432/kalite_test"


def free_port() -> int:
    """A port nothing listens on (right after this call)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """An ASGI app under uvicorn on `port` (a free one if None), in a thread: its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_app(settings: Settings) -> Iterator[tuple[str, Container]]:
    """Our app, with a container of its own for `settings`, under uvicorn: (base URL, container)."""
    container = bootstrap(settings)
    try:
        with serve(create_app(container)) as base:
            yield base, container
    finally:
        container.close()


def _create_database_if_missing(url: str) -> None:
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(str(target.database))
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        server.dispose()


@pytest.fixture(scope="session")
def database_url() -> str:
    """The migrated test database: TEST_DATABASE_URL, else the local stack's `kalite_test`
    (the stack's PostgreSQL is started for it, nothing else). Unreachable is a failure, never a skip."""
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL
    try:
        _create_database_if_missing(url)
    except OperationalError:
        if os.environ.get("TEST_DATABASE_URL"):
            raise
        subprocess.run([sys.executable, "-m", "deploy.local.stack", "postgres"], cwd=REPO, check=True)
        _create_database_if_missing(url)
    config = Config(str(REPO / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")
    return url


def own_database(database_url: str, suffix: str) -> str:
    """A migrated database beside the test database, for servers and processes a test starts:
    they commit, and what they store must not reach the tests that roll back (e.g. the shipped
    texts a worker process loads at start)."""
    target = make_url(database_url)
    url = target.set(database=f"{target.database}_{suffix}").render_as_string(hide_password=False)
    _create_database_if_missing(url)
    config = Config(str(REPO / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")
    return url


@pytest.fixture(scope="session")
def process_database_url(database_url: str) -> str:
    """The database of the real worker processes unit tests start (see own_database)."""
    return own_database(database_url, "surec")


@pytest.fixture()
def mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Our real SMTP mailbox on a free port, storing into a fresh folder: (port, folder)."""
    port = free_port()
    folder = tmp_path / "mailbox"
    controller = start_mailbox(folder, "127.0.0.1", port)
    try:
        yield port, folder
    finally:
        controller.stop()


@pytest.fixture()
def smsc(tmp_path: Path) -> Iterator[SmscController]:
    """Our real SMPP SMS centre on a free port, storing into a fresh folder (`.centre.directory`),
    accepting the default SMPP_SYSTEM_ID / SMPP_PASSWORD."""
    defaults = Settings()
    controller = start_smsc(
        tmp_path / "smsc",
        "127.0.0.1",
        free_port(),
        system_id=defaults.smpp_system_id,
        password=defaults.smpp_password.get_secret_value(),
    )
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleIssuer]:
    """A real OpenID issuer on a free port: the API validates staff tokens against its JWKS."""
    key_path = tmp_path_factory.mktemp("identity") / "signing-key.pem"
    with serve_issuer(key_path, Settings().oidc_audience) as served:
        yield served


@pytest.fixture()
def settings(
    database_url: str, mailbox: tuple[int, Path], smsc: SmscController, tmp_path: Path, issuer: SampleIssuer
) -> Settings:
    return Settings(
        database_url=database_url,
        oidc_issuer=issuer.issuer,
        smtp_port=mailbox[0],
        smpp_port=smsc.port,
        data_dir=tmp_path,
        # No engine in unit tests: a port nothing listens on.
        engine_rest_url=f"http://127.0.0.1:{free_port()}/engine-rest",
    )


@pytest.fixture()
def container(settings: Settings) -> Iterator[Container]:
    """The real composition root, its sessions joined to one transaction rolled back at the end
    (a unit of work's commit releases a savepoint instead)."""
    built = bootstrap(settings)
    connection = built.engine.connect()
    transaction = connection.begin()
    try:
        yield dataclasses.replace(
            built,
            session_factory=sessionmaker(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            ),
        )
    finally:
        transaction.rollback()
        connection.close()
        built.close()


@pytest.fixture()
def as_admin(container: Container, issuer: SampleIssuer) -> AsCaller:
    """Credentials for a TestClient: channel keys (in the rolled-back transaction) and an
    administrator's token."""
    return AsCaller(create_channel_keys(container.uow, "birim-testi"), issuer.issue("yonetici"))
