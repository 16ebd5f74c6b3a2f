"""Integration tests run against the real stack: reuse one that is up, else start it once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.bootstrap import Container, bootstrap
from services.config import Settings
from tests.conftest import API_URL, REPO
from tests.integration.camunda_web import CamundaWeb


@pytest.fixture(scope="session")
def api(stack: None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=API_URL, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def camunda(stack: None) -> Iterator[CamundaWeb]:
    with CamundaWeb.login() as web:
        yield web


@pytest.fixture(scope="session")
def mailbox_dir(stack: None) -> Path:
    return Path(os.environ.get("DATA_DIR", REPO / ".data")) / "mailbox"


TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://kalite:kalite@127.0.0.1:5432/kalite_test"
)


@pytest.fixture(scope="session")
def test_database(stack: None) -> str:
    """A migrated database of its own, so service-level tests never touch the running app's data."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO / "alembic.ini"))
    config.attributes["database_url"] = TEST_DATABASE_URL
    command.upgrade(config, "head")
    return TEST_DATABASE_URL


@pytest.fixture()
def smtp_mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real SMTP server of our mailbox on a free port, storing into a fresh folder."""
    import socket

    from services.mailbox import start_mailbox

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = start_mailbox(tmp_path / "mailbox", "127.0.0.1", port)
    try:
        yield port, tmp_path / "mailbox"
    finally:
        controller.stop()


@pytest.fixture()
def container(test_database: str, smtp_mailbox: tuple[int, Path]) -> Iterator[Container]:
    settings = Settings(database_url=test_database, smtp_port=smtp_mailbox[0])
    built = bootstrap(settings)
    try:
        yield built
    finally:
        built.close()
