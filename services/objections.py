"""The citizen's objection to an answer (ISO 10002 7.8, 7.9).

Within the objection period (set in the diagram, stored on the request when the answer goes out)
the citizen objects by tracking number with a reason. The reason stays in our database; the
waiting process instance gets only the objection's id. Public Relations reopens the request to the
directorate or confirms the closure with a justification that the citizen receives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import citizen_requests as requests
from services.db import UnitOfWorkFactory
from services.models import CitizenRequest, Objection
from services.outbox import enqueue_message

OBJECTION_MESSAGE = "itiraz-alindi"
DECISIONS = ("yeniden-ac", "kapanisi-onayla")


class ObjectionRefused(ValueError):
    """The request cannot take an objection now; the message says why, in Turkish."""


def file_objection(uow_factory: UnitOfWorkFactory, *, tracking_code: str, reason: str) -> Objection:
    now = datetime.now(UTC)
    try:
        with uow_factory() as uow:
            request = uow.session.scalar(
                select(CitizenRequest)
                .where(CitizenRequest.tracking_code == tracking_code.strip().upper())
                .with_for_update()
            )
            if request is None:
                raise requests.RequestNotFound(tracking_code)
            if request.status == "itiraz-degerlendirmede":
                raise ObjectionRefused("Bu talep için değerlendirilmekte olan bir itirazınız var.")
            if request.status != "kapatildi" or request.objection_deadline is None:
                raise ObjectionRefused(
                    f"Bu talep henüz yanıtlanmadığı için itiraz edilemez (durum: {request.status})."
                )
            if now > request.objection_deadline:
                raise ObjectionRefused(
                    f"İtiraz süresi {requests.local_time(request.objection_deadline)} tarihinde doldu; "
                    "bu talebe artık itiraz edilemez."
                )
            objection = Objection(id=uuid.uuid4(), request_id=request.id, reason=reason, status="acik")
            uow.session.add(objection)
            uow.session.flush()  # the partial unique index refuses a second open objection here
            requests.add_event(
                uow.session,
                request.id,
                "itiraz-edildi",
                actor="vatandas",
                details={"objectionId": str(objection.id)},
            )
            request.status = "itiraz-degerlendirmede"
            enqueue_message(
                uow.session,
                message_name=OBJECTION_MESSAGE,
                correlation_key=str(request.id),
                variables={"objectionId": str(objection.id)},
                starts_process=False,
            )
            uow.commit()
            uow.session.refresh(objection)
            uow.session.expunge(objection)
            return objection
    except IntegrityError:
        raise ObjectionRefused("Bu talep için değerlendirilmekte olan bir itirazınız var.") from None


def decide(
    uow_factory: UnitOfWorkFactory,
    *,
    objection_id: uuid.UUID,
    decision: str,
    justification: str,
    actor: str,
    activity_instance_id: str,
) -> dict[str, object]:
    """Record Public Relations' decision; a reopening starts a new service period at the
    directorate. Idempotent: a redelivered task finds the objection decided."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown objection decision {decision!r}")
    with uow_factory() as uow:
        objection = uow.session.get(Objection, objection_id, with_for_update=True)
        if objection is None:
            raise LookupError(f"objection {objection_id}")
        request = uow.session.get(CitizenRequest, objection.request_id, with_for_update=True)
        assert request is not None
        if objection.status == "acik":
            now = datetime.now(UTC)
            objection.status = "yeniden-acildi" if decision == "yeniden-ac" else "kapanis-onaylandi"
            objection.decided_by = actor
            objection.decided_at = now
            objection.justification = justification
            key = f"objection:{objection_id}:{activity_instance_id}"
            details = {"objectionId": str(objection_id), "justification": justification}
            if decision == "yeniden-ac":
                requests.add_event(
                    uow.session,
                    request.id,
                    "yeniden-acildi",
                    actor=actor,
                    details=details,
                    idempotency_key=key,
                )
                uow.session.flush()
                request.status = "yeniden-acildi"
                request.closed_at = None
                request.answer = None
                request.objection_deadline = None
                request.due_at = requests.new_deadline(uow.session, request, now)
            else:
                requests.add_event(
                    uow.session,
                    request.id,
                    "kapanis-onaylandi",
                    actor=actor,
                    details=details,
                    idempotency_key=key,
                )
                request.status = "kapatildi"
        variables = requests.task_variables(uow.session, request)
        uow.commit()
        return variables


def of_request(uow_factory: UnitOfWorkFactory, request_id: uuid.UUID) -> list[Objection]:
    with uow_factory() as uow:
        rows = list(
            uow.session.scalars(
                select(Objection).where(Objection.request_id == request_id).order_by(Objection.received_at)
            )
        )
        uow.session.expunge_all()
        return rows
