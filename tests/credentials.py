"""Calling the API as its real callers do: a channel's X-API-Key for intake, a staff member's
bearer token (from a real issuer, validated against its JWKS) for everything else."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from services import api_keys
from services.db import UnitOfWorkFactory
from tests.issuer import SampleIssuer


class AsCaller(httpx.Auth):
    """Adds credentials unless the test set its own: the key of the body's channel on
    `POST /requests` (web's when the body names none), else the staff token."""

    requires_request_body = True

    def __init__(self, keys: dict[str, str], token: str | Callable[[], str]) -> None:
        self.keys = keys
        self.token = token  # or what gives a fresh one (tokens of a real provider live minutes)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "X-API-Key" not in request.headers and "Authorization" not in request.headers:
            if request.method == "POST" and request.url.path.rstrip("/") == "/requests":
                try:
                    channel = json.loads(request.content).get("channel")
                except (ValueError, AttributeError):
                    channel = None
                request.headers["X-API-Key"] = self.keys.get(str(channel), self.keys["web"])
            else:
                token = self.token() if callable(self.token) else self.token
                request.headers["Authorization"] = f"Bearer {token}"
        yield request


class Bearer(httpx.Auth):
    """A bearer token on every request, from what gives a fresh one."""

    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_channel_keys(uow: UnitOfWorkFactory, prefix: str) -> dict[str, str]:
    """One key per channel, generous limits (rate limiting has its own test)."""
    return {
        channel: api_keys.create(
            uow, name=f"{prefix}-{channel}", channel=channel, requests_per_minute=100_000
        )
        for channel in api_keys.CHANNELS
    }


def revoke_channel_keys(uow: UnitOfWorkFactory, prefix: str) -> None:
    for channel in api_keys.CHANNELS:
        api_keys.revoke(uow, name=f"{prefix}-{channel}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_issuer(key_path: Path, audience: str) -> Iterator[SampleIssuer]:
    """A real OpenID issuer (discovery, JWKS, /token) over HTTP on a free port, in a thread."""
    port = _free_port()
    issuer = SampleIssuer(f"http://127.0.0.1:{port}", audience, key_path)
    server = uvicorn.Server(uvicorn.Config(issuer.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("local issuer did not start")
        time.sleep(0.05)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
