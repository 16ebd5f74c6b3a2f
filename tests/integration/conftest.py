"""Integration tests run against the real stack: reuse one that is up, else start it once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.camunda_web import CamundaWeb

REPO = Path(__file__).resolve().parents[2]
API_URL = os.environ.get("KALITE_API_URL", "http://127.0.0.1:8000")


def _stack(command: str) -> None:
    subprocess.run([sys.executable, "-m", "deploy.local.stack", command], cwd=REPO, check=True)


def _api_healthy() -> bool:
    try:
        return httpx.get(f"{API_URL}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def stack() -> Iterator[None]:
    started_here = not _api_healthy()
    if started_here:
        _stack("up")
    else:
        # Reusing a running stack: make sure it runs the diagrams of this checkout.
        subprocess.run([str(Path(sys.executable).with_name("kalite-deploy"))], cwd=REPO, check=True)
    try:
        yield
    finally:
        if started_here:
            _stack("down")


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
