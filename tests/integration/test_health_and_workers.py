"""/health names what is down; the worker process stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.bootstrap import bootstrap
from services.config import Settings


def test_health_is_ok_when_database_and_engine_answer(api: httpx.Client) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "engine": "ok"}}


def test_health_is_503_and_names_the_engine_when_it_is_unreachable(test_database: str) -> None:
    container = bootstrap(Settings(database_url=test_database, zeebe_gateway_address="127.0.0.1:1"))
    with TestClient(create_app(container)) as client:
        response = client.get("/health")
    container.close()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["engine"] != "ok"


def test_health_is_503_and_names_the_database_when_it_is_unreachable() -> None:
    container = bootstrap(Settings(database_url="postgresql+psycopg://kalite:kalite@127.0.0.1:1/none"))
    with TestClient(create_app(container)) as client:
        response = client.get("/health")
    container.close()
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"
    assert response.json()["checks"]["engine"] == "ok"


def test_workers_stop_cleanly_on_sigterm(test_database: str, tmp_path: Path) -> None:
    log = tmp_path / "workers.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("kalite-workers"))],
            # An unreachable gateway: this process must not take jobs from the running workers.
            env={**os.environ, "DATABASE_URL": test_database, "ZEEBE_GATEWAY_ADDRESS": "127.0.0.1:1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "workers started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "workers started" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert "workers stopped" in log.read_text()
