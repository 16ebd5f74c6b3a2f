"""The app factory (`create_app`): clients are built here, at start-up, never at import."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from services import catalogue, charts, staff_sessions, wording
from services.access import Forbidden
from services.api import catalogue as catalogue_routes
from services.api import difs, health, metrics, nonconformities, open311, requests, system_checks, templates
from services.api.protection import MULTIPART_ENVELOPE, BodySizeLimit, CleanUrl, SecurityHeaders
from services.api.rate_limit import TokenBuckets
from services.api.security import ChannelKeys, TokenValidator, forbidden_response
from services.bootstrap import Container, bootstrap
from services.config import get_settings
from services.web import monitoring as monitoring_pages
from services.web import pages as web_pages
from services.web import routes as web
from services.web import staff as staff_pages

log = logging.getLogger("api")


async def _forget_idle_buckets(buckets: TokenBuckets, container: Container) -> None:
    """Every minute, the rate-limit buckets nobody used for two minutes (full again anyway), and
    the staff page sessions that ran out."""
    while True:
        await asyncio.sleep(60)
        try:
            await asyncio.to_thread(buckets.forget_idle)
            await asyncio.to_thread(
                staff_sessions.forget_expired, container.uow, staff_pages.limits(container.settings)
            )
        except SQLAlchemyError as error:
            log.warning("idle rate-limit buckets or staff sessions not removed: %s", type(error).__name__)


def create_app(container: Container | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.container = container or bootstrap()
        # The sample catalogue on first start and the shipped texts a release adds; later changes
        # come through the API.
        try:
            catalogue.load_seed_if_empty(app.state.container.uow)
            wording.load_defaults(app.state.container.uow)
        except SQLAlchemyError as error:
            # Start anyway: /health reports the database, and the next start loads them.
            log.warning("catalogue and texts not checked, database unavailable: %s", type(error).__name__)
        forgetting = asyncio.create_task(
            _forget_idle_buckets(TokenBuckets(app.state.container.uow), app.state.container)
        )
        # matplotlib reads its fonts on the first drawing (seconds): done now, not by the first
        # visitor of the monitoring page.
        warming = asyncio.create_task(asyncio.to_thread(charts.warm))
        try:
            yield
        finally:
            forgetting.cancel()
            warming.cancel()
            if container is None:
                app.state.container.close()

    app = FastAPI(
        title="Belediye Hizmet Takip API",
        description="Citizen requests, nonconforming services and DİF on the Operaton process engine.",
        version="0.1.0",
        lifespan=lifespan,
    )
    settings = container.settings if container else get_settings()
    app.state.token_validator = TokenValidator(settings)
    app.state.channel_keys = ChannelKeys(settings)
    # Starlette wraps the app in the reverse order of these calls: metrics, then security headers
    # (on every answer, refusals included), then body size limits before anything reads a body, then CORS.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Content-Type", "Authorization"],
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.evidence_max_bytes + MULTIPART_ENVELOPE,
        max_photo_bytes=settings.photo_max_bytes + MULTIPART_ENVELOPE,
    )
    app.add_middleware(CleanUrl)
    app.add_middleware(SecurityHeaders, https=settings.environment == "production")
    # Outermost: every answer is counted, the refusals of the middleware above included.
    app.add_middleware(metrics.HttpMetrics)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(system_checks.router)
    app.include_router(requests.router)
    app.include_router(catalogue_routes.router)
    app.include_router(nonconformities.router)
    app.include_router(difs.router)
    app.include_router(templates.router)
    app.include_router(open311.router)
    app.include_router(staff_pages.router)
    app.include_router(monitoring_pages.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web_pages.STATIC), name="static")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> JSONResponse:
        return forbidden_response(error)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, error: DBAPIError) -> JSONResponse:
        # The database down, restarting or a transaction to retry (deadlock, serialisation): nothing
        # was stored, and the caller should send the same request again (intake is idempotent).
        if isinstance(error, OperationalError) or error.connection_invalidated:
            log.warning(
                "database unavailable on %s %s: %s",
                request.method,
                request.url.path,
                type(error.orig).__name__,
            )
            return JSONResponse(
                {"detail": "Veritabanına şu anda ulaşılamıyor; kayıt yapılmadı, sonra yeniden deneyin."},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return await unexpected(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Logged with its traceback for operators; the caller gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "Beklenmeyen bir hata oluştu / An unexpected error occurred."}, status_code=500
        )

    return app
