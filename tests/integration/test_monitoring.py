"""Monitoring on the running stack: the API counts an intake by channel, the workers count the
routing task they completed, and the engine's actuator answers with JVM metrics and readiness UP.
(The endpoints' details, the address restriction and the probes' failures are unit tests:
tests/unit/test_monitoring.py.)"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.config import get_settings
from tests.conftest import API_URL
from tests.integration.citizen import submit, wait_status
from tests.integration.tasklist import poll
from workers import task_types

ENGINE_MANAGEMENT = "http://127.0.0.1:8081"


def _counter(url: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus endpoint (0 before the series exists), read with the client
    library's parser: the exposition must be valid."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_the_api_workers_and_engine_report_an_intake_and_its_routing(api: httpx.Client) -> None:
    settings = get_settings()
    workers_metrics = f"http://{settings.worker_http_host}:{settings.worker_http_port}/metrics"
    intake = ("kalite_intake_requests_total", {"channel": "web", "outcome": "created"})
    routed = ("kalite_external_tasks_completed_total", {"topic": task_types.ROUTE_REQUEST})
    intake_before = _counter(f"{API_URL}/metrics", intake[0], **intake[1])
    routed_before = _counter(workers_metrics, routed[0], **routed[1])

    tracking, _ = submit(api)
    assert _counter(f"{API_URL}/metrics", intake[0], **intake[1]) == intake_before + 1
    wait_status(tracking, "mudurlukte")  # routed by the workers' birim-istek.yonlendir
    # Counted when the engine has accepted the completion, a moment after the status changed.
    poll(
        lambda: True if _counter(workers_metrics, routed[0], **routed[1]) > routed_before else None,
        what=f"a completed {task_types.ROUTE_REQUEST} in the workers' metrics",
        timeout=30,
    )

    workers = f"http://{settings.worker_http_host}:{settings.worker_http_port}"
    assert httpx.get(f"{workers}/health/live", timeout=5).status_code == 200
    ready = httpx.get(f"{workers}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "engine": "ok"}}

    prometheus = httpx.get(f"{ENGINE_MANAGEMENT}/actuator/prometheus", timeout=10)
    assert prometheus.status_code == 200
    names = {family.name for family in text_string_to_metric_families(prometheus.text)}
    assert any(name.startswith("jvm_") for name in names), sorted(names)[:20]
    assert any(name.startswith("hikaricp_") for name in names), sorted(names)[:20]
    for probe in ("liveness", "readiness"):
        answer = httpx.get(f"{ENGINE_MANAGEMENT}/actuator/health/{probe}", timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "UP"
