"""Citizen requests: intake for the channels, status for the citizen, search for staff,
and the citizen's reply to an information request."""

import asyncio
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import ConfigDict, Field, field_validator, model_validator

from services import catalogue, objections, request_attributes, request_photos, satisfaction
from services import citizen_requests as service
from services.access import Forbidden, Permission, Principal
from services.api import schemas
from services.api.deps import ContainerDep
from services.api.security import Allowed, ChannelDep
from services.models import CitizenRequest
from services.quality_records import RecordNotFound
from services.validation import Email

router = APIRouter(prefix="/requests", tags=["citizen requests"])


class Channel(StrEnum):
    CALL_CENTRE = "cagri-merkezi"
    WEB = "web"
    MOBILE = "mobil"
    EMAIL = "eposta"
    CIMER = "cimer"
    SOCIAL_MEDIA = "sosyal-medya"
    WALK_IN = "yuz-yuze"


class RequestType(StrEnum):
    REQUEST = "istek"
    COMPLAINT = "sikayet"
    SUGGESTION = "oneri"


class AnswerChannel(StrEnum):
    EMAIL = "eposta"
    SMS = "sms"


class Camel(schemas.Camel):
    model_config = ConfigDict(extra="forbid")


class Location(Camel):
    address: str | None = Field(None, min_length=3, max_length=500, description="açık adres")
    district: str | None = Field(None, min_length=2, max_length=60, description="ilçe, e.g. Yenişehir")
    latitude: float | None = Field(None, ge=35.0, le=43.0, description="WGS84, within Türkiye")
    longitude: float | None = Field(None, ge=25.0, le=45.0, description="WGS84, within Türkiye")

    @model_validator(mode="after")
    def _address_or_coordinates(self) -> "Location":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        if self.address is None and self.latitude is None:
            raise ValueError("give an address, coordinates, or both")
        return self


PHONE = re.compile(r"^(?:\+90|0)?(5\d{9})$")


class Citizen(Camel):
    full_name: str = Field(min_length=2, max_length=120)
    phone: str | None = Field(None, description="Turkish mobile number, e.g. 0532 123 45 67")
    email: Email | None = Field(None, max_length=320)

    @field_validator("phone")
    @classmethod
    def _normalise_phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = PHONE.match(re.sub(r"[\s()-]", "", value))
        if not match:
            raise ValueError("not a Turkish mobile number (05XX XXX XX XX)")
        return f"+90{match.group(1)}"


class IntakeIn(Camel):
    channel: Channel
    channel_reference: str = Field(min_length=1, max_length=100, description="the channel's own id")
    type: RequestType
    category_code: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{2,40}$")
    description: str = Field(min_length=10, max_length=4000)
    location: Location
    citizen: Citizen
    preferred_answer_channel: AnswerChannel
    status_updates: bool = Field(
        True, description="status updates on the way (true) or only the receipt and the answer (false)"
    )
    attributes: dict[str, str | list[str]] = Field(
        default_factory=dict,
        max_length=20,
        description="answers to the category's extra questions (GET /catalogue/categories), by code",
    )

    @model_validator(mode="after")
    def _contact_for_the_answer(self) -> "IntakeIn":
        if self.preferred_answer_channel is AnswerChannel.EMAIL and self.citizen.email is None:
            raise ValueError("preferredAnswerChannel is eposta but citizen.email is missing")
        if self.preferred_answer_channel is AnswerChannel.SMS and self.citizen.phone is None:
            raise ValueError("preferredAnswerChannel is sms but citizen.phone is missing")
        return self


class IntakeOut(Camel):
    tracking_number: str
    status: str
    status_url: str


class EventOut(Camel):
    at: datetime
    text: str


class StatusOut(Camel):
    tracking_number: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    answer: str | None
    priority: str
    objection_deadline: datetime | None = Field(description="until when an objection to the answer is taken")
    question: str | None = Field(None, description="the directorate's question while an answer is awaited")
    history: list[EventOut]


class RequestSummary(Camel):
    id: uuid.UUID
    tracking_number: str
    type: str
    channel: str
    category_code: str | None
    directorate_code: str | None
    status: str
    received_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    overdue: bool


class Page(Camel):
    items: list[RequestSummary]
    total: int
    page: int
    size: int


class ReplyIn(Camel):
    text: str = Field(min_length=1, max_length=4000)


class ReplyOut(Camel):
    reply_id: uuid.UUID
    status: Literal["iletildi"]


class ObjectionIn(Camel):
    reason: str = Field(min_length=10, max_length=4000, description="why the answer is not accepted")


class ObjectionOut(Camel):
    objection_id: uuid.UUID
    status: Literal["alindi"]


class RatingIn(Camel):
    score: int = Field(ge=1, le=5, description="1 (hiç memnun değilim) … 5 (çok memnunum)")
    comment: str | None = Field(None, max_length=2000)


class RatingOut(Camel):
    status: Literal["kaydedildi"]


class PriorityIn(Camel):
    priority: Literal["acil", "yuksek", "normal"]
    reason: str = Field(min_length=5, max_length=1000, description="why the priority changes (recorded)")


class PriorityOut(Camel):
    priority: str
    due_at: datetime | None


def contact_of(
    citizen: Citizen, location: Location, answer_channel: str, wants_updates: bool
) -> service.Contact:
    """The citizen's contact as every channel stores it (personal data: encrypted, never to the engine)."""
    return service.Contact(
        full_name=citizen.full_name,
        phone=citizen.phone,
        email=str(citizen.email) if citizen.email else None,
        address=location.address,
        preferred_channel=answer_channel,
        wants_updates=wants_updates,
    )


def intake_of(
    body: IntakeIn, *, attributes: dict[str, Any] | None, photos: tuple[service.Photo, ...] = ()
) -> service.Intake:
    """A checked intake (the JSON API's or the citizen page's) as `citizen_requests.submit` takes it."""
    return service.Intake(
        channel=body.channel.value,
        channel_reference=body.channel_reference,
        request_type=body.type.value,
        category_code=body.category_code,
        description=body.description,
        latitude=body.location.latitude,
        longitude=body.location.longitude,
        district=body.location.district,
        contact=contact_of(
            body.citizen, body.location, body.preferred_answer_channel.value, body.status_updates
        ),
        attributes=attributes,
        photos=photos,
    )


def _intake_out(request: CitizenRequest, http: Request) -> IntakeOut:
    return IntakeOut(
        tracking_number=request.tracking_code,
        status=request.status,
        status_url=str(http.url_for("request_status", tracking_number=request.tracking_code)),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IntakeOut,
    response_model_by_alias=True,
    responses={
        200: {"model": IntakeOut, "description": "already received from this channel"},
        401: {"description": "no or unknown X-API-Key"},
        403: {"description": "the key belongs to another channel"},
        429: {"description": "the key's rate limit; see Retry-After"},
    },
)
async def submit_request(
    body: IntakeIn, http: Request, response: Response, container: ContainerDep, caller: ChannelDep
) -> IntakeOut:
    """For the channels' integrations (X-API-Key): each key posts requests of its own channel only."""
    if body.channel.value != caller.channel:
        raise Forbidden(
            f"intake:{body.channel.value}",
            f"Bu anahtar yalnızca '{caller.channel}' kanalının taleplerini gönderebilir.",
        )
    try:
        answers = await asyncio.to_thread(
            catalogue.check_answers, container.uow, body.category_code, body.attributes
        )
    except request_attributes.AnswerInvalid as wrong:
        raise schemas.unprocessable(wrong.message, "body", "attributes", wrong.code) from None
    intake = intake_of(body, attributes=answers)
    request, created = await asyncio.to_thread(service.submit, container.uow, intake)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _intake_out(request, http)


@router.get(
    "/{tracking_number}", response_model=StatusOut, response_model_by_alias=True, name="request_status"
)
async def request_status(tracking_number: str, container: ContainerDep) -> StatusOut:
    """For the citizen: the request's status and its dated history, nothing internal."""
    try:
        request, events = await asyncio.to_thread(service.get_by_tracking, container.uow, tracking_number)
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bu takip numarasıyla bir talep bulunamadı.") from None
    return StatusOut(
        tracking_number=request.tracking_code,
        type=request.request_type,
        status=request.status,
        received_at=request.received_at,
        due_at=request.due_at,
        closed_at=request.closed_at,
        answer=request.answer,
        priority=request.priority,
        objection_deadline=request.objection_deadline,
        question=service.awaited_question(request, events),
        history=[EventOut(at=e.at, text=e.public_text) for e in events if e.public_text],
    )


@router.post(
    "/{tracking_number}/replies",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplyOut,
    response_model_by_alias=True,
)
async def citizen_reply(tracking_number: str, body: ReplyIn, container: ContainerDep) -> ReplyOut:
    """The citizen's answer to an information request; it reaches the waiting process."""
    try:
        reply = await asyncio.to_thread(
            service.accept_reply, container.uow, tracking_code=tracking_number, text=body.text
        )
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bu takip numarasıyla bir talep bulunamadı.") from None
    except service.ReplyNotExpected as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"Bu talep için şu anda yanıt beklenmiyor (durum: {error})."
        ) from None
    return ReplyOut(reply_id=reply.id, status="iletildi")


NOT_FOUND = "Bu takip numarasıyla bir talep bulunamadı."


@router.post(
    "/{tracking_number}/objections",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ObjectionOut,
    response_model_by_alias=True,
    responses={409: {"description": "not answered yet, an objection already open, or the period is over"}},
)
async def object_to_answer(tracking_number: str, body: ObjectionIn, container: ContainerDep) -> ObjectionOut:
    """For the citizen: object to the answer within the objection period (ISO 10002 7.8)."""
    try:
        objection = await asyncio.to_thread(
            objections.file_objection, container.uow, tracking_code=tracking_number, reason=body.reason
        )
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    except objections.ObjectionRefused as refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refusal)) from None
    return ObjectionOut(objection_id=objection.id, status="alindi")


@router.post(
    "/{tracking_number}/rating",
    status_code=status.HTTP_201_CREATED,
    response_model=RatingOut,
    response_model_by_alias=True,
    responses={409: {"description": "not closed yet, or rated already"}},
)
async def rate_handling(tracking_number: str, body: RatingIn, container: ContainerDep) -> RatingOut:
    """For the citizen: rate how the request was handled, once (ISO 10002 8.3)."""
    try:
        await asyncio.to_thread(
            satisfaction.rate,
            container.uow,
            tracking_code=tracking_number,
            score=body.score,
            comment=body.comment,
        )
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    except satisfaction.RatingRefused as refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refusal)) from None
    return RatingOut(status="kaydedildi")


class PhotoOut(Camel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    file_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


async def _readable_request(container: ContainerDep, caller: Principal, request_id: uuid.UUID) -> None:
    try:
        request = await asyncio.to_thread(service.get_by_id, container.uow, request_id)
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bu numarayla bir talep bulunamadı.") from None
    caller.check_directorate(Permission.REQUESTS_READ, request.directorate_code)


class ObjectionRecord(Camel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    received_at: datetime
    reason: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    justification: str | None


@router.get("/{request_id}/objections", response_model=list[ObjectionRecord], response_model_by_alias=True)
async def list_objections(
    request_id: uuid.UUID,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.REQUESTS_READ))],
) -> list[ObjectionRecord]:
    """For staff (Public Relations deciding in Tasklist): the citizen's objections with their
    reasons, which stay in our database and never travel to the engine."""
    await _readable_request(container, caller, request_id)
    rows = await asyncio.to_thread(objections.of_request, container.uow, request_id)
    return [ObjectionRecord.model_validate(row) for row in rows]


@router.get("/{request_id}/photos", response_model=list[PhotoOut], response_model_by_alias=True)
async def list_photos(
    request_id: uuid.UUID,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.REQUESTS_READ))],
) -> list[PhotoOut]:
    """For staff: the photos the citizen attached (the web page takes them), without their bytes."""
    await _readable_request(container, caller, request_id)
    rows = await asyncio.to_thread(request_photos.of_request, container.uow, request_id)
    return [PhotoOut.model_validate(row) for row in rows]


@router.get("/{request_id}/photos/{photo_id}", response_class=Response)
async def download_photo(
    request_id: uuid.UUID,
    photo_id: uuid.UUID,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.REQUESTS_READ))],
) -> Response:
    """For staff: one photo's bytes as the citizen sent them, with their SHA-256."""
    await _readable_request(container, caller, request_id)
    try:
        row = await asyncio.to_thread(
            request_photos.read, container.uow, request_id=request_id, photo_id=photo_id
        )
    except RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Fotoğraf bulunamadı.") from None
    return schemas.file_response(row.content, row.content_type, row.file_name, row.sha256)


@router.put(
    "/{request_id}/priority",
    response_model=PriorityOut,
    response_model_by_alias=True,
    responses={409: {"description": "the request is not where a priority change can take effect"}},
)
async def change_priority(
    request_id: uuid.UUID,
    body: PriorityIn,
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.REQUESTS_PRIORITISE))],
) -> PriorityOut:
    """For the operator and the directorate: change the priority with a reason (ISO 10002 7.5);
    the directorate's open task gets the new due date and priority."""
    try:
        current = await asyncio.to_thread(service.get_by_id, container.uow, request_id)
        caller.check_directorate(Permission.REQUESTS_PRIORITISE, current.directorate_code)
        changed = await asyncio.to_thread(
            service.change_priority,
            container.uow,
            request_id=request_id,
            priority=body.priority,
            reason=body.reason,
            actor=caller.actor,
        )
    except service.RequestNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bu numarayla bir talep bulunamadı.") from None
    except service.PriorityNotChangeable as refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refusal)) from None
    return PriorityOut(priority=changed.priority, due_at=changed.due_at)


@router.get("", response_model=Page, response_model_by_alias=True)
async def search_requests(
    container: ContainerDep,
    caller: Annotated[Principal, Depends(Allowed(Permission.REQUESTS_READ))],
    status_: Annotated[str | None, Query(alias="status", max_length=30)] = None,
    directorate: Annotated[str | None, Query(max_length=40)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    channel: Channel | None = None,
    received_from: Annotated[datetime | None, Query(alias="from")] = None,
    received_to: Annotated[datetime | None, Query(alias="to")] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page:
    """For staff: requests filtered and paginated, newest first; no personal data. Directorate
    staff and directors see their own directorate's requests only."""
    criteria = service.RequestFilter(
        status=status_,
        directorate=caller.filter_directorate(Permission.REQUESTS_READ, directorate),
        category=category,
        channel=channel.value if channel else None,
        received_from=received_from,
        received_to=received_to,
        overdue=overdue,
    )
    rows, total = await asyncio.to_thread(service.search, container.uow, criteria, page=page, size=size)
    now = datetime.now().astimezone()
    return Page(items=[_summary(r, now) for r in rows], total=total, page=page, size=size)


def _summary(r: CitizenRequest, now: datetime) -> RequestSummary:
    values: dict[str, Any] = {
        "id": r.id,
        "tracking_number": r.tracking_code,
        "type": r.request_type,
        "channel": r.channel,
        "category_code": r.category_code,
        "directorate_code": r.directorate_code,
        "status": r.status,
        "received_at": r.received_at,
        "due_at": r.due_at,
        "closed_at": r.closed_at,
        "overdue": r.closed_at is None and r.due_at is not None and r.due_at < now,
    }
    return RequestSummary(**values)
