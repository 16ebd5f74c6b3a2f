"""Monitoring: the API's /health/live and /metrics (Prometheus text, route templates, intake by
channel, the outbox backlog, only for METRICS_ALLOWED_NETWORKS) and the worker process's
listener (/health/live, /health/ready, /metrics) — a real worker process, stopped by SIGTERM."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import create_engine, delete, insert

from deploy.local.smsc import SmscController
from services.api.app import create_app
from services.bootstrap import Container
from services.config import Settings
from services.models import OutboxMessage
from services.operaton import ExternalTasks
from tests.credentials import AsCaller
from tests.unit.conftest import free_port
from workers import monitoring
from workers.runtime import Worker

T = TypeVar("T")
LOOPBACK = ("127.0.0.1", 50000)
REPO = Path(__file__).resolve().parents[2]
# `kalite-workers` of this checkout (the installed script may import another one).
WORKERS = [sys.executable, "-m", "workers.main"]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels (parsed by the
    client library's own parser: the format must be valid)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _intake(reference: str) -> dict[str, Any]:
    return {
        "channel": "cimer",
        "channelReference": reference,
        "type": "istek",
        "categoryCode": "PARK-AGAC",
        "description": "Parktaki çınar ağacı devrilmek üzere, çocuklar altında oynuyor.",
        "location": {"address": "Çamlıbel Mah. Atatürk Parkı, Mersin"},
        "citizen": {"fullName": "Gülşen Çağlar", "email": "gulsen@ornek.local"},
        "preferredAnswerChannel": "eposta",
    }


@pytest.fixture()
def local(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    """The API as a caller on the same machine sees it (the default allowed networks)."""
    with TestClient(create_app(container), client=LOOPBACK) as test_client:
        test_client.auth = as_admin
        yield test_client


def _with(container: Container, **settings: Any) -> Container:
    return dataclasses.replace(container, settings=container.settings.model_copy(update=settings))


# ---------------------------------------------------------------- the API


def test_liveness_answers_while_the_engine_is_down(local: TestClient) -> None:
    assert local.get("/health").status_code == 503  # readiness: no engine in unit tests
    live = local.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}


def test_metrics_are_prometheus_text_with_route_templates_and_intake_by_channel(local: TestClient) -> None:
    before = _samples(local.get("/metrics").text)
    reference = f"CIMER-{uuid.uuid4()}"
    first = local.post("/requests", json=_intake(reference))
    again = local.post("/requests", json=_intake(reference))
    assert (first.status_code, again.status_code) == (201, 200), first.text
    tracking = first.json()["trackingNumber"]
    assert local.get(f"/requests/{tracking}").status_code == 200
    assert local.get("/no/such/page").status_code == 404

    response = local.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("kalite_intake_requests_total", channel="cimer", outcome="created") == 1
    assert grew("kalite_intake_requests_total", channel="cimer", outcome="repeated") == 1
    assert grew("kalite_http_requests_total", method="POST", route="/requests", status="201") == 1
    assert grew("kalite_http_requests_total", method="POST", route="/requests", status="200") == 1
    status_route = "/requests/{tracking_number}"
    assert grew("kalite_http_requests_total", method="GET", route=status_route, status="200") == 1
    assert grew("kalite_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("kalite_http_request_duration_seconds_count", route="/requests") == 2
    # No tracking number, raw path or personal data in any label.
    for forbidden in (tracking, reference, "/no/such/page", "Gülşen", "gulsen@ornek.local", "Çamlıbel"):
        assert forbidden not in response.text
    # The answer carries the headers every answer does.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_metrics_show_the_outbox_backlog_read_when_scraped(local: TestClient, database_url: str) -> None:
    # Committed (the scrape reads with a connection of its own, outside the test's transaction).
    engine = create_engine(database_url)
    row_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(OutboxMessage).values(
                id=row_id,
                message_name="IzlemeDenemesi",
                correlation_key=str(row_id),
                variables={},
                created_at=datetime.now(UTC) - timedelta(minutes=10),
                attempts=0,
                starts_process=True,
            )
        )
    try:
        samples = _samples(local.get("/metrics").text)
    finally:
        with engine.begin() as connection:
            connection.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))
        engine.dispose()
    assert _value(samples, "kalite_outbox_backlog_up") == 1
    assert _value(samples, "kalite_outbox_unsent_messages") >= 1
    assert _value(samples, "kalite_outbox_oldest_unsent_age_seconds") >= 600


def test_metrics_are_a_plain_404_outside_the_allowed_networks(container: Container) -> None:
    with TestClient(create_app(container), client=("203.0.113.7", 40000)) as outsider:
        refused = outsider.get("/metrics")
        unknown = outsider.get("/no-such-endpoint")
    assert refused.status_code == 404
    # Indistinguishable from a path that does not exist: JSON, the same body, no metric text.
    assert refused.json() == unknown.json() == {"detail": "Not Found"}
    assert "kalite_" not in refused.text


def test_a_load_balancer_does_not_make_a_public_caller_local(container: Container) -> None:
    # The balancer (a trusted proxy) is on loopback; the caller it names is not.
    behind_proxy = _with(container, trusted_proxies=["127.0.0.1"])
    with TestClient(create_app(behind_proxy), client=LOOPBACK) as client:
        public = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.20"})
        monitoring = client.get("/metrics", headers={"X-Forwarded-For": "10.0.0.5"})
    assert public.status_code == 404
    assert monitoring.status_code == 404  # 10.0.0.0/8 is not allowed by default
    allowed = _with(container, trusted_proxies=["127.0.0.1"], metrics_allowed_networks=["10.0.0.0/8"])
    with TestClient(create_app(allowed), client=LOOPBACK) as client:
        assert client.get("/metrics", headers={"X-Forwarded-For": "10.0.0.5"}).status_code == 200
        assert client.get("/metrics").status_code == 404  # the balancer itself, not in 10.0.0.0/8


def test_ipv6_loopback_is_allowed_by_default(container: Container) -> None:
    with TestClient(create_app(container), client=("::1", 40000)) as client:
        assert client.get("/metrics").status_code == 200


def test_a_malformed_network_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="metrics_allowed_networks"):
        Settings(metrics_allowed_networks=["10.0.0.0/33"])


# ---------------------------------------------------------------- the worker process


def _wait(fetch: Callable[[], T | None], *, what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = fetch()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


def test_the_worker_listener_probes_and_metrics_and_sigterm(
    process_database_url: str, mailbox: tuple[int, Path], smsc: SmscController, tmp_path: Path
) -> None:
    port, engine_port = free_port(), free_port()
    log = tmp_path / "workers.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            WORKERS,
            env={
                **os.environ,
                "DATABASE_URL": process_database_url,
                # No engine: a port nothing listens on.
                "ENGINE_REST_URL": f"http://127.0.0.1:{engine_port}/engine-rest",
                "SMTP_PORT": str(mailbox[0]),
                "SMPP_PORT": str(smsc.port),
                "DATA_DIR": str(tmp_path),
                "WORKER_HTTP_PORT": str(port),
                "WORKER_POLL_SECONDS": "1",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        live = _wait(lambda: _get(f"{base}/health/live"), what="the workers' listener")
        assert live.status_code == 200, live.text
        assert live.json() == {"status": "ok"}

        # Ready only when the last long poll reached the engine: here it never does.
        def polled() -> httpx.Response | None:
            answer = _get(f"{base}/health/ready")
            return answer if answer and answer.json()["checks"]["engine"] != "not polled yet" else None

        ready = _wait(polled, what="a first poll")
        assert ready.status_code == 503
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["engine"] == "EngineUnavailable"

        scraped = httpx.get(f"{base}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        samples = _samples(scraped.text)
        assert ("kalite_outbox_dispatched_total", ()) in samples
        assert ("kalite_outbox_failed_total", ()) in samples
        assert any(name.startswith("process_") for name, _ in samples)  # the process collector

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # the listener does not keep the process alive
    finally:
        process.kill()
    text = log.read_text()
    assert f"health and metrics on http://127.0.0.1:{port}" in text
    assert "workers stopped" in text
    assert _get(f"{base}/health/live") is None  # the port is closed


def test_the_worker_refuses_to_start_on_a_port_in_use(
    process_database_url: str, mailbox: tuple[int, Path], smsc: SmscController, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            WORKERS,
            env={
                **os.environ,
                "DATABASE_URL": process_database_url,
                "ENGINE_REST_URL": f"http://127.0.0.1:{free_port()}/engine-rest",
                "SMTP_PORT": str(mailbox[0]),
                "SMPP_PORT": str(smsc.port),
                "DATA_DIR": str(tmp_path),
                "WORKER_HTTP_PORT": str(port),
            },
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "Address already in use" in result.stdout + result.stderr


def _closed_engine() -> str:
    return f"http://127.0.0.1:{free_port()}/engine-rest"


def test_worker_liveness_fails_when_the_fetch_loop_is_stuck(database_url: str) -> None:
    client = ExternalTasks(_closed_engine(), "demo", "demo", worker_id="test", poll_timeout_ms=1000)
    worker = Worker(client, [])
    engine = create_engine(database_url)
    try:
        with TestClient(monitoring.app(worker, engine, poll_seconds=10)) as listener:
            assert listener.get("/health/live").status_code == 200
            worker.last_progress = time.monotonic() - monitoring.liveness_bound(10) - 1
            stuck = listener.get("/health/live")
            worker.engine_ok, worker.engine_detail = True, "ok"
            ready = listener.get("/health/ready")
    finally:
        engine.dispose()
    assert stuck.status_code == 503
    assert "no progress" in stuck.json()["detail"]
    assert ready.status_code == 200  # readiness is about the engine and the database, not the loop
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "engine": "ok"}}


def test_worker_readiness_names_the_database_when_it_is_unreachable() -> None:
    client = ExternalTasks(_closed_engine(), "demo", "demo", worker_id="test", poll_timeout_ms=1000)
    worker = Worker(client, [])
    worker.engine_ok, worker.engine_detail = True, "ok"
    engine = create_engine("postgresql+psycopg://kalite:kalite@127.0.0.1:1/none")
    try:
        with TestClient(monitoring.app(worker, engine, poll_seconds=10)) as listener:
            ready = listener.get("/health/ready")
    finally:
        engine.dispose()
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "OperationalError", "engine": "ok"}
