"""DİFs: list, read with full history, evidence upload/download, the register (XLSX) and one DİF (PDF)."""

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Response, UploadFile, status
from pydantic import ConfigDict
from starlette.datastructures import UploadFile as StarletteUploadFile

from services import difs as service
from services import evidence
from services.access import Permission, Principal
from services.api import schemas
from services.api.deps import ContainerDep
from services.api.nonconformities import HistoryOut, history_out
from services.api.security import Allowed
from services.bootstrap import Container
from services.models import EvidenceFile
from services.quality_records import RecordNotFound, UnderRetention

router = APIRouter(prefix="/difs", tags=["DİF"])
log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = "DİF bulunamadı."


class Camel(schemas.Camel):
    model_config = ConfigDict(from_attributes=True)


class DifOut(Camel):
    id: uuid.UUID
    number: str
    directorate_code: str
    status: str
    root_cause: str | None
    planned_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    retention_until: datetime | None


class DifPage(Camel):
    items: list[DifOut]
    total: int
    page: int
    size: int


class EvidenceOut(Camel):
    id: uuid.UUID
    action_id: uuid.UUID
    file_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class ActionOut(Camel):
    id: uuid.UUID
    position: int
    description: str
    responsible: str
    due_at: datetime
    status: str
    completed_by: str | None
    completed_at: datetime | None
    completion_note: str | None
    evidence: list[EvidenceOut]


class ApprovalOut(Camel):
    at: datetime
    step: str
    decision: str
    comment: str
    actor: str


class EscalationOut(Camel):
    at: datetime
    kind: str
    level: str
    recipient: str


class DifDetailOut(DifOut):
    finding_number: str
    finding_description: str
    nonconformity_id: uuid.UUID
    nonconformity_number: str
    actions: list[ActionOut]
    approvals: list[ApprovalOut]
    escalations: list[EscalationOut]
    history: list[HistoryOut]


def _criteria(
    directorate: str | None,
    status_: str | None,
    opened_from: datetime | None,
    opened_to: datetime | None,
    overdue: bool | None,
) -> service.DifFilter:
    return service.DifFilter(
        directorate=directorate, status=status_, opened_from=opened_from, opened_to=opened_to, overdue=overdue
    )


Directorate = Annotated[str | None, Query(max_length=40)]
Reader = Annotated[Principal, Depends(Allowed(Permission.DIFS_READ))]
EvidenceWriter = Annotated[Principal, Depends(Allowed(Permission.EVIDENCE_WRITE))]
Deleter = Annotated[Principal, Depends(Allowed(Permission.RECORDS_DELETE))]


async def _check_dif(
    container: ContainerDep, caller: Principal, permission: Permission, dif_id: uuid.UUID
) -> None:
    """404 for a DİF that does not exist, 403 for one of another directorate (out of the caller's scope)."""
    try:
        directorate = await asyncio.to_thread(service.directorate_of, container.uow, dif_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    caller.check_directorate(permission, directorate)


Status = Annotated[str | None, Query(alias="status", max_length=30)]
From = Annotated[datetime | None, Query(alias="from")]
To = Annotated[datetime | None, Query(alias="to")]


@router.get("", response_model=DifPage, response_model_by_alias=True)
async def list_difs(
    container: ContainerDep,
    caller: Reader,
    directorate: Directorate = None,
    status_: Status = None,
    opened_from: From = None,
    opened_to: To = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> DifPage:
    """Directorate staff and directors see their own directorate's DİFs; the IMS office sees all."""
    scope = caller.filter_directorate(Permission.DIFS_READ, directorate)
    criteria = _criteria(scope, status_, opened_from, opened_to, overdue)
    rows, total = await asyncio.to_thread(service.search, container.uow, criteria, page=page, size=size)
    return DifPage(items=[DifOut.model_validate(r) for r in rows], total=total, page=page, size=size)


@router.get("/register.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def register_xlsx(
    container: ContainerDep,
    caller: Reader,
    directorate: Directorate = None,
    status_: Status = None,
    opened_from: From = None,
    opened_to: To = None,
    overdue: bool | None = None,
) -> Response:
    """The Corrective and Preventive Actions Report (clause 7): the DİF register, filtered, as XLSX."""
    directorate = caller.filter_directorate(Permission.DIFS_READ, directorate)
    criteria = _criteria(directorate, status_, opened_from, opened_to, overdue)
    from services import quality_reports  # fpdf and openpyxl cost ~60 MB: loaded when a report is asked

    details = await asyncio.to_thread(service.register, container.uow, criteria)
    filters = ", ".join(
        f"{name}={value}"
        for name, value in {
            "müdürlük": directorate,
            "durum": status_,
            "başlangıç": opened_from,
            "bitiş": opened_to,
            "geciken": overdue,
        }.items()
        if value is not None
    )
    data = await asyncio.to_thread(
        quality_reports.register_xlsx, details, now=datetime.now(UTC), filters=filters
    )
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="dif-kayitlari.xlsx"'}
    )


@router.get("/{dif_id}", response_model=DifDetailOut, response_model_by_alias=True)
async def get_dif(dif_id: uuid.UUID, container: ContainerDep, caller: Reader) -> DifDetailOut:
    await _check_dif(container, caller, Permission.DIFS_READ, dif_id)
    try:
        d = await asyncio.to_thread(service.get, container.uow, dif_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    by_action: dict[uuid.UUID, list[EvidenceOut]] = {}
    for e in d.evidence:
        by_action.setdefault(e.action_id, []).append(EvidenceOut.model_validate(e))
    return DifDetailOut(
        **DifOut.model_validate(d.dif).model_dump(),
        finding_number=d.finding.number,
        finding_description=d.finding.description,
        nonconformity_id=d.nonconformity.id,
        nonconformity_number=d.nonconformity.number,
        actions=[
            ActionOut(
                **{k: getattr(a, k) for k in ActionOut.model_fields if k != "evidence"},
                evidence=by_action.get(a.id, []),
            )
            for a in d.actions
        ],
        approvals=[ApprovalOut.model_validate(a) for a in d.approvals],
        escalations=[EscalationOut.model_validate(e) for e in d.escalations],
        history=history_out(d.events),
    )


@router.get(
    "/{dif_id}/report.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}}
)
async def dif_report(dif_id: uuid.UUID, container: ContainerDep, caller: Reader) -> Response:
    """One DİF with its whole history and evidence list, as PDF."""
    from services import quality_reports  # loaded when a report is asked (see register_xlsx)

    await _check_dif(container, caller, Permission.DIFS_READ, dif_id)
    try:
        d = await asyncio.to_thread(service.get, container.uow, dif_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    pdf = await asyncio.to_thread(
        quality_reports.dif_pdf, d, font_path=container.settings.report_font_path, now=datetime.now(UTC)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{d.dif.number}.pdf"'},
    )


@router.delete(
    "/{dif_id}", status_code=status.HTTP_204_NO_CONTENT, responses={409: {"description": "under retention"}}
)
async def delete_dif(dif_id: uuid.UUID, container: ContainerDep, caller: Deleter) -> None:
    """Allowed only after the retention period (closure + 20 years) has ended."""
    try:
        await asyncio.to_thread(service.delete_records, container.uow, dif_id=dif_id)
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    except UnderRetention as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


async def store_evidence(
    container: Container,
    caller: Principal,
    dif_id: uuid.UUID,
    action_id: uuid.UUID,
    file: StarletteUploadFile,
) -> EvidenceFile:
    """One uploaded file as the action's evidence, checked by evidence.add (raises its refusals);
    the uploader is the signed-in user. The API and the staff pages both store through this."""
    settings = container.settings
    # Read one byte past the limit: enough to refuse, never the whole of an oversized upload.
    data = await file.read(settings.evidence_max_bytes + 1)
    upload = evidence.Upload(
        file_name=file.filename or "",
        content_type=file.content_type or "application/octet-stream",
        data=data,
        uploaded_by=caller.username,
    )
    return await asyncio.to_thread(
        evidence.add,
        container.uow,
        dif_id=dif_id,
        action_id=action_id,
        upload=upload,
        max_bytes=settings.evidence_max_bytes,
        allowed_types=settings.evidence_allowed_types,
    )


@router.post(
    "/{dif_id}/actions/{action_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceOut,
    response_model_by_alias=True,
    responses={409: {"description": "action finished"}, 413: {"description": "too large"}, 415: {}},
)
async def upload_evidence(
    dif_id: uuid.UUID,
    action_id: uuid.UUID,
    container: ContainerDep,
    caller: EvidenceWriter,
    file: Annotated[UploadFile, File(description="the evidence file")],
) -> EvidenceOut:
    """The action's owner (or anyone of the DİF's directorate) adds evidence; the uploader is the
    signed-in user."""
    await _check_dif(container, caller, Permission.EVIDENCE_WRITE, dif_id)
    try:
        row = await store_evidence(container, caller, dif_id, action_id, file)
    except evidence.EvidenceRejected as error:
        if error.too_large:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from None
        if error.unsupported:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(error)) from None
        raise schemas.unprocessable(str(error), "body", "file") from None
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bu DİF'te böyle bir eylem yok.") from None
    except evidence.ActionClosed as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    await _show_in_tasklist(container, dif_id)
    return EvidenceOut.model_validate(row)


async def _show_in_tasklist(container: ContainerDep, dif_id: uuid.UUID) -> None:
    """Put the evidence list where the action's Tasklist form reads it. Best effort: the evidence
    is stored either way, and closing the action checks the database, not this list."""
    try:
        process_instance_id, summary = await asyncio.to_thread(evidence.summary, container.uow, dif_id)
        if process_instance_id is not None:
            await asyncio.to_thread(
                container.process_engine.set_variables, process_instance_id, {"evidenceByAction": summary}
            )
    except Exception as error:
        log.warning("evidence list not shown in Tasklist for DİF %s: %s", dif_id, type(error).__name__)


@router.get("/{dif_id}/evidence/{evidence_id}", response_class=Response)
async def download_evidence(
    dif_id: uuid.UUID, evidence_id: uuid.UUID, container: ContainerDep, caller: Reader
) -> Response:
    await _check_dif(container, caller, Permission.DIFS_READ, dif_id)
    try:
        row: EvidenceFile = await asyncio.to_thread(
            evidence.read, container.uow, dif_id=dif_id, evidence_id=evidence_id
        )
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Kanıt dosyası bulunamadı.") from None
    return schemas.file_response(row.content, row.content_type, row.file_name, row.sha256)


@router.delete("/{dif_id}/evidence/{evidence_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_evidence(
    dif_id: uuid.UUID,
    evidence_id: uuid.UUID,
    container: ContainerDep,
    caller: EvidenceWriter,
) -> None:
    """A wrong upload may be taken back while its action is open; never once it is part of the record."""
    await _check_dif(container, caller, Permission.EVIDENCE_WRITE, dif_id)
    try:
        await asyncio.to_thread(
            evidence.remove, container.uow, dif_id=dif_id, evidence_id=evidence_id, actor=caller.username
        )
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Kanıt dosyası bulunamadı.") from None
    except evidence.ActionClosed as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    await _show_in_tasklist(container, dif_id)
