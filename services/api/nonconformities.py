"""Nonconformities and findings: report one found outside a closure check, list, read, (not) delete."""

import asyncio
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import ConfigDict, Field

from services import nonconformities as service
from services.access import Permission, Principal
from services.api import schemas
from services.api.deps import ContainerDep
from services.api.security import Allowed
from services.models import Finding, Nonconformity, QualityEvent
from services.quality_records import InvalidInput, RecordNotFound, UnderRetention

router = APIRouter(tags=["nonconformities"])
Reader = Annotated[Principal, Depends(Allowed(Permission.NONCONFORMITIES_READ))]


class Source(StrEnum):
    EMPLOYEE = "calisan"
    INSPECTION = "denetim"
    INTERNAL_AUDIT = "ic-tetkik"
    EXTERNAL_AUDIT = "dis-tetkik"
    CITIZEN = "vatandas"


class Camel(schemas.Camel):
    model_config = ConfigDict(extra="forbid")


class NonconformityIn(Camel):
    directorate_code: str = Field(pattern=r"^[A-Z0-9-]{2,40}$")
    description: str = Field(min_length=10, max_length=4000, description="what was wrong")
    source: Source = Field(description="how it was found")
    found_by: str = Field(min_length=2, max_length=100, description="who found it (user name or unit)")
    reference: str | None = Field(
        None, min_length=1, max_length=100, description="your id for it: a retry returns the same record"
    )
    request_tracking_number: str | None = Field(
        None, max_length=40, description="the closed request it concerns, if any"
    )


class NonconformityOut(Camel):
    id: uuid.UUID
    number: str
    request_id: uuid.UUID | None
    directorate_code: str
    description: str
    source: str
    found_by: str
    found_at: datetime
    status: str
    decision: str | None
    institution_code: str | None
    justification: str | None
    decided_by: str | None
    decided_at: datetime | None
    closed_at: datetime | None
    retention_until: datetime | None


class HistoryOut(Camel):
    at: datetime
    event: str
    actor: str
    details: dict[str, object]


class NonconformityDetail(NonconformityOut):
    finding_id: uuid.UUID | None
    finding_number: str | None
    dif_id: uuid.UUID | None
    dif_number: str | None
    history: list[HistoryOut]


class NonconformityPage(Camel):
    items: list[NonconformityOut]
    total: int
    page: int
    size: int


class FindingOut(Camel):
    id: uuid.UUID
    number: str
    nonconformity_number: str
    dif_number: str | None
    directorate_code: str
    description: str
    opened_at: datetime
    closed_at: datetime | None


class FindingPage(Camel):
    items: list[FindingOut]
    total: int
    page: int
    size: int


def out(row: Nonconformity) -> NonconformityOut:
    return NonconformityOut.model_validate(row, from_attributes=True)


def history_out(events: list[QualityEvent]) -> list[HistoryOut]:
    return [HistoryOut(at=e.at, event=e.event, actor=e.actor, details=e.details) for e in events]


@router.post(
    "/nonconformities",
    status_code=status.HTTP_201_CREATED,
    response_model=NonconformityOut,
    response_model_by_alias=True,
    responses={200: {"description": "already reported with this source and reference"}},
)
async def report_nonconformity(
    body: NonconformityIn,
    response: Response,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.NONCONFORMITIES_REPORT))],
) -> NonconformityOut:
    """A nonconformity found by an employee, an inspection or an audit: recorded, then its process runs."""
    new = service.NewNonconformity(
        directorate_code=body.directorate_code,
        description=body.description,
        source=body.source.value,
        found_by=body.found_by,
        reference=body.reference,
        request_tracking_code=body.request_tracking_number,
    )
    try:
        row, created = await asyncio.to_thread(service.report, container.uow, new)
    except InvalidInput as error:
        raise schemas.unprocessable(str(error)) from None
    except service.RequestStillOpen as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    return out(row)


@router.get("/nonconformities", response_model=NonconformityPage, response_model_by_alias=True)
async def list_nonconformities(
    container: ContainerDep,
    caller: Reader,
    directorate: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=30)] = None,
    source: Source | None = None,
    found_from: Annotated[datetime | None, Query(alias="from")] = None,
    found_to: Annotated[datetime | None, Query(alias="to")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> NonconformityPage:
    criteria = service.NonconformityFilter(
        directorate=caller.filter_directorate(Permission.NONCONFORMITIES_READ, directorate),
        status=status_,
        source=source.value if source else None,
        found_from=found_from,
        found_to=found_to,
    )
    rows, total = await asyncio.to_thread(service.search, container.uow, criteria, page=page, size=size)
    return NonconformityPage(items=[out(r) for r in rows], total=total, page=page, size=size)


@router.get(
    "/nonconformities/{nonconformity_id}", response_model=NonconformityDetail, response_model_by_alias=True
)
async def get_nonconformity(
    nonconformity_id: uuid.UUID, container: ContainerDep, caller: Reader
) -> NonconformityDetail:
    try:
        row, finding, dif, events = await asyncio.to_thread(service.get, container.uow, nonconformity_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Uygunsuzluk kaydı bulunamadı.") from None
    caller.check_directorate(Permission.NONCONFORMITIES_READ, row.directorate_code)
    return NonconformityDetail(
        **out(row).model_dump(),
        finding_id=finding.id if finding else None,
        finding_number=finding.number if finding else None,
        dif_id=dif.id if dif else None,
        dif_number=dif.number if dif else None,
        history=history_out(events),
    )


@router.delete(
    "/nonconformities/{nonconformity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "under retention"}},
)
async def delete_nonconformity(
    nonconformity_id: uuid.UUID,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.RECORDS_DELETE))],
) -> None:
    """Allowed only after the retention period (closure + 20 years) has ended."""
    try:
        await asyncio.to_thread(service.delete, container.uow, nonconformity_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Uygunsuzluk kaydı bulunamadı.") from None
    except UnderRetention as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("/findings", response_model=FindingPage, response_model_by_alias=True, tags=["findings"])
async def list_findings(
    container: ContainerDep,
    caller: Reader,
    directorate: Annotated[str | None, Query(max_length=40)] = None,
    open_only: Annotated[bool | None, Query(alias="open")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> FindingPage:
    rows, total = await asyncio.to_thread(
        service.search_findings,
        container.uow,
        directorate=caller.filter_directorate(Permission.NONCONFORMITIES_READ, directorate),
        open_only=open_only,
        page=page,
        size=size,
    )
    return FindingPage(items=[_finding(f, nc, dif) for f, nc, dif in rows], total=total, page=page, size=size)


def _finding(f: Finding, nonconformity_number: str, dif_number: str | None) -> FindingOut:
    return FindingOut(
        id=f.id,
        number=f.number,
        nonconformity_number=nonconformity_number,
        dif_number=dif_number,
        directorate_code=f.directorate_code,
        description=f.description,
        opened_at=f.opened_at,
        closed_at=f.closed_at,
    )
