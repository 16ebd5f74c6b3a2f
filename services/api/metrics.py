"""GET /metrics (Prometheus text format) for addresses in METRICS_ALLOWED_NETWORKS only — a 404 for
everyone else, as if it did not exist — and the middleware that counts every answer by method,
route template and status (the template, never the raw path: no tracking numbers or ids)."""

from __future__ import annotations

import asyncio
import ipaddress
import time

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services import metrics
from services.api.deps import ContainerDep
from services.api.rate_limit import caller_address

router = APIRouter(tags=["health"])


def _allowed(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown", a test client's name
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in networks)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, container: ContainerDep) -> Response:
    settings = container.settings
    if not _allowed(caller_address(request, settings.trusted_proxies), settings.metrics_allowed_networks):
        raise HTTPException(404)  # the app's own "Not Found", nothing that tells it exists
    body = await asyncio.to_thread(metrics.exposition, container.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _route(scope: Scope, status: int) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template or "/"
    # Refused before routing (413, 411, 422 of the URL checks) or matching no route (404).
    return "unmatched" if status == 404 else "unrouted"


class HttpMetrics:
    """Counts and times every HTTP answer, refusals of the outer middleware included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes becomes Starlette's 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            method = scope["method"] if scope["method"] in metrics.METHODS else "other"
            route = _route(scope, status)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)
