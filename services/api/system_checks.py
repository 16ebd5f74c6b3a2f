"""System checks: prove the installation end to end (see services.system_checks)."""

import asyncio
import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.access import Permission
from services.api.deps import ContainerDep
from services.api.security import Allowed
from services.models import SystemCheck
from services.system_checks import SystemCheckNotFound, get_check, request_check

router = APIRouter(
    prefix="/system-checks",
    tags=["system checks"],
    dependencies=[Depends(Allowed(Permission.SYSTEM_CHECKS_RUN))],
)


class SystemCheckRequest(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    requested_by: str | None = Field(None, min_length=1, max_length=100, description="who asked")


class SystemCheckOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)
    id: uuid.UUID
    status: Literal["pending", "notified", "completed"]
    status_url: str
    requested_at: datetime
    requested_by: str | None
    process_instance_id: str | None = Field(description="the engine's id of the process instance")
    notified_at: datetime | None
    completed_at: datetime | None
    confirmed_by: str | None


def _out(check: SystemCheck, request: Request) -> SystemCheckOut:
    return SystemCheckOut(
        id=check.id,
        status=check.status,
        status_url=str(request.url_for("get_system_check", check_id=check.id)),
        requested_at=check.requested_at,
        requested_by=check.requested_by,
        process_instance_id=check.process_instance_id,
        notified_at=check.notified_at,
        completed_at=check.completed_at,
        confirmed_by=check.confirmed_by,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SystemCheckOut, response_model_by_alias=True
)
async def create_system_check(
    request: Request, container: ContainerDep, body: SystemCheckRequest | None = None
) -> SystemCheckOut:
    requested_by = body.requested_by if body else None
    check = await asyncio.to_thread(request_check, container.uow, requested_by=requested_by)
    return _out(check, request)


@router.get(
    "/{check_id}", response_model=SystemCheckOut, response_model_by_alias=True, name="get_system_check"
)
async def get_system_check(check_id: uuid.UUID, request: Request, container: ContainerDep) -> SystemCheckOut:
    try:
        check = await asyncio.to_thread(get_check, container.uow, check_id)
    except SystemCheckNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No system check {check_id}") from None
    return _out(check, request)
