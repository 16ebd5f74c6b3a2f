"""The app factory (`create_app`): clients are built here, at start-up, never at import."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from services import catalogue
from services.api import catalogue as catalogue_routes
from services.api import difs, health, nonconformities, requests, system_checks
from services.bootstrap import Container, bootstrap
from services.engine import long_lived_client, open_channel

log = logging.getLogger("api")


def create_app(container: Container | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.container = container or bootstrap()
        # The sample catalogue on first start; later changes come through the API.
        try:
            catalogue.load_seed_if_empty(app.state.container.uow)
        except SQLAlchemyError as error:
            # Start anyway: /health reports the database, and the next start loads the catalogue.
            log.warning("catalogue not checked, database unavailable: %s", type(error).__name__)
        channel = open_channel(app.state.container.settings.zeebe_gateway_address)
        app.state.zeebe_channel = channel
        app.state.zeebe_client = long_lived_client(channel)
        try:
            yield
        finally:
            await channel.close()
            if container is None:
                app.state.container.close()

    app = FastAPI(
        title="Belediye Hizmet Takip API",
        description="Citizen requests, nonconforming services and DİF on Camunda 8.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(system_checks.router)
    app.include_router(requests.router)
    app.include_router(catalogue_routes.router)
    app.include_router(nonconformities.router)
    app.include_router(difs.router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Logged with its traceback for operators; the caller gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "Beklenmeyen bir hata oluştu / An unexpected error occurred."}, status_code=500
        )

    return app
