"""The worker process's HTTP listener on WORKER_HTTP_HOST:WORKER_HTTP_PORT: /health/live,
/health/ready and /metrics, for the orchestrator's probes and for Prometheus.

A small Starlette app served by uvicorn.Server on the workers' own asyncio loop, not
prometheus-client's threaded server: the probes must read the fetch loop's state, and that
server answers /metrics on every path with no room for health checks. uvicorn's signal capture
is turned off — SIGTERM belongs to workers.main, which stops this listener last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Generator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services import metrics
from workers.runtime import Worker

log = logging.getLogger(__name__)


def liveness_bound(poll_seconds: float) -> float:
    """How long the fetch loop may go without a round before the process counts as stuck: a long
    poll lasts poll_seconds, a back-off at most 10 s, so three polls and a margin."""
    return 3 * poll_seconds + 30


def _database_ok(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return False, type(error).__name__
    return True, "ok"


def app(worker: Worker, engine: Engine, *, poll_seconds: float) -> Starlette:
    bound = liveness_bound(poll_seconds)

    async def live(request: Request) -> JSONResponse:
        quiet = time.monotonic() - worker.last_progress
        if quiet > bound:
            return JSONResponse(
                {"status": "stuck", "detail": f"the fetch loop made no progress for {quiet:.0f} s"},
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> JSONResponse:
        db_ok, db_detail = await asyncio.to_thread(_database_ok, engine)
        engine_ok = worker.engine_ok is True
        body = {
            "status": "ok" if db_ok and engine_ok else "degraded",
            "checks": {"database": db_detail, "engine": worker.engine_detail},
        }
        return JSONResponse(body, status_code=200 if db_ok and engine_ok else 503)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/metrics", prometheus),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # workers.main handles SIGTERM/SIGINT and stops us


class Listener:
    """Bound at construction (a port in use fails the start, loudly); `serve()` answers until `stop()`."""

    def __init__(self, asgi: Starlette, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self._socket.set_inheritable(True)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(asgi, lifespan="off", log_config=None, access_log=False)
        self._server = _Server(config)

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        self._server.should_exit = True


def start(
    worker: Worker, engine: Engine, *, host: str, port: int, poll_seconds: float
) -> tuple[Listener, asyncio.Task[None]]:
    listener = Listener(app(worker, engine, poll_seconds=poll_seconds), host, port)
    log.info("health and metrics on http://%s:%d (/health/*, /metrics)", host, listener.port)
    return listener, asyncio.create_task(listener.serve())
