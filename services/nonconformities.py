"""Nonconforming services (clauses 5.3, 5.4): the form, the decision (reopen or redirect) and the finding.

A nonconformity comes from a request's closure check (the `uygun-olmayan-hizmet` process called by
`birim-istek`) or is reported on its own through the API (employees, inspections, audits). Every
worker-facing function is idempotent, keyed by the process or element instance it runs for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import citizen_requests as requests
from services import difs, wording
from services.db import UnitOfWorkFactory, fetch_page
from services.models import (
    CitizenContact,
    CitizenRequest,
    Dif,
    Directorate,
    Finding,
    Institution,
    Nonconformity,
    QualityEvent,
    RequestEvent,
)
from services.notifications import Mail, Mailer, send_once
from services.outbox import enqueue_message
from services.quality_records import (
    InvalidInput,
    RecordNotFound,
    add_event,
    ensure_deletable,
    history,
    next_number,
)
from services.sms import SmsSender

START_MESSAGE = "uygunsuzluk-bildirildi"
DIF_START_MESSAGE = "dif-acildi"
# How a nonconformity was found (clause 5.3: requests; employees, inspections and audits otherwise).
SOURCES = {
    "kapatma-kontrolu": "Talep kapatma kontrolü",
    "calisan": "Çalışan bildirimi",
    "denetim": "Denetim / saha kontrolü",
    "ic-tetkik": "İç tetkik",
    "dis-tetkik": "Dış tetkik",
    "vatandas": "Vatandaş şikâyeti",
}
DECISIONS = {"yeniden-ac": "Talep yeniden açılsın", "yonlendir": "Başka kuruma yönlendirilsin"}


class RequestStillOpen(ValueError):
    pass


@dataclass(frozen=True)
class NewNonconformity:
    directorate_code: str
    description: str
    source: str
    found_by: str
    reference: str | None = None
    request_tracking_code: str | None = None


@dataclass(frozen=True)
class Recorded:
    nonconformity_id: uuid.UUID
    number: str
    directorate_code: str
    request_id: uuid.UUID | None
    description: str


# ---------------------------------------------------------------- standalone intake (API)


def report(uow_factory: UnitOfWorkFactory, new: NewNonconformity) -> tuple[Nonconformity, bool]:
    """Record a nonconformity found outside a closure check and start its process (one transaction).

    The same source + reference returns the existing record (created=False)."""
    if new.source not in SOURCES or new.source == "kapatma-kontrolu":
        raise InvalidInput(f"source: one of {sorted(set(SOURCES) - {'kapatma-kontrolu'})}")
    if new.reference is not None and (found := _by_reference(uow_factory, new.source, new.reference)):
        return found, False
    try:
        with uow_factory() as uow:
            if uow.session.get(Directorate, new.directorate_code) is None:
                raise InvalidInput(f"directorateCode: unknown directorate {new.directorate_code}")
            request_id = None
            if new.request_tracking_code:
                request = uow.session.scalar(
                    select(CitizenRequest).where(
                        CitizenRequest.tracking_code == new.request_tracking_code.strip().upper()
                    )
                )
                if request is None:
                    raise InvalidInput(f"requestTrackingCode: no request {new.request_tracking_code}")
                if request.closed_at is None:
                    raise RequestStillOpen(
                        "the request is still open: report it at its closure check instead"
                    )
                request_id = request.id
            row = Nonconformity(
                id=uuid.uuid4(),
                number=next_number(uow.session, "UOH"),
                request_id=request_id,
                directorate_code=new.directorate_code,
                description=new.description,
                source=new.source,
                reference=new.reference,
                found_by=new.found_by,
                status="bildirildi",
            )
            uow.session.add(row)
            uow.session.flush()
            add_event(uow.session, "bildirildi", nonconformity_id=row.id, actor=new.found_by)
            enqueue_message(
                uow.session,
                message_name=START_MESSAGE,
                correlation_key=str(row.id),
                variables={"nonconformityId": str(row.id)},
            )
            uow.commit()
            uow.session.refresh(row)
            uow.session.expunge(row)
            return row, True
    except IntegrityError:
        if new.reference is None or not (found := _by_reference(uow_factory, new.source, new.reference)):
            raise
        return found, False


def _by_reference(uow_factory: UnitOfWorkFactory, source: str, reference: str) -> Nonconformity | None:
    with uow_factory() as uow:
        found = uow.session.scalar(
            select(Nonconformity).where(Nonconformity.source == source, Nonconformity.reference == reference)
        )
        if found is not None:
            uow.session.expunge(found)
        return found


# ---------------------------------------------------------------- worker steps


def record(
    uow_factory: UnitOfWorkFactory,
    *,
    nonconformity_id: uuid.UUID | None,
    request_id: uuid.UUID | None,
    process_instance_id: str,
) -> Recorded:
    """The form's first half: what was wrong, where, which request, who found it and how.

    From a closure check the text and the finder come from the request's closure decision."""
    with uow_factory() as uow:
        row = None
        if nonconformity_id is not None:
            row = uow.session.get(Nonconformity, nonconformity_id, with_for_update=True)
            if row is None:
                raise RecordNotFound(f"nonconformity {nonconformity_id}")
        else:
            row = uow.session.scalar(
                select(Nonconformity).where(Nonconformity.process_instance_id == process_instance_id)
            )
        if row is None:
            if request_id is None:
                raise InvalidInput("requestId or nonconformityId is required")
            row = _from_closure_check(uow.session, request_id)
        if row.process_instance_id is None:
            row.process_instance_id = process_instance_id
            row.status = "karar-bekliyor" if row.request_id else "bulgu-acilacak"
            add_event(
                uow.session,
                "kaydedildi",
                nonconformity_id=row.id,
                details={"source": row.source, "requestId": str(row.request_id) if row.request_id else None},
            )
        uow.commit()
        return Recorded(row.id, row.number, row.directorate_code, row.request_id, row.description)


def _from_closure_check(session: Session, request_id: uuid.UUID) -> Nonconformity:
    request = session.get(CitizenRequest, request_id, with_for_update=True)
    if request is None or request.directorate_code is None:
        raise RecordNotFound(f"routed request {request_id}")
    closure = session.scalar(
        select(RequestEvent)
        .where(RequestEvent.request_id == request_id, RequestEvent.event == "kapatma-karari")
        .order_by(RequestEvent.at.desc())
        .limit(1)
    )
    note = (closure.details.get("closureNote") if closure else None) or "Kapatma kontrolünde uygun bulunmadı."
    row = Nonconformity(
        id=uuid.uuid4(),
        number=next_number(session, "UOH"),
        request_id=request_id,
        directorate_code=request.directorate_code,
        description=str(note),
        source="kapatma-kontrolu",
        found_by=closure.actor if closure else "sistem",
        status="bildirildi",
    )
    session.add(row)
    session.flush()
    request.status = "uygunsuzluk"
    requests.add_event(session, request_id, "uygunsuzluk-kaydedildi", details={"nonconformity": row.number})
    return row


def institution_options(uow_factory: UnitOfWorkFactory) -> list[dict[str, str]]:
    """The decision form's list of institutions, straight from the catalogue."""
    with uow_factory() as uow:
        return [
            {"label": i.name, "value": i.code}
            for i in uow.session.scalars(select(Institution).order_by(Institution.name))
        ]


def record_decision(
    uow_factory: UnitOfWorkFactory,
    *,
    nonconformity_id: uuid.UUID,
    decision: str | None,
    institution_code: str | None,
    justification: str | None,
    actor: str,
    activity_instance_id: str,
) -> str:
    """The form's second half (clause 5.4): reopen, or redirect to an institution, with a justification."""
    if decision not in DECISIONS:
        raise InvalidInput("Karar seçilmeli: yeniden açma ya da başka kuruma yönlendirme.")
    if not (justification or "").strip():
        raise InvalidInput("Kararın gerekçesi yazılmalı.")
    with uow_factory() as uow:
        row = _lock(uow.session, nonconformity_id)
        if decision == "yonlendir" and (
            not institution_code or uow.session.get(Institution, institution_code) is None
        ):
            raise InvalidInput("Yönlendirme için katalogdaki bir kurum seçilmeli.")
        if add_event(
            uow.session,
            "karar-verildi",
            nonconformity_id=row.id,
            actor=actor,
            details={
                "decision": decision,
                "institutionCode": institution_code,
                "justification": justification,
            },
            idempotency_key=f"decision:{row.id}:{activity_instance_id}",
        ):
            row.decision = decision
            row.institution_code = institution_code if decision == "yonlendir" else None
            row.justification = (justification or "").strip()
            row.decided_by = actor
            row.decided_at = datetime.now(UTC)
            row.status = "yeniden-acildi" if decision == "yeniden-ac" else "yonlendirildi"
        uow.commit()
        return decision


def _lock(session: Session, nonconformity_id: uuid.UUID) -> Nonconformity:
    row = session.get(Nonconformity, nonconformity_id, with_for_update=True)
    if row is None:
        raise RecordNotFound(f"nonconformity {nonconformity_id}")
    return row


async def reopen_request(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    nonconformity_id: uuid.UUID,
    resumes_in_place: bool,
    activity_instance_id: str,
    tasklist_url: str,
) -> datetime:
    """The request goes back to its directorate with its history and the reason; returns its new due date.

    `resumes_in_place`: the request's own process waits for this decision and returns to the staff
    task; otherwise (its process has ended) a new `birim-istek` instance is started for it."""
    key = f"reopen:{nonconformity_id}:{activity_instance_id}"
    with uow_factory() as uow:
        nc = _lock(uow.session, nonconformity_id)
        assert nc.request_id is not None
        request = uow.session.get(CitizenRequest, nc.request_id, with_for_update=True)
        assert request is not None
        directorate = uow.session.get(Directorate, request.directorate_code or nc.directorate_code)
        assert directorate is not None
        if requests.add_event(
            uow.session,
            request.id,
            "yeniden-acildi",
            details={"nonconformity": nc.number, "reason": nc.justification},
            idempotency_key=key,
        ):
            request.status = "yeniden-acildi"
            request.closed_at = None
            request.answer = None
            request.due_at = requests.new_deadline(uow.session, request, datetime.now(UTC))
            if not resumes_in_place:
                requests.enqueue_start(uow.session, request)
        due_at = request.due_at
        assert due_at is not None
        text = wording.render(
            uow.session,
            "personel.talep-yeniden-acildi",
            "eposta",
            {
                "mudurluk": directorate.name,
                "talep_kimligi": str(request.id),
                "uygunsuzluk_no": nc.number,
                "tespit": nc.description,
                "gerekce": nc.justification or "-",
                "son_tarih": requests.local_time(due_at),
                "tasklist_adresi": tasklist_url,
            },
            category_code=request.category_code,
        )
        mail = Mail(recipient=directorate.email, subject=text.subject, body=text.body)
        uow.commit()
    await send_once(uow_factory, mailer, idempotency_key=key, mail=mail)
    return due_at


async def redirect_request(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    nonconformity_id: uuid.UUID,
    activity_instance_id: str,
) -> None:
    """Send the request to the institution that owns it, tell the citizen, close it as redirected."""
    key = f"redirect:{nonconformity_id}:{activity_instance_id}"
    with uow_factory() as uow:
        nc = _lock(uow.session, nonconformity_id)
        assert nc.request_id is not None and nc.institution_code is not None
        institution = uow.session.get(Institution, nc.institution_code)
        request = uow.session.get(CitizenRequest, nc.request_id)
        contact = uow.session.get(CitizenContact, nc.request_id)
        assert institution is not None and request is not None and contact is not None
        values = {
            "kurum": institution.name,
            "takip_no": request.tracking_code,
            "talep_turu": request.request_type,
            "konum": requests.location_text(request, contact),
            "aciklama": request.description,
            "ad_soyad": contact.full_name,
            "telefon": contact.phone or "-",
            "eposta": contact.email or "-",
            "gerekce": nc.justification or "-",
        }
        petition = wording.render(
            uow.session, "kurum.yonlendirilen-basvuru", "eposta", values, category_code=request.category_code
        )
        uow.session.expunge_all()
    # The petition goes to the competent body with its petitioner (Law 3071, art. 7), nothing more.
    await send_once(
        uow_factory,
        mailer,
        idempotency_key=f"{key}:kurum",
        mail=Mail(recipient=institution.email, subject=petition.subject, body=petition.body),
    )
    await requests.tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=f"{key}:vatandas",
        contact=contact,
        template="vatandas.kuruma-yonlendirildi",
        values=values,
        category_code=request.category_code,
    )
    with uow_factory() as uow:
        req = uow.session.get(CitizenRequest, request.id, with_for_update=True)
        assert req is not None
        if requests.add_event(
            uow.session,
            req.id,
            "kuruma-yonlendirildi",
            details={"institutionCode": institution.code, "nonconformity": nc.number},
            idempotency_key=key,
            kurum=institution.name,
        ):
            req.status = "kuruma-yonlendirildi"
            req.answer = "yonlendirildi"
            req.closed_at = datetime.now(UTC)
        uow.commit()


def open_finding(uow_factory: UnitOfWorkFactory, *, nonconformity_id: uuid.UUID) -> Dif:
    """Clause 5.2: a finding to the directorate concerned and, on it, a DİF whose process starts now."""
    with uow_factory() as uow:
        nc = _lock(uow.session, nonconformity_id)
        finding = uow.session.scalar(select(Finding).where(Finding.nonconformity_id == nc.id))
        if finding is not None:
            dif = uow.session.scalar(select(Dif).where(Dif.finding_id == finding.id))
            assert dif is not None
            uow.session.expunge(dif)
            return dif
        finding = Finding(
            id=uuid.uuid4(),
            number=next_number(uow.session, "BLG"),
            nonconformity_id=nc.id,
            directorate_code=nc.directorate_code,
            description=nc.description,
        )
        uow.session.add(finding)
        uow.session.flush()
        dif = Dif(
            id=uuid.uuid4(),
            number=next_number(uow.session, "DIF"),
            finding_id=finding.id,
            directorate_code=nc.directorate_code,
            status="planlanacak",
        )
        uow.session.add(dif)
        uow.session.flush()
        nc.status = "dif-acik"
        add_event(
            uow.session,
            "bulgu-acildi",
            nonconformity_id=nc.id,
            details={"finding": finding.number, "dif": dif.number},
        )
        add_event(uow.session, "acildi", dif_id=dif.id, details={"finding": finding.number})
        enqueue_message(
            uow.session,
            message_name=DIF_START_MESSAGE,
            correlation_key=str(dif.id),
            variables={"difId": str(dif.id), "directorateCode": nc.directorate_code},
        )
        uow.commit()
        uow.session.refresh(dif)
        uow.session.expunge(dif)
        return dif


# ---------------------------------------------------------------- reading and deleting


@dataclass(frozen=True)
class NonconformityFilter:
    directorate: str | None = None
    status: str | None = None
    source: str | None = None
    found_from: datetime | None = None
    found_to: datetime | None = None


def _filtered(query: Select[Any], f: NonconformityFilter) -> Select[Any]:
    for column, value in {
        Nonconformity.directorate_code: f.directorate,
        Nonconformity.status: f.status,
        Nonconformity.source: f.source,
    }.items():
        if value is not None:
            query = query.where(column == value)
    if f.found_from is not None:
        query = query.where(Nonconformity.found_at >= f.found_from)
    if f.found_to is not None:
        query = query.where(Nonconformity.found_at < f.found_to)
    return query


def search(
    uow_factory: UnitOfWorkFactory, f: NonconformityFilter, *, page: int, size: int
) -> tuple[list[Nonconformity], int]:
    return fetch_page(
        uow_factory,
        _filtered(select(Nonconformity), f),
        Nonconformity.found_at.desc(),
        Nonconformity.id,
        page=page,
        size=size,
    )


def get(
    uow_factory: UnitOfWorkFactory, nonconformity_id: uuid.UUID
) -> tuple[Nonconformity, Finding | None, Dif | None, list[QualityEvent]]:
    with uow_factory() as uow:
        row = uow.session.get(Nonconformity, nonconformity_id)
        if row is None:
            raise RecordNotFound(f"nonconformity {nonconformity_id}")
        finding = uow.session.scalar(select(Finding).where(Finding.nonconformity_id == row.id))
        dif = uow.session.scalar(select(Dif).where(Dif.finding_id == finding.id)) if finding else None
        events = history(uow.session, nonconformity_id=row.id)
        uow.session.expunge_all()
        return row, finding, dif, events


def delete(uow_factory: UnitOfWorkFactory, nonconformity_id: uuid.UUID) -> None:
    """Only a record whose retention has ended may go, with its finding and DİF (the database
    refuses it too)."""
    with uow_factory() as uow:
        row = _lock(uow.session, nonconformity_id)
        ensure_deletable("Uygunsuzluk", row.retention_until)
        finding = uow.session.scalar(select(Finding).where(Finding.nonconformity_id == row.id))
        dif = uow.session.scalar(select(Dif).where(Dif.finding_id == finding.id)) if finding else None
        if dif is not None:
            difs.delete_chain(uow.session, dif)
        else:
            uow.session.execute(sql_delete(QualityEvent).where(QualityEvent.nonconformity_id == row.id))
            uow.session.execute(sql_delete(Nonconformity).where(Nonconformity.id == row.id))
        uow.commit()


def search_findings(
    uow_factory: UnitOfWorkFactory, *, directorate: str | None, open_only: bool | None, page: int, size: int
) -> tuple[list[tuple[Finding, str, str | None]], int]:
    """Findings with their nonconformity's number and their DİF's number."""
    query = (
        select(Finding, Nonconformity.number, Dif.number)
        .join(Nonconformity, Nonconformity.id == Finding.nonconformity_id)
        .outerjoin(Dif, Dif.finding_id == Finding.id)
    )
    if directorate is not None:
        query = query.where(Finding.directorate_code == directorate)
    if open_only is not None:
        query = query.where(Finding.closed_at.is_(None) if open_only else Finding.closed_at.is_not(None))
    with uow_factory() as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows: list[tuple[Finding, str, str | None]] = [
            (finding, nc_number, dif_number)
            for finding, nc_number, dif_number in uow.session.execute(
                query.order_by(Finding.opened_at.desc(), Finding.id).offset((page - 1) * size).limit(size)
            )
        ]
        uow.session.expunge_all()
        return rows, total
