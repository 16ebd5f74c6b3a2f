"""/health names what is down; the worker process stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.bootstrap import bootstrap
from services.config import Settings
from tests.integration.tasklist import poll


def test_health_is_ok_when_database_and_engine_answer(api: httpx.Client) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "engine": "ok"}}


def test_health_is_503_and_names_the_engine_when_it_is_unreachable(test_database: str) -> None:
    container = bootstrap(
        Settings(database_url=test_database, engine_rest_url="http://127.0.0.1:1/engine-rest")
    )
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
            # An unreachable engine: this process must not take tasks from the running workers.
            env={
                **os.environ,
                "DATABASE_URL": test_database,
                "ENGINE_REST_URL": "http://127.0.0.1:1/engine-rest",
                # The stack's workers hold 9100: any free port for this one's health listener.
                "WORKER_HTTP_PORT": "0",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        poll(lambda: True if "workers started" in log.read_text() else None, what="the workers to start")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert "workers stopped" in log.read_text()
