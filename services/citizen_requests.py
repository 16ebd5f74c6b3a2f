"""Citizen requests (birim istek): intake, routing, notifications, history and answers.

Every function that a worker calls is idempotent: it is keyed by the request and the external
task's activity instance id (unique per step execution; a timer firing again is a new one), so a
task delivered twice leaves one history entry and sends one message.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import catalogue
from services.db import UnitOfWorkFactory, fetch_page
from services.models import (
    Category,
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Directorate,
    RequestEvent,
)
from services.notifications import Mail, Mailer, send_once, send_sms_once
from services.outbox import enqueue_message
from services.sms import SmsSender
from services.working_days import add_working_days

START_MESSAGE = "birim-istek-alindi"
REPLY_MESSAGE = "vatandas-yaniti"
SYSTEM = "sistem"

# Status after each recorded staff outcome (the gateway in the diagram decides the path).
STATUS_AFTER_OUTCOME = {
    "yapildi": "kapatma-kontrolunde",
    "yapilmayacak": "kapatma-kontrolunde",
    "yanlis-mudurluk": "yeniden-yonlendirilecek",
    "bilgi-gerekli": "bilgi-bekleniyor",
}
PUBLIC_TEXT = {
    "alindi": "Talebiniz alındı.",
    "yonlendirildi": "Talebiniz ilgili müdürlüğe yönlendirildi: {directorate}.",
    "bilgi-istendi": "Talebinizle ilgili sizden ek bilgi istendi.",
    "vatandas-yanitladi": "Ek bilgi yanıtınız alındı.",
    "yanitlandi": "Talebiniz sonuçlandı; yanıtınız gönderildi.",
    "yeniden-acildi": "Talebiniz yeniden değerlendirilmek üzere müdürlüğe iletildi.",
    "kuruma-yonlendirildi": "Talebiniz görev alanı nedeniyle {institution} kurumuna yönlendirildi.",
    "kisisel-veriler-anonimlestirildi": "Saklama süresi dolduğundan kişisel verileriniz anonimleştirildi.",
}


class RequestNotFound(LookupError):
    pass


class CategoryNotFound(LookupError):
    """The category is missing, unknown or inactive: an operator must route the request."""


class ReplyNotExpected(ValueError):
    pass


@dataclass(frozen=True)
class Contact:
    full_name: str
    phone: str | None
    email: str | None
    address: str | None
    preferred_channel: str


@dataclass(frozen=True)
class Intake:
    channel: str
    channel_reference: str
    request_type: str
    category_code: str | None
    description: str
    latitude: float | None
    longitude: float | None
    contact: Contact


@dataclass(frozen=True)
class Routing:
    category_code: str
    directorate_code: str
    staff_group: str
    service_days: int
    due_at: datetime


def new_tracking_code() -> str:
    """80 random bits, Crockford-like base32 without padding: cannot be guessed or enumerated."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode().rstrip("=")
    return f"BI-{raw[:4]}-{raw[4:8]}-{raw[8:12]}-{raw[12:]}"


# ---------------------------------------------------------------- intake


def submit(uow_factory: UnitOfWorkFactory, intake: Intake) -> tuple[CitizenRequest, bool]:
    """Commit the request, its contact, its first history entry and its process start together.

    The same channel + channel reference returns the existing request (created=False). A repeat is
    rare, so the insert goes first and the unique constraint tells: one transaction, no lookup.
    """
    try:
        with uow_factory() as uow:
            request = CitizenRequest(
                id=uuid.uuid4(),
                tracking_code=new_tracking_code(),
                channel=intake.channel,
                channel_reference=intake.channel_reference,
                request_type=intake.request_type,
                category_code=intake.category_code.strip().upper() if intake.category_code else None,
                description=intake.description,
                latitude=intake.latitude,
                longitude=intake.longitude,
                status="alindi",
            )
            uow.session.add(request)
            uow.session.flush()  # the request row first: the others refer to it
            c = intake.contact
            uow.session.add(
                CitizenContact(
                    request_id=request.id,
                    full_name=c.full_name,
                    phone=c.phone,
                    email=c.email,
                    address=c.address,
                    preferred_channel=c.preferred_channel,
                )
            )
            add_event(uow.session, request.id, "alindi", actor=f"kanal:{intake.channel}")
            enqueue_start(uow.session, request)
            uow.commit()
            uow.session.expunge(request)
            return request, True
    except IntegrityError:
        # Received before (a retry), or another call with the same channel reference won the race.
        existing = _by_channel_reference(uow_factory, intake.channel, intake.channel_reference)
        if existing is None:
            raise
        return existing, False


def enqueue_start(session: Session, request: CitizenRequest) -> None:
    """Start the request's process with the intake (and with a reopened request whose process ended)."""
    enqueue_message(
        session,
        message_name=START_MESSAGE,
        correlation_key=str(request.id),
        variables={
            "requestId": str(request.id),
            "requestType": request.request_type,
            "channel": request.channel,
            "categoryCode": request.category_code,
        },
    )


def service_days(session: Session, request: CitizenRequest) -> int:
    """The request's category's service time (working days); 30 days (Law 3071) without one."""
    category = session.get(Category, request.category_code) if request.category_code else None
    return category.service_days if category else 30


def _by_channel_reference(
    uow_factory: UnitOfWorkFactory, channel: str, reference: str
) -> CitizenRequest | None:
    with uow_factory() as uow:
        found = uow.session.scalar(
            select(CitizenRequest).where(
                CitizenRequest.channel == channel, CitizenRequest.channel_reference == reference
            )
        )
        if found is not None:
            uow.session.expunge(found)
        return found


def add_event(
    session: Session,
    request_id: uuid.UUID,
    event: str,
    *,
    actor: str = SYSTEM,
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    **public_values: str,
) -> bool:
    """Append a history entry; False when one with this idempotency key exists already."""
    if idempotency_key is not None and session.scalar(
        select(RequestEvent.id).where(RequestEvent.idempotency_key == idempotency_key)
    ):
        return False
    template = PUBLIC_TEXT.get(event)
    session.add(
        RequestEvent(
            request_id=request_id,
            event=event,
            actor=actor,
            details=details or {},
            public_text=template.format(**public_values) if template else None,
            idempotency_key=idempotency_key,
        )
    )
    return True


# ---------------------------------------------------------------- reading


def get_by_tracking(
    uow_factory: UnitOfWorkFactory, tracking_code: str
) -> tuple[CitizenRequest, list[RequestEvent]]:
    with uow_factory() as uow:
        request = uow.session.scalar(
            select(CitizenRequest).where(CitizenRequest.tracking_code == tracking_code.strip().upper())
        )
        if request is None:
            raise RequestNotFound(tracking_code)
        events = list(
            uow.session.scalars(
                select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.at)
            )
        )
        uow.session.expunge_all()
        return request, events


@dataclass(frozen=True)
class RequestFilter:
    status: str | None = None
    directorate: str | None = None
    category: str | None = None
    channel: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    overdue: bool | None = None


def _filtered(query: Select[Any], f: RequestFilter, now: datetime) -> Select[Any]:
    conditions = {
        CitizenRequest.status: f.status,
        CitizenRequest.directorate_code: f.directorate,
        CitizenRequest.category_code: f.category,
        CitizenRequest.channel: f.channel,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if f.received_from is not None:
        query = query.where(CitizenRequest.received_at >= f.received_from)
    if f.received_to is not None:
        query = query.where(CitizenRequest.received_at < f.received_to)
    if f.overdue is not None:
        late = CitizenRequest.closed_at.is_(None) & (CitizenRequest.due_at < now)
        query = query.where(late if f.overdue else ~late | CitizenRequest.due_at.is_(None))
    return query


def search(
    uow_factory: UnitOfWorkFactory, f: RequestFilter, *, page: int, size: int
) -> tuple[list[CitizenRequest], int]:
    now = datetime.now(UTC)
    return fetch_page(
        uow_factory,
        _filtered(select(CitizenRequest), f, now),
        CitizenRequest.received_at.desc(),
        CitizenRequest.id,
        page=page,
        size=size,
    )


# ---------------------------------------------------------------- worker steps


def route(
    uow_factory: UnitOfWorkFactory,
    *,
    request_id: uuid.UUID,
    category_code: str | None,
    process_instance_id: str,
    activity_instance_id: str,
) -> Routing:
    """Catalogue lookup → directorate and due date (working days from receipt)."""
    with uow_factory() as uow:
        request = _lock(uow.session, request_id)
        found = catalogue.active_category(uow.session, category_code)
        if found is None:
            add_event(
                uow.session,
                request_id,
                "kategori-bulunamadi",
                details={"categoryCode": category_code},
                idempotency_key=f"route:{request_id}:{activity_instance_id}",
            )
            request.status = "yonlendirme-bekliyor"
            request.process_instance_id = process_instance_id
            uow.commit()
            raise CategoryNotFound(category_code or "")
        category, directorate = found
        routing = Routing(
            category_code=category.code,
            directorate_code=directorate.code,
            staff_group=directorate.staff_group,
            service_days=category.service_days,
            due_at=add_working_days(request.received_at, category.service_days),
        )
        if add_event(
            uow.session,
            request_id,
            "yonlendirildi",
            details={
                "categoryCode": category.code,
                "directorateCode": directorate.code,
                "dueAt": routing.due_at.isoformat(),
            },
            idempotency_key=f"route:{request_id}:{activity_instance_id}",
            directorate=directorate.name,
        ):
            request.category_code = category.code
            request.directorate_code = directorate.code
            request.due_at = routing.due_at
            request.status = "yonlendirildi"
            request.process_instance_id = process_instance_id
        uow.commit()
        return routing


def _lock(session: Session, request_id: uuid.UUID) -> CitizenRequest:
    request = session.get(CitizenRequest, request_id, with_for_update=True)
    if request is None:
        raise RequestNotFound(str(request_id))
    return request


def _context(
    uow_factory: UnitOfWorkFactory, request_id: uuid.UUID
) -> tuple[CitizenRequest, CitizenContact, Category | None, Directorate | None]:
    with uow_factory() as uow:
        request = uow.session.get(CitizenRequest, request_id)
        if request is None:
            raise RequestNotFound(str(request_id))
        contact = uow.session.get(CitizenContact, request_id)
        assert contact is not None
        category = uow.session.get(Category, request.category_code) if request.category_code else None
        directorate = (
            uow.session.get(Directorate, request.directorate_code) if request.directorate_code else None
        )
        uow.session.expunge_all()
        return request, contact, category, directorate


def location_text(request: CitizenRequest, contact: CitizenContact) -> str:
    """Address and coordinates as staff and institutions read them; "-" when neither is known."""
    location = contact.address or ""
    if request.latitude is not None:
        location += f" ({request.latitude:.6f}, {request.longitude:.6f})"
    return location.strip() or "-"


async def notify_directorate(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    request_id: uuid.UUID,
    activity_instance_id: str,
    tasklist_url: str,
) -> None:
    request, contact, category, directorate = _context(uow_factory, request_id)
    assert directorate is not None and category is not None
    mail = Mail(
        recipient=directorate.email,
        subject=f"Yeni birim istek: {category.name}",
        body=(
            f"Sayın {directorate.name} yetkilisi,\n\n"
            f"Müdürlüğünüze yeni bir {request.request_type} yönlendirildi.\n\n"
            f"Kategori: {category.name} ({category.code})\n"
            f"Kanal: {request.channel}\n"
            f"Konum: {location_text(request, contact)}\n"
            f"Hizmet süresi: {category.service_days} iş günü, son gün "
            f"{request.due_at:%d.%m.%Y %H:%M}\n\n"
            f"Açıklama:\n{request.description}\n\n"
            f'Görevi Tasklist\'te açın: {tasklist_url} ("Talebi değerlendir", talep {request.id})\n'
        ),
    )
    sent = await send_once(
        uow_factory, mailer, idempotency_key=f"notify:{request_id}:{activity_instance_id}", mail=mail
    )
    with uow_factory() as uow:
        add_event(
            uow.session,
            request_id,
            "mudurluge-bildirildi",
            details={"directorateCode": directorate.code, "sent": sent},
            idempotency_key=f"notify:{request_id}:{activity_instance_id}",
        )
        _lock(uow.session, request_id).status = "mudurlukte"
        uow.commit()


def record_step(
    uow_factory: UnitOfWorkFactory,
    *,
    request_id: uuid.UUID,
    event: str,
    actor: str,
    details: dict[str, Any],
    activity_instance_id: str,
) -> None:
    """A step the diagram asks to record (task header `event`), with the fields it names."""
    with uow_factory() as uow:
        request = _lock(uow.session, request_id)
        if add_event(
            uow.session,
            request_id,
            event,
            actor=actor,
            details=details,
            idempotency_key=f"step:{request_id}:{activity_instance_id}",
        ):
            outcome = details.get("outcome")
            if isinstance(outcome, str) and outcome in STATUS_AFTER_OUTCOME:
                request.status = STATUS_AFTER_OUTCOME[outcome]
        uow.commit()


async def tell_citizen(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    key: str,
    contact: CitizenContact,
    subject: str,
    text: str,
) -> bool:
    if contact.preferred_channel == "sms" and contact.phone:
        return await send_sms_once(
            uow_factory,
            sms,
            idempotency_key=key,
            phone=contact.phone,
            subject=subject,
            text=f"{subject}: {text}",
        )
    assert contact.email is not None
    return await send_once(
        uow_factory,
        mailer,
        idempotency_key=key,
        mail=Mail(recipient=contact.email, subject=subject, body=text),
    )


async def ask_citizen(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    request_id: uuid.UUID,
    question: str,
    activity_instance_id: str,
) -> None:
    request, contact, _, _ = _context(uow_factory, request_id)
    text = (
        f"Sayın {contact.full_name},\n\n"
        f"{request.tracking_code} numaralı talebinizle ilgili müdürlüğümüz sizden bilgi istiyor:\n\n"
        f"{question}\n\n"
        "Yanıtınızı bu e-postaya yanıt vererek, Alo 185'i arayarak ya da web sitemizden "
        "takip numaranızla iletebilirsiniz.\n"
    )
    await tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=f"ask:{request_id}:{activity_instance_id}",
        contact=contact,
        subject=f"Talebiniz hakkında bilgi gerekiyor ({request.tracking_code})",
        text=text,
    )
    with uow_factory() as uow:
        add_event(
            uow.session,
            request_id,
            "bilgi-istendi",
            idempotency_key=f"ask:{request_id}:{activity_instance_id}",
        )
        _lock(uow.session, request_id).status = "bilgi-bekleniyor"
        uow.commit()


def accept_reply(uow_factory: UnitOfWorkFactory, *, tracking_code: str, text: str) -> CitizenReply:
    """Store the citizen's answer and hand only its id to the waiting process instance."""
    with uow_factory() as uow:
        request = uow.session.scalar(
            select(CitizenRequest)
            .where(CitizenRequest.tracking_code == tracking_code.strip().upper())
            .with_for_update()
        )
        if request is None:
            raise RequestNotFound(tracking_code)
        if request.status != "bilgi-bekleniyor":
            raise ReplyNotExpected(request.status)
        reply = CitizenReply(id=uuid.uuid4(), request_id=request.id, text=text)
        uow.session.add(reply)
        add_event(
            uow.session,
            request.id,
            "vatandas-yanitladi",
            actor="vatandas",
            details={"replyId": str(reply.id)},
        )
        request.status = "mudurlukte"
        enqueue_message(
            uow.session,
            message_name=REPLY_MESSAGE,
            correlation_key=str(request.id),
            variables={"replyId": str(reply.id), "citizenReplied": True},
            starts_process=False,
        )
        uow.commit()
        uow.session.refresh(reply)
        uow.session.expunge(reply)
        return reply


async def escalate_overdue(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    request_id: uuid.UUID,
    activity_instance_id: str,
    tasklist_url: str,
) -> int:
    """Tell the director the request is past its service time; returns how many times so far."""
    request, _, category, directorate = _context(uow_factory, request_id)
    assert directorate is not None and category is not None
    with uow_factory() as uow:
        earlier = (
            uow.session.scalar(
                select(func.count())
                .select_from(RequestEvent)
                .where(
                    RequestEvent.request_id == request_id,
                    RequestEvent.event == "gecikme-bildirildi",
                    RequestEvent.idempotency_key != f"overdue:{request_id}:{activity_instance_id}",
                )
            )
            or 0
        )
    count = earlier + 1
    await send_once(
        uow_factory,
        mailer,
        idempotency_key=f"overdue:{request_id}:{activity_instance_id}",
        mail=Mail(
            recipient=directorate.director_email,
            subject=f"Hizmet süresi aşıldı ({count}. bildirim): {category.name}",
            body=(
                f"Sayın Müdür,\n\n{directorate.name} müdürlüğüne yönlendirilen talep {request.id} "
                f"hizmet süresini aştı (son gün {request.due_at:%d.%m.%Y %H:%M}). "
                f"Bu, {count}. gecikme bildirimidir.\n\nTasklist: {tasklist_url}\n"
            ),
        ),
    )
    with uow_factory() as uow:
        add_event(
            uow.session,
            request_id,
            "gecikme-bildirildi",
            details={"count": count},
            idempotency_key=f"overdue:{request_id}:{activity_instance_id}",
        )
        uow.commit()
    return count


async def answer_citizen(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    request_id: uuid.UUID,
    outcome: str,
    activity_instance_id: str,
) -> str:
    """Positive answer when the work was done, negative (with the directorate's reason) otherwise."""
    request, contact, _, directorate = _context(uow_factory, request_id)
    answer = "olumlu" if outcome == "yapildi" else "olumsuz"
    with uow_factory() as uow:
        assessment = uow.session.scalar(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id, RequestEvent.event == "mudurluk-degerlendirmesi")
            .order_by(RequestEvent.at.desc())
            .limit(1)
        )
        details = assessment.details if assessment else {}
    unit = directorate.name if directorate else "Belediyemiz"
    if answer == "olumlu":
        body = (
            f"Sayın {contact.full_name},\n\n{request.tracking_code} numaralı talebiniz {unit} "
            f"tarafından sonuçlandırılmıştır.\n\nYapılan iş: {details.get('resolution') or '-'}\n\n"
            "Bize ulaştığınız için teşekkür ederiz.\n"
        )
    else:
        body = (
            f"Sayın {contact.full_name},\n\n{request.tracking_code} numaralı talebiniz {unit} "
            f"tarafından değerlendirilmiş, ancak yerine getirilememektedir.\n\n"
            f"Gerekçe: {details.get('reason') or '-'}\n\n"
            "Bilgilerinize sunarız.\n"
        )
    await tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=f"answer:{request_id}:{activity_instance_id}",
        contact=contact,
        subject=f"Talebiniz sonuçlandı ({request.tracking_code})",
        text=body,
    )
    with uow_factory() as uow:
        req = _lock(uow.session, request_id)
        if add_event(
            uow.session,
            request_id,
            "yanitlandi",
            details={"answer": answer},
            idempotency_key=f"answer:{request_id}:{activity_instance_id}",
        ):
            req.status = "kapatildi"
            req.answer = answer
            req.closed_at = datetime.now(UTC)
        uow.commit()
    return answer
