"""Open311 GeoReport v2 under /open311/v2/: discovery, services, service definitions, POST requests
(form-encoded, api_key = a key of our `open311` channel) and the public reads of requests, each as
.json and .xml. Every refusal is in the spec's error format (FastAPI's own 422s included).

A request posted here is the same request as any other: the JSON intake's models check the
citizen and the place, the catalogue checks the attribute answers, `citizen_requests.submit`
stores it (idempotent by the channel reference) and the engine routes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.routing import Match

from services import audit, catalogue, request_attributes
from services import citizen_requests as service
from services import open311 as spec
from services.api import schemas
from services.api.rate_limit import TokenBuckets, caller_address
from services.api.requests import Camel, Citizen, IntakeIn, Location, contact_of
from services.bootstrap import Container
from services.working_days import ISTANBUL

CHANNEL = "open311"
REQUEST_TYPE = "istek"  # Open311 knows no request/complaint/suggestion; a report is a request
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,40})\](\[\])?$")
IGNORED = {"device_id", "account_id", "media_url", "address_id"}  # accepted, not stored (docs/open311.md)


class Open311Error(Exception):
    """A refusal in the spec's format; `status` is the HTTP status (400, 403, 404, 429)."""

    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status, self.descriptions, self.headers = status, descriptions, headers or {}


def _format_of(path: str) -> spec.Format:
    # XML is the spec's required format: anything not asking for JSON gets XML.
    return "json" if path.endswith(".json") else "xml"


def answer(document: Any, root: str, fmt: spec.Format, status: int = 200, **headers: str) -> Response:
    return Response(spec.render(document, root, fmt), status, headers, media_type=spec.FORMATS[fmt])


def error_response(request: Request, error: Open311Error) -> Response:
    document = spec.errors(*((error.status, d) for d in error.descriptions))
    return answer(document, "errors", _format_of(request.url.path), error.status, **error.headers)


def _validation_descriptions(error: RequestValidationError | ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'path', 'body'))}: {e['msg']}"
        for e in error.errors()
    ]


class SpecRoute(APIRoute):
    """Turns every refusal on these paths into the spec's error document."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as error:
                return error_response(request, error)
            except RequestValidationError as invalid:
                return error_response(request, Open311Error(400, *_validation_descriptions(invalid)))
            except HTTPException as refused:
                status = refused.status_code if refused.status_code in (403, 404, 429) else 400
                return error_response(
                    request, Open311Error(status, str(refused.detail), headers=dict(refused.headers or {}))
                )

        return guarded


router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"], route_class=SpecRoute)


def _format(fmt: str) -> spec.Format:
    if fmt not in spec.FORMATS:
        raise Open311Error(404, f"Biçim yok: .{fmt} (yalnızca .xml ve .json)")
    return "json" if fmt == "json" else "xml"


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _optional(value: str | None) -> str | None:
    """The spec's optional argument: empty is the same as not given."""
    return value.strip() or None if value is not None else None


def _check_jurisdiction(request: Request, given: str | None) -> None:
    ours = _container(request).settings.open311_jurisdiction_id
    if ours and _optional(given) and _optional(given) != ours:
        raise Open311Error(404, f"jurisdiction_id bulunamadı; bu uç nokta yalnızca '{ours}' için.")


async def _read_limit(request: Request) -> None:
    """GETs are public: each caller address has its own bucket, shared by every API process."""
    container = _container(request)
    settings = container.settings
    address = caller_address(request, settings.trusted_proxies)
    wait = await TokenBuckets(container.uow).take(f"open311-read:{address}", settings.public_reads_per_minute)
    if wait:
        raise Open311Error(
            429,
            f"Bir adresten dakikada en çok {settings.public_reads_per_minute} okuma; "
            f"{wait} saniye sonra yeniden deneyin.",
            headers={"Retry-After": str(wait)},
        )


Jurisdiction = Annotated[str | None, Query(max_length=200)]


@router.get("/discovery.{fmt}", summary="Service discovery")
async def discovery(fmt: str, request: Request) -> Response:
    await _read_limit(request)
    settings = _container(request).settings
    document = spec.discovery(settings.public_base_url, settings.environment == "production")
    return answer(document, "discovery", _format(fmt))


@router.get("/services.{fmt}", summary="GET Service List: one service per active category")
async def service_list(fmt: str, request: Request, jurisdiction_id: Jurisdiction = None) -> Response:
    await _read_limit(request)
    chosen = _format(fmt)
    _check_jurisdiction(request, jurisdiction_id)
    document = await asyncio.to_thread(spec.services, _container(request).uow)
    return answer(document, "services", chosen)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition: the category's attributes")
async def service_definition(
    service_code: str, fmt: str, request: Request, jurisdiction_id: Jurisdiction = None
) -> Response:
    await _read_limit(request)
    chosen = _format(fmt)
    _check_jurisdiction(request, jurisdiction_id)
    document = await asyncio.to_thread(spec.service_definition, _container(request).uow, service_code)
    if document is None:
        raise Open311Error(404, f"service_code bulunamadı: {service_code}")
    return answer(document, "service_definition", chosen)


def _when(name: str, value: str | None) -> datetime | None:
    text = _optional(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(
            400, f"{name}: W3C tarih biçiminde olmalı, ör. 2026-12-01T00:00:00+03:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ISTANBUL)


def _list(value: str | None) -> list[str] | None:
    text = _optional(value)
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


@router.get("/requests.{fmt}", summary="GET Service Requests (the last 90 days, at most 1000, by default)")
async def service_requests(
    fmt: str,
    request: Request,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(max_length=40_000)] = None,
    service_code: Annotated[str | None, Query(max_length=4000)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    await _read_limit(request)
    chosen = _format(fmt)
    _check_jurisdiction(request, jurisdiction_id)
    statuses = _list(status)
    if statuses and not set(statuses) <= {"open", "closed"}:
        raise Open311Error(400, "status: open, closed ya da ikisi (virgülle) olmalı")
    ids = _list(service_request_id)
    if ids is not None and len(ids) > spec.MAX_RESULTS:
        raise Open311Error(400, f"service_request_id: en çok {spec.MAX_RESULTS} numara")
    query = spec.RequestQuery(
        ids=ids,
        service_codes=_list(service_code),
        start=_when("start_date", start_date),
        end=_when("end_date", end_date),
        statuses=statuses,
    )
    try:
        spec.period(query.start, query.end, datetime.now(ISTANBUL))
    except ValueError as wrong:
        raise Open311Error(400, str(wrong)) from None
    document = await asyncio.to_thread(
        spec.find_requests, _container(request).uow, query, datetime.now(ISTANBUL)
    )
    return answer(document, "service_requests", chosen)


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
async def one_service_request(
    service_request_id: str, fmt: str, request: Request, jurisdiction_id: Jurisdiction = None
) -> Response:
    await _read_limit(request)
    chosen = _format(fmt)
    _check_jurisdiction(request, jurisdiction_id)
    document = await asyncio.to_thread(spec.get_request, _container(request).uow, service_request_id)
    if document is None:
        raise Open311Error(404, f"service_request_id bulunamadı: {service_request_id}")
    return answer([document], "service_requests", chosen)


# ---------------------------------------------------------------- POST requests


class Report(Camel):
    """What a form carries, checked by the JSON intake's own models and limits."""

    citizen: Citizen
    location: Location
    description: Annotated[str, IntakeIn.model_fields["description"]]


# Our field names → the form's, for the error descriptions.
FORM_NAMES = {
    "citizen.full_name": "first_name/last_name",
    "citizen.phone": "phone",
    "citizen.email": "email",
    "location": "lat/long/address_string",
    "location.address": "address_string",
    "location.latitude": "lat",
    "location.longitude": "long",
    "description": "description",
}
MESSAGES = {
    "first_name/last_name": "ad ve soyad birlikte 2–120 karakter olmalı",
    "phone": "Türkiye'de bir cep telefonu numarası olmalı (05XX XXX XX XX)",
    "email": "geçerli bir e-posta adresi olmalı",
    "lat/long/address_string": "lat ile long birlikte ya da address_string verilmeli",
    "address_string": "3–500 karakter olmalı",
    "lat": "Türkiye içinde bir enlem olmalı (WGS84, 35–43)",
    "long": "Türkiye içinde bir boylam olmalı (WGS84, 25–45)",
    "description": "10–4000 karakter olmalı",
}


def _report_errors(invalid: ValidationError) -> list[str]:
    found = []
    for e in invalid.errors():
        field = FORM_NAMES.get(".".join(str(p) for p in e["loc"] if not str(p).isdigit()), "form")
        message = MESSAGES.get(field, "geçersiz değer")
        if "control characters" in e["msg"]:
            message = "denetim karakterleri kullanılamaz"
        found.append(f"{field}: {message}")
    return list(dict.fromkeys(found))


async def _form(request: Request) -> list[tuple[str, str]]:
    try:
        form = await request.form(max_files=0, max_fields=200)
    except HTTPException:
        raise Open311Error(400, "Gövde application/x-www-form-urlencoded biçiminde olmalı.") from None
    return [(name, value) for name, value in form.multi_items() if not isinstance(value, UploadFile)]


def _attributes(fields: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    answers: dict[str, str | list[str]] = {}
    for name, value in fields:
        match = ATTRIBUTE.match(name)
        if not match:
            continue
        code, many = match.group(1), match.group(2)
        before = answers.get(code)
        if many or before is not None:
            answers[code] = [*([before] if isinstance(before, str) else before or []), value]
        else:
            answers[code] = value
    return answers


def _coordinate(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise Open311Error(400, f"{name}: ondalık bir sayı olmalı (WGS84)") from None
    if not math.isfinite(number):
        raise Open311Error(400, f"{name}: ondalık bir sayı olmalı (WGS84)")
    return number


def _channel_reference(key_name: str, fields: list[tuple[str, str]], idempotency_key: str | None) -> str:
    """The Idempotency-Key, else the normalised form: either way scoped by the key, so two
    integrations never share a reference and a retried identical form is the same request."""
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 200 or schemas.has_control_characters(idempotency_key):
            raise Open311Error(400, "Idempotency-Key: 1–200 karakter, denetim karakteri olmadan")
        material = ["idempotency-key", key_name, idempotency_key]
    else:
        material = ["form", key_name, *sorted(f"{n}={v.strip()}" for n, v in fields if n != "api_key")]
    return hashlib.sha256("\n".join(material).encode()).hexdigest()


async def _caller(request: Request, secret: str | None) -> str:
    """The key's name; 403 for a missing, unknown or other channel's key, 429 over its limit."""
    if not secret:
        raise Open311Error(403, "api_key eksik: talep göndermek için belediyenin verdiği anahtar gerekli.")
    try:
        principal = await request.app.state.channel_keys.principal(request, secret)
    except HTTPException as refused:
        if refused.status_code == 429:
            raise Open311Error(429, str(refused.detail), headers=dict(refused.headers or {})) from None
        raise Open311Error(403, "api_key geçersiz ya da iptal edilmiş.") from None
    if principal.channel != CHANNEL:
        raise Open311Error(403, "Bu api_key Open311 kanalının değil.")
    audit.set_actor(principal.actor)  # the request's audit trail names the key
    return str(principal.username)


@router.post(
    "/requests.{fmt}",
    summary="POST Service Request (application/x-www-form-urlencoded, api_key required)",
    status_code=201,
    responses={200: {"description": "the same form (or Idempotency-Key) again: the request made before"}},
)
async def post_service_request(fmt: str, request: Request) -> Response:
    chosen = _format(fmt)
    fields = await _form(request)
    first: dict[str, str] = {}
    for name, value in fields:
        first.setdefault(name, value)

    def field(name: str) -> str | None:
        return _optional(first.get(name))

    key_name = await _caller(request, field("api_key") or _optional(request.query_params.get("api_key")))
    _check_jurisdiction(request, field("jurisdiction_id") or request.query_params.get("jurisdiction_id"))
    code = field("service_code")
    if code is None:
        raise Open311Error(400, "service_code eksik.")
    uow = _container(request).uow
    if not await asyncio.to_thread(spec.service_exists, uow, code):
        raise Open311Error(404, f"service_code bulunamadı: {code}")
    email, phone = field("email"), field("phone")
    name = " ".join(part for part in (field("first_name"), field("last_name")) if part)
    try:
        report = Report.model_validate(
            {
                "citizen": {"full_name": name, "phone": phone, "email": email},
                "location": {
                    "address": field("address_string"),
                    "latitude": _coordinate("lat", field("lat")),
                    "longitude": _coordinate("long", field("long")),
                },
                "description": field("description") or "",
            }
        )
    except ValidationError as invalid:
        raise Open311Error(400, *_report_errors(invalid)) from None
    if email is None and phone is None:
        raise Open311Error(400, "email ya da phone gerekli: yanıt e-posta ya da SMS ile gönderilir.")
    try:
        answers = await asyncio.to_thread(catalogue.check_answers, uow, code, _attributes(fields))
    except request_attributes.AnswerInvalid as wrong:
        raise Open311Error(400, f"attribute[{wrong.code}]: {wrong.message}") from None
    intake = service.Intake(
        channel=CHANNEL,
        channel_reference=_channel_reference(key_name, fields, request.headers.get("idempotency-key")),
        request_type=REQUEST_TYPE,
        category_code=code,
        description=report.description,
        latitude=report.location.latitude,
        longitude=report.location.longitude,
        contact=contact_of(
            report.citizen, report.location, "eposta" if report.citizen.email else "sms", wants_updates=True
        ),
        attributes=answers,
    )
    stored, created = await asyncio.to_thread(service.submit, uow, intake)
    document = [
        {
            "service_request_id": str(stored.id),
            "service_notice": spec.service_notice(stored.tracking_code),
            "account_id": None,
        }
    ]
    return answer(document, "service_requests", chosen, 201 if created else 200)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], include_in_schema=False
)
async def not_in_the_spec(rest: str, request: Request) -> Response:
    """Anything else under /open311/v2/: the spec's 404 (or 400 for a method a path does not take)."""
    for route in router.routes:
        if route is not request.scope.get("route") and route.matches(request.scope)[0] is Match.PARTIAL:
            raise Open311Error(400, f"{request.method} bu adreste kullanılamaz.")
    raise Open311Error(404, f"Open311 GeoReport v2'de böyle bir kaynak yok: /{rest}")
