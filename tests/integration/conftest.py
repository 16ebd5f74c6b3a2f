"""Integration tests run against the real stack: reuse one that is up, else start it once."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from services.bootstrap import Container, bootstrap
from services.config import LOCAL_OIDC_ISSUER, Settings, get_settings
from services.operaton import Operaton
from tests.conftest import API_URL, REPO
from tests.credentials import AsCaller, create_channel_keys, revoke_channel_keys


def sign_in(username: str, password: str = "demo", *, issuer: str = LOCAL_OIDC_ISSUER) -> httpx.Response:
    """The local realm's direct-grant client (tests and scripts only; people sign in in a browser)."""
    return httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "belediye-cli",
            "username": username,
            "password": password,
        },
        timeout=10,
    )


def master_realm_token() -> str:
    """A real Keycloak token, but of its master realm (its administrator's): not ours to accept."""
    from deploy.local import keycloak

    response = httpx.post(
        f"{keycloak.Instance.from_env().url}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": keycloak.ADMIN[0],
            "password": keycloak.ADMIN[1],
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def staff_token(username: str, password: str = "demo") -> str:
    """A staff member's access token from the local Keycloak, which the API validates by its keys."""
    response = sign_in(username, password)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


class FreshToken:
    """A staff member's token for a whole test session: Keycloak's access tokens live five
    minutes, so it signs in again shortly before the one it has expires."""

    def __init__(self, username: str) -> None:
        self.username = username
        self._token = ""
        self._expires_at = 0.0

    def __call__(self) -> str:
        if time.time() > self._expires_at - 60:
            self._token = staff_token(self.username)
            claims = jwt.decode(self._token, options={"verify_signature": False})
            self._expires_at = float(claims["exp"])
        return self._token


@pytest.fixture(scope="session")
def app_container(stack: None) -> Iterator[Container]:
    """The running app's own database (keys for the channels are made here, like `kalite-keys`)."""
    built = bootstrap()
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="session")
def channel_keys(app_container: Container) -> Iterator[dict[str, str]]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    keys = create_channel_keys(app_container.uow, prefix)
    try:
        yield keys
    finally:
        revoke_channel_keys(app_container.uow, prefix)


@pytest.fixture(scope="session")
def api(channel_keys: dict[str, str]) -> Iterator[httpx.Client]:
    """The API as its callers see it: channel keys for intake, the administrator elsewhere."""
    auth = AsCaller(channel_keys, FreshToken("yonetici"))
    with httpx.Client(base_url=API_URL, timeout=10, auth=auth) as client:
        yield client


@pytest.fixture(scope="session")
def engine(stack: None) -> Iterator[Operaton]:
    """The engine's REST API as its administrator (demo) sees it: Cockpit and Tasklist."""
    settings = get_settings()
    with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as client:
        yield client


@pytest.fixture(scope="session")
def mailbox_dir(stack: None) -> Path:
    return Path(os.environ.get("DATA_DIR", REPO / ".data")) / "mailbox"


@pytest.fixture(scope="session")
def smsc_dir(stack: None) -> Path:
    """Where the stack's SMS centre (deploy/local/smsc.py) stores every SMS it receives."""
    return Path(os.environ.get("DATA_DIR", REPO / ".data")) / "smsc"


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

    from deploy.local.mailbox import start_mailbox

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
