"""Satisfaction with the handling (ISO 10002 8.3): the citizen is invited once after closure and
rates 1–5 with an optional comment. The rating lives with the request in our database; the
`memnuniyet` diagram gets the request id and the score only and decides who is told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import citizen_requests as requests
from services.db import UnitOfWorkFactory
from services.models import CitizenRequest, Directorate, SatisfactionRating
from services.notifications import Mailer, send_once
from services.outbox import enqueue_message
from services.sms import SmsSender

RATED_MESSAGE = "memnuniyet-yanitlandi"
# The directorate whose staff group is Public Relations receives low ratings.
PUBLIC_RELATIONS_GROUP = "halkla-iliskiler"


class RatingRefused(ValueError):
    """The request cannot be rated now; the message says why, in Turkish."""


async def invite(
    uow_factory: UnitOfWorkFactory, mailer: Mailer, sms: SmsSender, *, request_id: uuid.UUID
) -> bool:
    """Invite once per request, whatever reopenings follow."""
    request, contact, category, directorate = requests.request_context(uow_factory, request_id)
    key = f"rating-invite:{request_id}"
    sent = await requests.tell_citizen(
        uow_factory,
        mailer,
        sms,
        key=key,
        contact=contact,
        template="vatandas.memnuniyet-daveti",
        values=requests.request_values(request, category, directorate),
        category_code=request.category_code,
    )
    with uow_factory() as uow:
        requests.add_event(
            uow.session,
            request_id,
            "memnuniyet-daveti-gonderildi",
            details={"sent": sent},
            idempotency_key=key,
        )
        uow.commit()
    return sent


def rate(
    uow_factory: UnitOfWorkFactory, *, tracking_code: str, score: int, comment: str | None
) -> SatisfactionRating:
    try:
        with uow_factory() as uow:
            request = uow.session.scalar(
                select(CitizenRequest).where(CitizenRequest.tracking_code == tracking_code.strip().upper())
            )
            if request is None:
                raise requests.RequestNotFound(tracking_code)
            if request.closed_at is None:
                raise RatingRefused(f"Talep sonuçlanmadan değerlendirme yapılamaz (durum: {request.status}).")
            rating = SatisfactionRating(
                request_id=request.id, score=score, comment=comment, rated_at=datetime.now(UTC)
            )
            uow.session.add(rating)
            uow.session.flush()  # the primary key refuses a second rating here
            requests.add_event(
                uow.session,
                request.id,
                "memnuniyet-degerlendirildi",
                actor="vatandas",
                details={"score": score},
            )
            enqueue_message(
                uow.session,
                message_name=RATED_MESSAGE,
                correlation_key=str(request.id),
                variables={"requestId": str(request.id), "score": score},
            )
            uow.commit()
            uow.session.expunge(rating)
            return rating
    except IntegrityError:
        raise RatingRefused("Bu talebi zaten değerlendirdiniz; teşekkür ederiz.") from None


async def tell_public_relations(
    uow_factory: UnitOfWorkFactory, mailer: Mailer, *, request_id: uuid.UUID, activity_instance_id: str
) -> None:
    request, _, category, directorate = requests.request_context(uow_factory, request_id)
    with uow_factory() as uow:
        rating = uow.session.get(SatisfactionRating, request_id)
        relations = uow.session.scalar(
            select(Directorate).where(Directorate.staff_group == PUBLIC_RELATIONS_GROUP)
        )
        if rating is None or relations is None:
            raise LookupError("rating or the Public Relations directorate is missing")
        values: dict[str, Any] = {
            **requests.request_values(request, category, directorate),
            "puan": rating.score,
            "yorum_var": "evet" if rating.comment else "hayır",
        }
        mail = requests.staff_mail(
            uow.session, "personel.dusuk-memnuniyet", relations.email, values, request.category_code
        )
    await send_once(
        uow_factory, mailer, idempotency_key=f"low-rating:{request_id}:{activity_instance_id}", mail=mail
    )
