"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2/): our catalogue and requests as the
spec's documents, and their JSON and XML forms (XML built with ElementTree, element names as the
spec's; JSON as its Spark-convention mapping of the same documents).

Every answer here is public, so a request is shown without any personal data: no name, phone,
e-mail, address text or description (free text may name people); the place is the district and
the point rounded to ~100 m. `service_request_id` is the request's public id (its UUID), never the
tracking number: that one is the citizen's key to reply, object and rate, and GET requests lists
every request to anyone.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from services import request_attributes
from services.db import UnitOfWorkFactory
from services.models import Category, CitizenRequest, Directorate, RequestEvent
from services.working_days import ISTANBUL

Format = Literal["json", "xml"]
FORMATS: dict[str, str] = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+03:00"  # when this endpoint's behaviour last changed
MAX_PERIOD = timedelta(days=90)  # the spec's default period, and the longest one asked
MAX_RESULTS = 1000  # the spec's default count
COORDINATE_DIGITS = 3  # ~100 m: the street, not the door
# The XML element of one item of each list (the Spark convention's plural → singular).
ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
TRACKING_CODE = re.compile(r"\bBI(?:-[A-Z2-7]{4}){3}-[A-Z2-7]{4}\b")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# ---------------------------------------------------------------- rendering


def render(document: Any, root: str, fmt: Format) -> bytes:
    """`document` (dicts, lists, str, numbers, bools, None) as the format's bytes; `root` is the
    XML root element (a list's items get their ITEM name)."""
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False).encode()
    tree = _element(root, document)
    ET.indent(tree)
    body: bytes = ET.tostring(tree, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(ITEM[tag], item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("", str(value))  # characters XML 1.0 cannot carry at all
    return element


def errors(*items: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"code": code, "description": description} for code, description in items]


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the offset, in Türkiye's time (e.g. 2026-12-01T16:05:00+03:00)."""
    return moment.astimezone(ISTANBUL).isoformat(timespec="seconds") if moment else None


# ---------------------------------------------------------------- discovery and services


def discovery(base_url: str, production: bool) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "Belediye Bilgi İşlem Müdürlüğü; entegrasyon için API anahtarı başvurusu.",
        "key_service": "API anahtarını (kanal: open311) belediyenin Bilgi İşlem Müdürlüğü verir.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": CHANGESET,
                "type": "production" if production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _service(category: Category, directorate: Directorate) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or "",
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": "",
        "group": directorate.name,
    }


def services(uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    """One service per active category, grouped by its directorate."""
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(Category, Directorate)
            .join(Directorate, Directorate.code == Category.directorate_code)
            .where(Category.active.is_(True))
            .order_by(Directorate.name, Category.code)
        ).all()
        return [_service(category, directorate) for category, directorate in rows]


def service_definition(uow_factory: UnitOfWorkFactory, code: str) -> dict[str, Any] | None:
    """The active category's extra questions as the spec's attributes; None when no such service."""
    with uow_factory() as uow:
        category = uow.session.scalar(
            select(Category).where(Category.code == code.strip().upper(), Category.active.is_(True))
        )
        if category is None:
            return None
        return {
            "service_code": category.code,
            "attributes": [_attribute(d) for d in request_attributes.definitions(category.attributes)],
        }


def _attribute(d: request_attributes.Definition) -> dict[str, Any]:
    return {
        "variable": True,
        "code": d.code,
        "datatype": d.datatype.value,
        "required": d.required,
        "datatype_description": d.datatype_description or "",
        "order": d.order,
        "description": d.description,
        "values": [{"key": v.key, "name": v.name} for v in d.values],
    }


def service_exists(uow_factory: UnitOfWorkFactory, code: str) -> bool:
    with uow_factory() as uow:
        return (
            uow.session.scalar(
                select(Category.code).where(Category.code == code.strip().upper(), Category.active.is_(True))
            )
            is not None
        )


# ---------------------------------------------------------------- requests


def service_notice(tracking_code: str | None = None) -> str:
    """What the caller can expect. The tracking number only in the answer to the POST (to the
    integration that sent it, for the citizen), never in a public read."""
    if tracking_code:
        return (
            f"Talebiniz alındı. Takip numaranız {tracking_code}: durumunu belediyenin başvuru "
            "sayfasından bu numarayla izleyebilirsiniz; yanıt e-posta ya da SMS ile gelir."
        )
    return "Talep ilgili müdürlükçe işlenir; yanıt başvuru sahibine e-posta ya da SMS ile gönderilir."


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str] | None = None  # overrides everything else, as the spec says
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None


def period(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The spec's defaults: the last 90 days, or 90 days from the one end given. Raises ValueError
    for a span longer than 90 days or one that ends before it starts."""
    if start is None and end is None:
        return now - MAX_PERIOD, now
    if start is None:
        assert end is not None
        return end - MAX_PERIOD, end
    if end is None:
        return start, start + MAX_PERIOD
    if end < start:
        raise ValueError("end_date, start_date'ten önce olamaz")
    if end - start > MAX_PERIOD:
        raise ValueError("start_date ile end_date arası en çok 90 gün olabilir")
    return start, end


def _closed() -> Any:
    return or_(CitizenRequest.closed_at.is_not(None), CitizenRequest.merged_into_id.is_not(None))


def _public_requests() -> Select[CitizenRequest, str, str]:
    return (
        select(CitizenRequest, Category.name, Directorate.name)
        .outerjoin(Category, Category.code == CitizenRequest.category_code)
        .outerjoin(Directorate, Directorate.code == CitizenRequest.directorate_code)
    )


def find_requests(uow_factory: UnitOfWorkFactory, query: RequestQuery, now: datetime) -> list[dict[str, Any]]:
    statement = _public_requests()
    if query.ids is not None:
        ids = [i for i in (_uuid(text) for text in query.ids) if i is not None]
        statement = statement.where(CitizenRequest.id.in_(ids))
    else:
        start, end = period(query.start, query.end, now)
        statement = statement.where(CitizenRequest.received_at >= start, CitizenRequest.received_at <= end)
        if query.service_codes:
            statement = statement.where(
                CitizenRequest.category_code.in_([c.strip().upper() for c in query.service_codes])
            )
        if query.statuses and set(query.statuses) != {"open", "closed"}:
            statement = statement.where(_closed() if query.statuses == ["closed"] else ~_closed())
    statement = statement.order_by(CitizenRequest.received_at.desc(), CitizenRequest.id).limit(MAX_RESULTS)
    with uow_factory() as uow:
        return _documents(uow.session, uow.session.execute(statement).all())


def get_request(uow_factory: UnitOfWorkFactory, public_id: str) -> dict[str, Any] | None:
    request_id = _uuid(public_id)
    if request_id is None:
        return None
    with uow_factory() as uow:
        rows = uow.session.execute(_public_requests().where(CitizenRequest.id == request_id)).all()
        found = _documents(uow.session, rows)
        return found[0] if found else None


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def _documents(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    ids = [row[0].id for row in rows]
    notes = dict(
        session.execute(
            select(RequestEvent.request_id, RequestEvent.public_text)
            .where(RequestEvent.request_id.in_(ids), RequestEvent.public_text.is_not(None))
            .ext(distinct_on(RequestEvent.request_id))
            .order_by(RequestEvent.request_id, RequestEvent.at.desc(), RequestEvent.id.desc())
        ).all()
    )
    updated = dict(
        session.execute(
            select(RequestEvent.request_id, func.max(RequestEvent.at))
            .where(RequestEvent.request_id.in_(ids))
            .group_by(RequestEvent.request_id)
        ).all()
    )
    return [
        _request(request, service_name, agency, notes.get(request.id), updated.get(request.id))
        for request, service_name, agency in rows
    ]


def _request(
    r: CitizenRequest,
    service_name: str | None,
    agency: str | None,
    note: str | None,
    last_event: datetime | None,
) -> dict[str, Any]:
    closed = r.closed_at is not None or r.merged_into_id is not None
    updated = max(m for m in (r.received_at, last_event, r.closed_at) if m is not None)
    return {
        "service_request_id": str(r.id),
        "status": "closed" if closed else "open",
        # Another request's tracking number (a merge names the earlier one) stays out of public view.
        "status_notes": TRACKING_CODE.sub("önceki talep", note) if note else None,
        "service_name": service_name,
        "service_code": r.category_code,
        "description": None,  # withheld: free text may name people
        "agency_responsible": agency,
        "service_notice": service_notice(),
        "requested_datetime": iso(r.received_at),
        "updated_datetime": iso(r.closed_at if r.closed_at else updated),
        "expected_datetime": iso(r.due_at),
        "address": r.district,
        "lat": round(r.latitude, COORDINATE_DIGITS) if r.latitude is not None else None,
        "long": round(r.longitude, COORDINATE_DIGITS) if r.longitude is not None else None,
    }
