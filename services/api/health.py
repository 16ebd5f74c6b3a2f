"""GET /health (readiness): 200 only when PostgreSQL and the engine both answer; 503 says which
does not. GET /health/live (liveness): 200 while the process serves, whatever is down behind it."""

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from services.api.deps import ContainerDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


def _database_ok(container: ContainerDep) -> tuple[bool, str]:
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return False, type(error).__name__
    return True, "ok"


@router.get("/health/live")
async def live() -> dict[str, str]:
    # No dependency checked: restarting the API cannot bring the database or the engine back.
    return {"status": "ok"}


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(container: ContainerDep) -> JSONResponse:
    db_ok, db_detail = await asyncio.to_thread(_database_ok, container)
    try:
        engine_ok, engine_detail = await asyncio.wait_for(
            asyncio.to_thread(container.process_engine.reachable), timeout=3
        )
    except TimeoutError:
        engine_ok, engine_detail = False, "timeout"
    body = Health(
        status="ok" if db_ok and engine_ok else "degraded",
        checks={"database": db_detail, "engine": engine_detail},
    )
    return JSONResponse(body.model_dump(), status_code=200 if db_ok and engine_ok else 503)
