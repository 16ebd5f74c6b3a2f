"""The API without an engine: /health names what is down, system checks are created and read.
(/health with everything up is tested on the real stack, tests/integration/test_health_and_workers.py.)"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.app import create_app
from services.bootstrap import Container, bootstrap
from services.config import Settings
from services.models import OutboxMessage
from services.system_checks import START_MESSAGE
from tests.credentials import AsCaller
from tests.issuer import SampleIssuer


@pytest.fixture()
def client(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:
        test_client.auth = as_admin
        yield test_client


def test_health_is_503_and_names_the_engine_when_its_port_is_closed(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["engine"] != "ok"
    assert "Traceback" not in response.text


def test_a_database_outage_is_a_503_to_retry_never_a_500(issuer: SampleIssuer) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://kalite:kalite@127.0.0.1:1/none", oidc_issuer=issuer.issuer
    )
    broken = bootstrap(settings)
    try:
        with TestClient(create_app(broken), raise_server_exceptions=False) as test_client:
            intake = test_client.post("/requests", json={"channel": "web"}, headers={"X-API-Key": "bht_x_y"})
            search = test_client.get("/difs", headers={"Authorization": f"Bearer {issuer.issue('yonetici')}"})
    finally:
        broken.close()
    for response in (intake, search):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert "yeniden deneyin" in response.json()["detail"]


def test_health_names_the_database_when_it_is_unreachable() -> None:
    broken = bootstrap(Settings(database_url="postgresql+psycopg://kalite:kalite@127.0.0.1:1/none"))
    try:
        with TestClient(create_app(broken)) as test_client:
            response = test_client.get("/health")
    finally:
        broken.close()
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"


def test_a_system_check_is_created_with_its_process_start_and_can_be_read(
    client: TestClient, container: Container
) -> None:
    created = client.post("/system-checks", json={"requestedBy": "operatör"})

    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "pending"
    assert body["requestedBy"] == "operatör"
    assert body["statusUrl"].endswith(f"/system-checks/{body['id']}")
    with container.uow() as uow:
        row = uow.session.scalar(select(OutboxMessage).where(OutboxMessage.correlation_key == body["id"]))
        assert row is not None and row.message_name == START_MESSAGE

    read = client.get(f"/system-checks/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


def test_the_body_of_a_system_check_is_optional(client: TestClient) -> None:
    response = client.post("/system-checks")
    assert response.status_code == 201
    assert response.json()["requestedBy"] is None


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", f"/system-checks/{uuid.uuid4()}", None, 404),
        ("GET", "/system-checks/not-a-uuid", None, 422),
        ("POST", "/system-checks", {"requestedBy": "x", "unexpected": 1}, 422),
        ("POST", "/system-checks", {"requestedBy": ""}, 422),
    ],
)
def test_bad_requests_get_clear_statuses(
    client: TestClient, method: str, path: str, payload: object, status: int
) -> None:
    response = client.request(method, path, json=payload)
    assert response.status_code == status
    assert "detail" in response.json()


def test_an_unexpected_error_is_a_generic_500_and_is_logged(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(container)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: postgresql://kalite:kalite@db")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {"detail": "Beklenmeyen bir hata oluştu / An unexpected error occurred."}
    assert "secret" not in response.text
    assert any(record.exc_info and "secret internals" in str(record.exc_info[1]) for record in caplog.records)


def test_every_answer_carries_security_headers_and_no_cors_for_unknown_origins(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://kotu-niyetli.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "access-control-allow-origin" not in response.headers


def test_cors_answers_only_the_configured_origins(container: Container) -> None:
    settings = container.settings.model_copy(
        update={"cors_allowed_origins": ["https://hizmet.belediye.local"]}
    )
    app = create_app(dataclasses.replace(container, settings=settings))
    with TestClient(app) as client:
        allowed = client.options(
            "/requests",
            headers={"Origin": "https://hizmet.belediye.local", "Access-Control-Request-Method": "POST"},
        )
        refused = client.options(
            "/requests",
            headers={"Origin": "https://kotu-niyetli.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.headers["access-control-allow-origin"] == "https://hizmet.belediye.local"
    assert "access-control-allow-origin" not in refused.headers


def test_an_oversized_body_is_refused_with_413_before_it_is_read(client: TestClient) -> None:
    huge = {"description": "ş" * 300_000}
    response = client.post("/requests", json=huge)
    assert response.status_code == 413
    assert "at most 262144 bytes" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"
    chunked = client.post("/requests", content=iter([b"{}"]), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 411
