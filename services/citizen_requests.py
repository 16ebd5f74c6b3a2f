"""Citizen requests (birim istek): intake, routing, notifications, history and answers.

Every function that a worker calls is idempotent: it is keyed by the request and the external
task's activity instance id (unique per step execution; a timer firing again is a new one), so a
task delivered twice leaves one history entry and sends one message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import catalogue, duplicates, metrics, request_attributes, service_time, wording
from services.db import UnitOfWorkFactory, fetch_page
from services.models import (
    Category,
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Directorate,
    Objection,
    RequestEvent,
    RequestPhoto,
)
from services.notifications import Mail, Mailer, send_once, send_sms_once
from services.outbox import enqueue_message
from services.quality_records import InvalidInput
from services.sms import SmsSender
from services.working_days import ISTANBUL

START_MESSAGE = "birim-istek-alindi"
REPLY_MESSAGE = "vatandas-yaniti"
PRIORITY_MESSAGE = "oncelik-degisti"
SYSTEM = "sistem"

# Status after each recorded staff outcome (the gateway in the diagram decides the path).
STATUS_AFTER_OUTCOME = {
    "yapildi": "kapatma-kontrolunde",
    "yapilmayacak": "kapatma-kontrolunde",
    "yanlis-mudurluk": "yeniden-yonlendirilecek",
    "bilgi-gerekli": "bilgi-bekleniyor",
}
# Where the request waits at the directorate's task: a priority change recreates that task.
AT_DIRECTORATE = {"mudurlukte", "yeniden-acildi"}
# Before routing, the priority is stored and the routing step uses it.
BEFORE_ROUTING = {"alindi", "yonlendirme-bekliyor", "yeniden-yonlendirilecek"}


class RequestNotFound(LookupError):
    pass


class CategoryNotFound(LookupError):
    """The category is missing, unknown or inactive: an operator must route the request."""


class ReplyNotExpected(ValueError):
    pass


class PriorityNotChangeable(ValueError):
    """The request is not where a priority change can take effect (the message says why)."""


@dataclass(frozen=True)
class Contact:
    full_name: str
    phone: str | None
    email: str | None
    address: str | None
    preferred_channel: str
    wants_updates: bool = True


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
    district: str | None = None
    # Answers to the category's extra questions, already checked (request_attributes.check_answers).
    attributes: dict[str, Any] | None = None
    photos: tuple[Photo, ...] = ()


@dataclass(frozen=True)
class Photo:
    """A photo the citizen attached, already checked (evidence.check) by the channel's route."""

    file_name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Routing:
    category_code: str
    directorate_code: str
    staff_group: str
    service_days: int
    due_at: datetime
    priority: str


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
                district=intake.district,
                attributes=intake.attributes,
                status="alindi",
            )
            uow.session.add(request)
            uow.session.flush()  # the request row first: the others refer to it
            for photo in intake.photos:
                uow.session.add(
                    RequestPhoto(
                        request_id=request.id,
                        file_name=photo.file_name.strip(),
                        content_type=photo.content_type,
                        size=len(photo.data),
                        sha256=hashlib.sha256(photo.data).hexdigest(),
                        content=photo.data,
                    )
                )
            c = intake.contact
            uow.session.add(
                CitizenContact(
                    request_id=request.id,
                    full_name=c.full_name,
                    phone=c.phone,
                    email=c.email,
                    address=c.address,
                    preferred_channel=c.preferred_channel,
                    wants_updates=c.wants_updates,
                )
            )
            add_event(uow.session, request.id, "alindi", actor=f"kanal:{intake.channel}")
            enqueue_start(uow.session, request)
            uow.commit()
            uow.session.expunge(request)
            metrics.INTAKE.labels(metrics.channel_label(intake.channel), "created").inc()
            return request, True
    except IntegrityError:
        # Received before (a retry), or another call with the same channel reference won the race.
        existing = _by_channel_reference(uow_factory, intake.channel, intake.channel_reference)
        if existing is None:
            raise
        metrics.INTAKE.labels(metrics.channel_label(intake.channel), "repeated").inc()
        return existing, False


def enqueue_start(session: Session, request: CitizenRequest) -> None:
    """Start the request's process with the intake (and with a reopened request whose process ended)."""
    enqueue_message(
        session,
        message_name=START_MESSAGE,
        correlation_key=str(request.id),
        variables={
            "requestId": str(request.id),
            "trackingNumber": request.tracking_code,
            "requestType": request.request_type,
            "channel": request.channel,
            "categoryCode": request.category_code,
        },
    )


def new_deadline(session: Session, request: CitizenRequest, start: datetime) -> datetime:
    """The answer's due date for a service period starting at `start` (receipt or reopening),
    from the request's category and priority; the law's 30 days without a category."""
    category = session.get(Category, request.category_code) if request.category_code else None
    return service_time.deadline(start, category, request.priority)


def _iso(moment: datetime) -> str:
    # UTC with a Z: the engine reads it as a date-time (timers, task due and follow-up dates).
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _service_start(session: Session, request: CitizenRequest) -> datetime:
    """When the current service period began: the last reopening, else the receipt."""
    reopened = session.scalar(
        select(func.max(RequestEvent.at)).where(
            RequestEvent.request_id == request.id, RequestEvent.event == "yeniden-acildi"
        )
    )
    return reopened or request.received_at


def task_variables(session: Session, request: CitizenRequest) -> dict[str, Any]:
    """What the human tasks show and sort by in Tasklist: a name that says what the task is about,
    the service-time deadline as due date, the reminder as follow-up date, the priority."""
    category = session.get(Category, request.category_code) if request.category_code else None
    subject = " · ".join(
        part
        for part in (request.tracking_code, category.name if category else None, request.district)
        if part
    )
    variables: dict[str, Any] = {
        "trackingNumber": request.tracking_code,
        "categoryName": category.name if category else "-",
        "district": request.district or "-",
        "priority": request.priority,
        "priorityLabel": service_time.LABELS[request.priority],
        "taskPriority": service_time.TASK_PRIORITY[request.priority],
        "taskSubject": subject,
    }
    if request.due_at is not None:
        start = _service_start(session, request)
        variables["dueDate"] = _iso(request.due_at)
        variables["followUpDate"] = _iso(service_time.follow_up(start, request.due_at))
    return variables


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
    """Append a history entry; False when one with this idempotency key exists already.

    What the citizen reads of it is the message template `durum.<event>` (medium durum) filled
    with `public_values` (its placeholders: mudurluk=, kurum=, …); an event without one is not
    shown to the citizen."""
    if idempotency_key is not None and session.scalar(
        select(RequestEvent.id).where(RequestEvent.idempotency_key == idempotency_key)
    ):
        return False
    public_text = None
    if ("durum." + event, "durum", None) in wording.shipped().defaults:
        request = session.get(CitizenRequest, request_id)  # mostly in the session already
        public_text = wording.render(
            session,
            "durum." + event,
            "durum",
            public_values,
            category_code=request.category_code if request is not None else None,
        ).body
    session.add(
        RequestEvent(
            request_id=request_id,
            event=event,
            actor=actor,
            details=details or {},
            public_text=public_text,
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


def awaited_question(request: CitizenRequest, events: list[RequestEvent]) -> str | None:
    """The directorate's latest question while the citizen's answer is awaited (they were sent it)."""
    if request.status != "bilgi-bekleniyor":
        return None
    asked = [e.details.get("question") for e in events if e.event == "bilgi-istendi" and e.details]
    return next((q for q in reversed(asked) if q), None)


def get_by_id(uow_factory: UnitOfWorkFactory, request_id: uuid.UUID) -> CitizenRequest:
    with uow_factory() as uow:
        request = uow.session.get(CitizenRequest, request_id)
        if request is None:
            raise RequestNotFound(str(request_id))
        uow.session.expunge(request)
        return request


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
        # A priority staff set with a reason outlives a re-routing; else the category's default.
        priority = (
            request.priority if _priority_set_by_staff(uow.session, request_id) else category.default_priority
        )
        routing = Routing(
            category_code=category.code,
            directorate_code=directorate.code,
            staff_group=directorate.staff_group,
            service_days=category.service_days,
            due_at=service_time.deadline(request.received_at, category, priority),
            priority=priority,
        )
        # The history line may differ per category: the request carries its new one first
        # (the same value again when the task is delivered twice).
        request.category_code = category.code
        if add_event(
            uow.session,
            request_id,
            "yonlendirildi",
            details={
                "categoryCode": category.code,
                "directorateCode": directorate.code,
                "dueAt": routing.due_at.isoformat(),
                "priority": priority,
            },
            idempotency_key=f"route:{request_id}:{activity_instance_id}",
            mudurluk=directorate.name,
        ):
            request.directorate_code = directorate.code
            request.due_at = routing.due_at
            request.priority = priority
            request.status = "yonlendirildi"
            request.process_instance_id = process_instance_id
        uow.commit()
        return routing


def route_variables(
    uow_factory: UnitOfWorkFactory,
    routing: Routing,
    request_id: uuid.UUID,
    *,
    duplicate_radius_m: float,
    duplicate_period: timedelta,
) -> dict[str, Any]:
    """The routed request's variables, with the earlier open requests it may repeat (tracking
    numbers only: the staff see them on the task and may merge)."""
    with uow_factory() as uow:
        request = uow.session.get(CitizenRequest, request_id)
        assert request is not None
        candidates = duplicates.possible_duplicates(
            uow.session, request_id, radius_m=duplicate_radius_m, period=duplicate_period
        )
        return {
            "categoryCode": routing.category_code,
            "directorateCode": routing.directorate_code,
            "staffGroup": routing.staff_group,
            "serviceDays": routing.service_days,
            "possibleDuplicates": ", ".join(
                f"{c.tracking_code} ({c.distance_m:.0f} m, {local_time(c.received_at)})" for c in candidates
            )
            or "-",
            **task_variables(uow.session, request),
        }


def _priority_set_by_staff(session: Session, request_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(RequestEvent.id)
            .where(RequestEvent.request_id == request_id, RequestEvent.event == "oncelik-degisti")
            .limit(1)
        )
        is not None
    )


def _lock(session: Session, request_id: uuid.UUID) -> CitizenRequest:
    request = session.get(CitizenRequest, request_id, with_for_update=True)
    if request is None:
        raise RequestNotFound(str(request_id))
    return request


def request_context(
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


def local_time(moment: datetime | None) -> str:
    """A date and time as Turkish readers write it, in Türkiye's time."""
    return moment.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M") if moment else "-"


def staff_mail(
    session: Session, key: str, recipient: str, values: dict[str, Any], category_code: str | None
) -> Mail:
    text = wording.render(session, key, "eposta", values, category_code=category_code)
    return Mail(recipient=recipient, subject=text.subject, body=text.body)


def request_values(
    request: CitizenRequest, category: Category | None, directorate: Directorate | None
) -> dict[str, Any]:
    """The placeholders every request template may use (no personal data)."""
    return {
        "takip_no": request.tracking_code,
        "talep_turu": request.request_type,
        "kategori": category.name if category else "-",
        "kategori_kodu": category.code if category else "-",
        "mudurluk": directorate.name if directorate else "-",
        "kanal": request.channel,
        "ilce": request.district or "-",
        "oncelik": service_time.LABELS[request.priority],
        "hizmet_suresi": service_time.service_time_text(category, request.priority),
        "son_tarih": local_time(request.due_at),
        "talep_kimligi": str(request.id),
    }


def _work_values(
    request: CitizenRequest,
    contact: CitizenContact,
    category: Category,
    directorate: Directorate,
    tasklist_url: str,
    photos: int,
) -> dict[str, Any]:
    """What the staff mails about the work add: the place, the citizen's description and answers,
    the photos, Tasklist."""
    return {
        **request_values(request, category, directorate),
        "konum": location_text(request, contact),
        "aciklama": request.description,
        "ek_bilgiler": request_attributes.answers_text(
            request_attributes.definitions(category.attributes), request.attributes
        ),
        "fotograflar": f"{photos} fotoğraf (GET /requests/{request.id}/photos)" if photos else "yok",
        "tasklist_adresi": tasklist_url,
    }


async def notify_directorate(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    request_id: uuid.UUID,
    activity_instance_id: str,
    tasklist_url: str,
) -> None:
    """The directorate's unit mail: a new request with its Tasklist link; it is at the directorate."""
    await _mail_about_work(
        uow_factory,
        mailer,
        request_id=request_id,
        key=f"notify:{request_id}:{activity_instance_id}",
        template="personel.mudurluge-bildirim",
        to_director=False,
        event="mudurluge-bildirildi",
        tasklist_url=tasklist_url,
        status_after="mudurlukte",
    )


async def notify_director_urgent(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    request_id: uuid.UUID,
    activity_instance_id: str,
    tasklist_url: str,
) -> None:
    """An urgent request (health and safety) reaches the director at once, not only the unit."""
    await _mail_about_work(
        uow_factory,
        mailer,
        request_id=request_id,
        key=f"urgent:{request_id}:{activity_instance_id}",
        template="personel.acil-talep",
        to_director=True,
        event="mudure-acil-bildirildi",
        tasklist_url=tasklist_url,
    )


async def _mail_about_work(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    request_id: uuid.UUID,
    key: str,
    template: str,
    to_director: bool,
    event: str,
    tasklist_url: str,
    status_after: str | None = None,
) -> None:
    """Mail the directorate (or its director) about the work once per key and record it."""
    request, contact, category, directorate = request_context(uow_factory, request_id)
    assert directorate is not None and category is not None
    recipient = directorate.director_email if to_director else directorate.email
    with uow_factory() as uow:
        photos = uow.session.scalar(
            select(func.count()).select_from(RequestPhoto).where(RequestPhoto.request_id == request_id)
        )
        values = _work_values(request, contact, category, directorate, tasklist_url, photos or 0)
        mail = staff_mail(uow.session, template, recipient, values, category.code)
    sent = await send_once(uow_factory, mailer, idempotency_key=key, mail=mail)
    with uow_factory() as uow:
        add_event(
            uow.session,
            request_id,
            event,
            details={"directorateCode": directorate.code, "sent": sent},
            idempotency_key=key,
        )
        if status_after is not None:
            _lock(uow.session, request_id).status = status_after
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
    template: str,
    values: dict[str, Any],
    category_code: str | None = None,
) -> bool:
    """Send the citizen the template's text on the channel they chose, once per key."""
    medium: wording.Medium = "sms" if contact.preferred_channel == "sms" and contact.phone else "eposta"
    with uow_factory() as uow:
        text = wording.render(
            uow.session,
            template,
            medium,
            {"ad_soyad": contact.full_name, **values},
            category_code=category_code,
        )
    if medium == "sms":
        phone = contact.phone
        assert phone is not None

        return await send_sms_once(
            uow_factory, sms, idempotency_key=key, phone=phone, subject=template, text=text.body
        )
    assert contact.email is not None
    return await send_once(
        uow_factory,
        mailer,
        idempotency_key=key,
        mail=Mail(recipient=contact.email, subject=text.subject, body=text.body),
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
    request, contact, category, directorate = request_context(uow_factory, request_id)
    await tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=f"ask:{request_id}:{activity_instance_id}",
        contact=contact,
        template="vatandas.bilgi-istendi",
        values={**request_values(request, category, directorate), "soru": question},
        category_code=request.category_code,
    )
    with uow_factory() as uow:
        add_event(
            uow.session,
            request_id,
            "bilgi-istendi",
            # The question went to the citizen; kept so the track page can show it again.
            details={"question": question},
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
    request, _, category, directorate = request_context(uow_factory, request_id)
    assert directorate is not None and category is not None
    key = f"overdue:{request_id}:{activity_instance_id}"
    with uow_factory() as uow:
        earlier = (
            uow.session.scalar(
                select(func.count())
                .select_from(RequestEvent)
                .where(
                    RequestEvent.request_id == request_id,
                    RequestEvent.event == "gecikme-bildirildi",
                    RequestEvent.idempotency_key != key,
                )
            )
            or 0
        )
        count = earlier + 1
        values = {
            **request_values(request, category, directorate),
            "kacinci": count,
            "tasklist_adresi": tasklist_url,
        }
        mail = staff_mail(
            uow.session, "personel.gecikme-bildirimi", directorate.director_email, values, category.code
        )
    await send_once(uow_factory, mailer, idempotency_key=key, mail=mail)
    with uow_factory() as uow:
        add_event(
            uow.session, request_id, "gecikme-bildirildi", details={"count": count}, idempotency_key=key
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
    objection_period: timedelta,
    activity_instance_id: str,
) -> tuple[str, datetime]:
    """Positive answer when the work was done, negative (with the directorate's reason) otherwise.
    Opens the objection period; returns the answer and the period's end."""
    request, contact, category, directorate = request_context(uow_factory, request_id)
    answer = "olumlu" if outcome == "yapildi" else "olumsuz"
    key = f"answer:{request_id}:{activity_instance_id}"
    with uow_factory() as uow:
        assessment = uow.session.scalar(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id, RequestEvent.event == "mudurluk-degerlendirmesi")
            .order_by(RequestEvent.at.desc())
            .limit(1)
        )
        details = assessment.details if assessment else {}
        # A redelivered task keeps the deadline the first delivery set.
        told = uow.session.scalar(select(RequestEvent).where(RequestEvent.idempotency_key == key))
        deadline = (
            datetime.fromisoformat(told.details["objectionDeadline"])
            if told is not None and "objectionDeadline" in told.details
            else datetime.now(UTC) + objection_period
        )
    values = {
        **request_values(request, category, directorate),
        "mudurluk": directorate.name if directorate else "Belediyemiz",
        "yapilan_is": details.get("resolution") or "-",
        "gerekce": details.get("reason") or "-",
        "itiraz_son_tarih": local_time(deadline),
    }
    await tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=key,
        contact=contact,
        template=f"vatandas.yanit-{answer}",
        values=values,
        category_code=request.category_code,
    )
    with uow_factory() as uow:
        req = _lock(uow.session, request_id)
        if add_event(
            uow.session,
            request_id,
            "yanitlandi",
            details={"answer": answer, "objectionDeadline": deadline.isoformat()},
            idempotency_key=key,
        ):
            req.status = "kapatildi"
            req.answer = answer
            req.closed_at = datetime.now(UTC)
            req.objection_deadline = deadline
        uow.commit()
    await answer_followers(
        uow_factory,
        mailer,
        sms,
        primary_id=request_id,
        answer=answer,
        values=values,
        activity_instance_id=activity_instance_id,
    )
    return answer, deadline


# ---------------------------------------------------------------- keeping the citizen told

# The event the diagram names → the citizen template it sends.
UPDATE_TEMPLATES = {
    "alindi": "vatandas.alindi",
    "yonlendirildi": "vatandas.yonlendirildi",
    "yeniden-acildi": "vatandas.yeniden-acildi",
    "itiraz-yanitlandi": "vatandas.itiraz-yaniti",
}


async def inform_citizen(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    request_id: uuid.UUID,
    event: str,
    always: bool,
    activity_instance_id: str,
) -> dict[str, Any]:
    """A receipt or a status update on the citizen's channel (ISO 10002 7.3, 7.4, 7.6).

    The receipt (`alindi`) goes once per request, however often intake or the task is repeated.
    `yonlendirildi` goes only when the directorate differs from the one the citizen was last told.
    Updates respect the citizen's choice of "only the answer" unless the diagram says `always`.
    Returns the task variables, which the step refreshes for the human tasks after it."""
    if event not in UPDATE_TEMPLATES:
        raise ValueError(f"unknown citizen event {event!r} (known: {', '.join(UPDATE_TEMPLATES)})")
    request, contact, category, directorate = request_context(uow_factory, request_id)
    key = f"receipt:{request_id}" if event == "alindi" else f"inform:{request_id}:{activity_instance_id}"
    values = request_values(request, category, directorate)
    with uow_factory() as uow:
        if event == "alindi":
            # Before routing: what the catalogue says for the channel's category, if any.
            found = catalogue.active_category(uow.session, request.category_code)
            if found is not None:
                cat, unit = found
                priority = cat.default_priority
                values |= {
                    "kategori": cat.name,
                    "mudurluk": unit.name,
                    "oncelik": service_time.LABELS[priority],
                    "hizmet_suresi": service_time.service_time_text(cat, priority),
                    "son_tarih": local_time(service_time.deadline(request.received_at, cat, priority)),
                }
                told_directorate: str | None = unit.code
            else:
                values |= {
                    "kategori": "operatörümüz belirleyecek",
                    "mudurluk": "operatörümüz belirleyecek",
                    "son_tarih": local_time(
                        service_time.deadline(request.received_at, None, request.priority)
                    ),
                }
                told_directorate = None
        else:
            told_directorate = request.directorate_code
        if event == "itiraz-yanitlandi":
            objection = uow.session.scalar(
                select(Objection)
                .where(Objection.request_id == request_id, Objection.status == "kapanis-onaylandi")
                .order_by(Objection.decided_at.desc())
                .limit(1)
            )
            values["gerekce"] = objection.justification if objection and objection.justification else "-"
        skip = (not always and not contact.wants_updates) or (
            event == "yonlendirildi" and _last_told_directorate(uow.session, request_id) == told_directorate
        )
    sent = False
    if not skip:
        sent = await tell_citizen(
            uow_factory,
            mailer,
            sms,
            key=key,
            contact=contact,
            template=UPDATE_TEMPLATES[event],
            values=values,
            category_code=request.category_code,
        )
    with uow_factory() as uow:
        if not skip:
            add_event(
                uow.session,
                request_id,
                "vatandas-bilgilendirildi",
                details={"event": event, "directorateCode": told_directorate, "sent": sent},
                idempotency_key=key,
            )
        fresh = uow.session.get(CitizenRequest, request_id)
        assert fresh is not None
        variables = task_variables(uow.session, fresh)
        uow.commit()
    return variables


def _last_told_directorate(session: Session, request_id: uuid.UUID) -> str | None:
    details = session.scalar(
        select(RequestEvent.details)
        .where(
            RequestEvent.request_id == request_id,
            RequestEvent.event == "vatandas-bilgilendirildi",
            RequestEvent.details["event"].astext.in_(["alindi", "yonlendirildi"]),
        )
        .order_by(RequestEvent.at.desc())
        .limit(1)
    )
    return details.get("directorateCode") if details else None


def current_task_variables(uow_factory: UnitOfWorkFactory, request_id: uuid.UUID) -> dict[str, Any]:
    with uow_factory() as uow:
        request = uow.session.get(CitizenRequest, request_id)
        if request is None:
            raise RequestNotFound(str(request_id))
        return task_variables(uow.session, request)


# ---------------------------------------------------------------- priority (ISO 10002 7.5)


def change_priority(
    uow_factory: UnitOfWorkFactory, *, request_id: uuid.UUID, priority: str, reason: str, actor: str
) -> CitizenRequest:
    """Staff change the priority with a reason (recorded, with who). At the directorate the
    waiting task is recreated with the new due date and priority (message to the instance);
    before routing the routing step keeps it."""
    with uow_factory() as uow:
        request = _lock(uow.session, request_id)
        if request.status not in AT_DIRECTORATE | BEFORE_ROUTING:
            raise PriorityNotChangeable(
                f"Öncelik yalnızca talep müdürlükte ya da yönlendirme beklerken değiştirilebilir "
                f"(durum: {request.status})."
            )
        if request.priority == priority:
            raise PriorityNotChangeable(f"Talebin önceliği zaten '{priority}'.")
        previous = request.priority
        request.priority = priority
        if request.directorate_code is not None and request.status in AT_DIRECTORATE:
            request.due_at = new_deadline(uow.session, request, _service_start(uow.session, request))
        add_event(
            uow.session,
            request_id,
            "oncelik-degisti",
            actor=actor,
            details={"from": previous, "to": priority, "reason": reason},
        )
        if request.status in AT_DIRECTORATE:
            enqueue_message(
                uow.session,
                message_name=PRIORITY_MESSAGE,
                correlation_key=str(request_id),
                variables={"priority": priority},
                starts_process=False,
            )
        uow.commit()
        uow.session.expunge(request)
        return request


# ---------------------------------------------------------------- duplicates


async def merge_duplicate(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    request_id: uuid.UUID,
    into_tracking_code: str,
    actor: str,
    activity_instance_id: str,
) -> None:
    """Join a duplicate to the earlier request and tell its citizen; the earlier one's answer
    reaches them later. Refusals (unknown, closed, other category, …) go back to the staff."""
    key = f"merge:{request_id}:{activity_instance_id}"
    with uow_factory() as uow:
        try:
            merged = duplicates.merge(
                uow.session,
                request_id=request_id,
                into_tracking_code=into_tracking_code,
                actor=actor,
                idempotency_key=key,
            )
        except duplicates.MergeRefused as refusal:
            raise InvalidInput(str(refusal)) from None
        uow.commit()
    request, contact, category, directorate = request_context(uow_factory, request_id)
    await tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=key,
        contact=contact,
        template="vatandas.birlestirildi",
        values={
            **request_values(request, category, directorate),
            "onceki_takip_no": merged.primary_tracking_code,
        },
        category_code=request.category_code,
    )


async def answer_followers(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    sms: SmsSender,
    *,
    primary_id: uuid.UUID,
    answer: str,
    values: dict[str, Any],
    activity_instance_id: str,
) -> int:
    """The primary's answer to every request merged into it, each on its citizen's channel."""
    with uow_factory() as uow:
        follower_ids = duplicates.followers(uow.session, primary_id)
    for follower_id in follower_ids:
        request, contact, category, directorate = request_context(uow_factory, follower_id)
        key = f"answer:{follower_id}:{activity_instance_id}"
        await tell_citizen(
            uow_factory,
            mailer,
            sms,
            key=key,
            contact=contact,
            template=f"vatandas.yanit-{answer}",
            values={**values, **request_values(request, category, directorate)},
            category_code=request.category_code,
        )
        with uow_factory() as uow:
            follower = _lock(uow.session, follower_id)
            if add_event(
                uow.session,
                follower_id,
                "yanitlandi",
                details={"answer": answer, "via": str(primary_id)},
                idempotency_key=key,
            ):
                follower.status = "kapatildi"
                follower.answer = answer
                follower.closed_at = datetime.now(UTC)
            uow.commit()
    return len(follower_ids)
