"""Fixtures shared by unit and integration tests: the real local stack, started once per run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
API_URL = os.environ.get("KALITE_API_URL", "http://127.0.0.1:8000")


def _stack(command: str) -> None:
    subprocess.run([sys.executable, "-m", "deploy.local.stack", command], cwd=REPO, check=True)


def _api_healthy() -> bool:
    try:
        # 503 is a running stack with a part down (the engine-restart test): not one to start or stop.
        return httpx.get(f"{API_URL}/health", timeout=3).status_code in (200, 503)
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
