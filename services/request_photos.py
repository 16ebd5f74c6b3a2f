"""Photos the citizen attached at intake, for the directorate's staff: listed without their bytes,
read one at a time (stored by citizen_requests.submit, deleted by the anonymisation)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import undefer

from services.db import UnitOfWorkFactory
from services.models import RequestPhoto
from services.quality_records import RecordNotFound


def of_request(uow_factory: UnitOfWorkFactory, request_id: uuid.UUID) -> list[RequestPhoto]:
    with uow_factory() as uow:
        rows = list(
            uow.session.scalars(
                select(RequestPhoto)
                .where(RequestPhoto.request_id == request_id)
                .order_by(RequestPhoto.uploaded_at, RequestPhoto.id)
            )
        )
        uow.session.expunge_all()
        return rows


def read(uow_factory: UnitOfWorkFactory, *, request_id: uuid.UUID, photo_id: uuid.UUID) -> RequestPhoto:
    with uow_factory() as uow:
        row = uow.session.scalar(
            select(RequestPhoto)
            .where(RequestPhoto.id == photo_id, RequestPhoto.request_id == request_id)
            .options(undefer(RequestPhoto.content))
        )
        if row is None:
            raise RecordNotFound(f"photo {photo_id} of request {request_id}")
        uow.session.expunge(row)
        return row
