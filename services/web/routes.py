"""The citizen web page (web channel): report a request, track it, answer an information request,
object to the answer, rate the handling. Server-rendered Turkish pages that work without
JavaScript; every POST carries a signed form token (CSRF, bot check, one-time id), and every
page and POST counts against the caller address's rate limits."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from services import catalogue, evidence, objections, request_attributes, satisfaction, service_time
from services import citizen_requests as service
from services.api.rate_limit import TokenBuckets, caller_address
from services.api.requests import ObjectionIn, RatingIn, ReplyIn, intake_of
from services.bootstrap import Container
from services.config import Settings
from services.labels import REQUEST_TYPES
from services.models import Category, Directorate, SatisfactionRating
from services.web import pages, report
from services.web.forms import COOKIE, BotCheckFailed, FormExpired, FormRefused, FormTokens, new_cookie

NOT_FOUND = "Bu takip numarasıyla bir talep bulunamadı."
BOT_CHECK_FAILED = (
    "Doğrulama sorusunun yanıtı doğru değil; soruyu yeniden yanıtlayın (rakamla ya da yazıyla)."
)
EXPIRED = "Formun süresi dolmuş; bilgileriniz korunarak yenilendi, lütfen yeniden gönderin."


@dataclass
class WebState:
    tokens: FormTokens


def _state(request: Request, settings: Settings) -> WebState:
    state: WebState | None = getattr(request.app.state, "citizen_page", None)
    if state is None:
        state = WebState(
            tokens=FormTokens(
                settings.web_secret.get_secret_value(),
                difficulty=settings.web_pow_difficulty,
                max_age_seconds=settings.web_form_minutes * 60,
            ),
        )
        request.app.state.citizen_page = state
    return state


class PageRoute(APIRoute):
    """Every page: the rate limit first (a Turkish 429 page with Retry-After), the visitor's
    cookie for the form tokens, and refused forms as Turkish error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            container: Container = request.app.state.container
            settings = container.settings
            address = caller_address(request, settings.trusted_proxies)
            posting = request.method == "POST"
            wait = await TokenBuckets(container.uow).take(
                f"web-{'post' if posting else 'read'}:{address}",
                settings.public_posts_per_minute if posting else settings.public_reads_per_minute,
            )
            if wait:
                return pages.render(
                    settings,
                    "error.html",
                    {
                        "title": "Çok fazla istek",
                        "message": "Kısa sürede çok fazla istek gönderildi. "
                        f"Lütfen {wait} saniye sonra yeniden deneyin.",
                    },
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
            cookie = request.cookies.get(COOKIE)
            fresh = None if cookie or posting else new_cookie()
            request.state.visitor = cookie or fresh
            try:
                response = await original(request)
            except FormRefused:
                response = pages.render(
                    settings,
                    "error.html",
                    {
                        "title": "Form doğrulanamadı",
                        "message": "Bu form bu tarayıcıda açılmış bir formumuz olarak doğrulanamadı "
                        "(çerezler kapalı olabilir ya da form başka bir sayfadan gönderilmiş olabilir). "
                        "Lütfen sayfayı yeniden açıp formu yeniden doldurun.",
                    },
                    status_code=403,
                )
            if fresh:
                response.set_cookie(
                    COOKIE,
                    fresh,
                    httponly=True,
                    samesite="strict",
                    secure=settings.environment == "production",
                    path="/",
                )
            return response

        return handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _tokens(request: Request) -> FormTokens:
    return _state(request, _container(request).settings).tokens


def _visitor(request: Request) -> str:
    return str(request.state.visitor or "")


# ---------------------------------------------------------------- pages


@router.get("/")
async def home(request: Request) -> Response:
    return pages.render(_container(request).settings, "home.html", {})


@router.get("/kvkk")
async def kvkk_notice(request: Request) -> Response:
    return pages.render(_container(request).settings, "kvkk.html", {})


@router.get("/basvuru")
async def report_page(request: Request) -> Response:
    container = _container(request)
    code = request.query_params.get("kategori", "").strip()[:40]
    if code:
        found = await asyncio.to_thread(_category, container, code)
        if found is not None:
            form = report.ReportForm(values={"durum_bildirimi": "evet"})
            return _report_form(request, found, form)
        return await _category_list(request, "", error="Bu kategori bulunamadı; listeden bir konu seçin.")
    return await _category_list(request, request.query_params.get("ara", "").strip()[:100])


@router.post("/basvuru")
async def report_submit(request: Request) -> Response:
    container, settings, tokens = _container(request), _container(request).settings, _tokens(request)
    form = await request.form(max_files=1, max_fields=100)
    found = await asyncio.to_thread(_category, container, str(form.get("kategori") or "")[:40])
    if found is None:
        return await _category_list(request, "", error="Bu kategori bulunamadı; listeden bir konu seçin.")
    category, _, definitions = found
    entered = report.read(form, definitions)
    reference, verified, notice = None, False, None
    try:
        checked = tokens.check(
            str(form.get("form_token") or ""),
            request.cookies.get(COOKIE),
            "basvuru",
            nonce=str(form.get("pow_nonce") or ""),
            answer=str(form.get("dogrulama") or ""),
        )
        reference, verified = checked.reference, checked.verified
    except FormExpired:
        notice = EXPIRED
    except BotCheckFailed:
        entered.error("dogrulama", BOT_CHECK_FAILED)
    body = report.intake(entered, category=category.code, reference=reference or "-")
    report.check_answers(entered, definitions)
    if entered.values["kvkk"] != "evet":
        entered.error("kvkk", "Başvurunuzu gönderebilmemiz için aydınlatma metnini okuduğunuzu onaylayın.")
    photo = await _photo(form.get("fotograf"), settings, entered)
    if notice or entered.errors or body is None or reference is None:
        return _report_form(
            request, found, entered, reference=reference, verified=verified, notice=notice, status_code=422
        )
    try:
        answers = await asyncio.to_thread(
            catalogue.check_answers, container.uow, category.code, body.attributes
        )
    except request_attributes.AnswerInvalid as wrong:
        entered.error(f"soru-{wrong.code}", wrong.message)
        return _report_form(request, found, entered, reference=reference, verified=True, status_code=422)
    intake = intake_of(body, attributes=answers, photos=(photo,) if photo else ())
    # The same reference again (back button, double click) returns the request made the first time.
    request_row, _ = await asyncio.to_thread(service.submit, container.uow, intake)
    due = await asyncio.to_thread(_expected_date, container, request_row.tracking_code)
    return pages.render(
        settings,
        "success.html",
        {
            "tracking": request_row.tracking_code,
            "due": due,
            "answer_channel": body.preferred_answer_channel.value,
        },
    )


@router.get("/takip")
async def track_page(request: Request) -> Response:
    return _track_form(request)


@router.post("/takip")
async def track_lookup(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    try:
        _tokens(request).check(
            str(form.get("form_token") or ""), request.cookies.get(COOKIE), "takip", bot_check=False
        )
    except FormExpired:
        return _track_form(request, error=EXPIRED, status_code=422)
    return await _status_page(request, str(form.get("takip_no") or ""))


@router.post("/takip/yanit")
async def track_reply(request: Request) -> Response:
    return await _action(request, "yanit")


@router.post("/takip/itiraz")
async def track_objection(request: Request) -> Response:
    return await _action(request, "itiraz")


@router.post("/takip/degerlendirme")
async def track_rating(request: Request) -> Response:
    return await _action(request, "degerlendirme")


# ---------------------------------------------------------------- the report form


def _category(container: Container, code: str) -> tuple[Category, Directorate, list[Any]] | None:
    with container.uow() as uow:
        found = catalogue.active_category(uow.session, code)
        if found is None:
            return None
        definitions = request_attributes.definitions(found[0].attributes)
        uow.session.expunge_all()
        return found[0], found[1], definitions


def _fold(text: str) -> str:
    """Turkish-aware, accent-blind lower case: "Çukur", "cukur" and "ÇUKUR" meet."""
    lowered = text.replace("I", "ı").replace("İ", "i").lower().replace("ı", "i")
    return "".join(c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c))


def _groups(container: Container, search: str) -> list[tuple[Directorate, list[Category]]]:
    with container.uow() as uow:
        rows = uow.session.execute(
            select(Category, Directorate)
            .join(Directorate, Directorate.code == Category.directorate_code)
            .where(Category.active.is_(True))
            .order_by(Directorate.name, Category.name)
        ).all()
        uow.session.expunge_all()
    words = _fold(search).split()
    groups: dict[str, tuple[Directorate, list[Category]]] = {}
    for category, directorate in rows:
        haystack = _fold(f"{category.name} {category.description or ''} {directorate.name}")
        if all(word in haystack for word in words):
            groups.setdefault(directorate.code, (directorate, []))[1].append(category)
    return list(groups.values())


async def _category_list(request: Request, search: str, *, error: str | None = None) -> Response:
    container = _container(request)
    groups = await asyncio.to_thread(_groups, container, search)
    return pages.render(
        container.settings,
        "categories.html",
        {"groups": groups, "search": search, "error": error},
        status_code=404 if error else 200,
    )


def _report_form(
    request: Request,
    found: tuple[Category, Directorate, list[Any]],
    entered: report.ReportForm,
    *,
    reference: str | None = None,
    verified: bool = False,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = _container(request).settings
    category, directorate, definitions = found
    issued = _tokens(request).issue(_visitor(request), "basvuru", reference=reference, verified=verified)
    labels = dict(report.FIELDS) | {f"soru-{d.code}": d.description for d in definitions}
    order = list(report.FIELDS)
    order[order.index("fotograf") : order.index("fotograf")] = [f"soru-{d.code}" for d in definitions]
    errors = {name: entered.errors[name] for name in order if name in entered.errors}
    return pages.render(
        settings,
        "report.html",
        {
            "category": category,
            "directorate": directorate,
            "definitions": definitions,
            "values": entered.values,
            "answers": entered.answers,
            "errors": errors,
            "labels": labels,
            "types": REQUEST_TYPES,
            "answer_channels": report.ANSWER_CHANNELS,
            "form": issued,
            "notice": notice,
            "tile_url": settings.map_tile_url,
            "attribution": settings.map_attribution,
            "photo_types": ",".join(settings.photo_allowed_types),
            "photo_size": report.size_text(settings.photo_max_bytes),
        },
        status_code=status_code,
    )


async def _photo(upload: Any, settings: Settings, entered: report.ReportForm) -> service.Photo | None:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(settings.photo_max_bytes + 1)
    content_type = upload.content_type or "application/octet-stream"
    try:
        evidence.check(
            evidence.Upload(
                file_name=upload.filename, content_type=content_type, data=data, uploaded_by="vatandas"
            ),
            max_bytes=settings.photo_max_bytes,
            allowed_types=settings.photo_allowed_types,
        )
    except evidence.EvidenceRejected as rejected:
        entered.error("fotograf", report.photo_message(rejected, settings.photo_max_bytes))
        return None
    return service.Photo(
        file_name=upload.filename, content_type=content_type.split(";")[0].strip(), data=data
    )


def _expected_date(container: Container, tracking: str) -> datetime:
    """As the receipt (`alindi`) says it: the category's default priority from the receipt time."""
    request, _ = service.get_by_tracking(container.uow, tracking)
    with container.uow() as uow:
        found = catalogue.active_category(uow.session, request.category_code)
        if found is not None:
            return service_time.deadline(request.received_at, found[0], found[0].default_priority)
        return service_time.deadline(request.received_at, None, request.priority)


# ---------------------------------------------------------------- tracking


def _track_form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    issued = _tokens(request).issue(_visitor(request), "takip")
    return pages.render(
        _container(request).settings,
        "track.html",
        {"form": issued, "error": error},
        status_code=status_code,
    )


@dataclass(frozen=True)
class Looked:
    request: Any
    events: list[Any]
    rated: bool
    question: str | None  # the directorate's latest question, when one is awaited


def _look_up(container: Container, tracking: str) -> Looked | None:
    # Every number, well-formed or not, costs the same one query: no timing tells them apart.
    try:
        request, events = service.get_by_tracking(container.uow, tracking[:40] or "-")
    except service.RequestNotFound:
        return None
    with container.uow() as uow:
        rated = uow.session.get(SatisfactionRating, request.id) is not None
    return Looked(
        request=request,
        events=[e for e in events if e.public_text],
        rated=rated,
        question=service.awaited_question(request, events),
    )


async def _status_page(
    request: Request,
    tracking: str,
    *,
    message: str | None = None,
    refusal: str | None = None,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    verified: bool = False,
) -> Response:
    container, tokens = _container(request), _tokens(request)
    tracking = tracking.strip().upper()
    looked = await asyncio.to_thread(_look_up, container, tracking)
    if looked is None:
        return _track_form(request, error=NOT_FOUND, status_code=404)
    r = looked.request
    now = datetime.now(UTC)
    actions = []
    if r.status == "bilgi-bekleniyor":
        actions.append("yanit")
    if r.status == "kapatildi" and r.objection_deadline is not None and now <= r.objection_deadline:
        actions.append("itiraz")
    if r.closed_at is not None and not looked.rated:
        actions.append("degerlendirme")
    forms = {
        kind: tokens.issue(
            _visitor(request), kind, reference=r.tracking_code, verified=verified and kind == failed
        )
        for kind in actions
    }
    return pages.render(
        container.settings,
        "status.html",
        {
            "r": r,
            "events": looked.events,
            "question": looked.question,
            "forms": forms,
            "message": message,
            "refusal": refusal,
            "failed": failed,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=422 if errors else 200,
    )


ACTION_FIELDS = {"yanit": ("metin",), "itiraz": ("gerekce",), "degerlendirme": ("puan", "yorum")}
DONE = {
    "yanit": "Yanıtınız ilgili müdürlüğe iletildi; teşekkür ederiz.",
    "itiraz": "İtirazınız alındı; Halkla İlişkiler Müdürlüğü değerlendirip size bildirecek.",
    "degerlendirme": "Değerlendirmeniz kaydedildi; teşekkür ederiz.",
}


async def _action(request: Request, kind: str) -> Response:
    container, tokens = _container(request), _tokens(request)
    form = await request.form(max_files=0, max_fields=20)
    tracking = str(form.get("takip_no") or "").strip().upper()[:40]
    values = {name: str(form.get(name) or "").strip() for name in ACTION_FIELDS[kind]}
    errors: dict[str, str] = {}
    verified = False
    try:
        checked = tokens.check(
            str(form.get("form_token") or ""),
            request.cookies.get(COOKIE),
            kind,
            nonce=str(form.get("pow_nonce") or ""),
            answer=str(form.get("dogrulama") or ""),
        )
    except FormExpired:
        return await _status_page(request, tracking, refusal=EXPIRED, failed=kind, values=values)
    except BotCheckFailed:
        checked = None
        errors[f"{kind}-dogrulama"] = BOT_CHECK_FAILED
    if checked is not None:
        if checked.reference != tracking:
            raise FormRefused("a form of another request")
        if not tokens.spend(checked.challenge):
            return await _status_page(
                request, tracking, refusal="Bu form zaten gönderildi; aynı form ikinci kez işlenmez."
            )
        verified = True
    body = _action_body(kind, values, errors)
    if errors or body is None:
        return await _status_page(
            request, tracking, failed=kind, errors=errors, values=values, verified=verified
        )
    try:
        await asyncio.to_thread(_perform, container, kind, tracking, body)
    except service.RequestNotFound:
        return _track_form(request, error=NOT_FOUND, status_code=404)
    except service.ReplyNotExpected:
        return await _status_page(
            request, tracking, refusal="Bu talep için şu anda sizden bilgi beklenmiyor."
        )
    except (objections.ObjectionRefused, satisfaction.RatingRefused) as refusal:
        return await _status_page(request, tracking, refusal=str(refusal))
    return await _status_page(request, tracking, message=DONE[kind])


def _action_body(kind: str, values: dict[str, str], errors: dict[str, str]) -> Any:
    """The JSON API's models check the text (one set of rules); their errors in Turkish."""
    try:
        if kind == "yanit":
            return ReplyIn(text=values["metin"])
        if kind == "itiraz":
            return ObjectionIn(reason=values["gerekce"])
        score = int(values["puan"]) if values["puan"].isdigit() else 0
        return RatingIn(score=score, comment=values["yorum"] or None)
    except ValidationError as invalid:
        for problem in invalid.errors():
            field = str(problem["loc"][0]) if problem["loc"] else ""
            if kind == "yanit":
                errors["yanit-metin"] = (
                    "Yanıtınızı yazın."
                    if problem["type"] == "string_too_short"
                    else "Yanıt en çok 4000 karakter olabilir."
                )
            elif kind == "itiraz":
                errors["itiraz-gerekce"] = (
                    "İtirazınızın gerekçesini en az 10 karakterle yazın."
                    if problem["type"] == "string_too_short"
                    else "Gerekçe en çok 4000 karakter olabilir."
                )
            elif field == "score":
                errors["degerlendirme-puan"] = "1 ile 5 arasında bir puan seçin."
            else:
                errors["degerlendirme-yorum"] = "Yorum en çok 2000 karakter olabilir."
        return None


def _perform(container: Container, kind: str, tracking: str, body: Any) -> None:
    if kind == "yanit":
        service.accept_reply(container.uow, tracking_code=tracking, text=body.text)
    elif kind == "itiraz":
        objections.file_objection(container.uow, tracking_code=tracking, reason=body.reason)
    else:
        satisfaction.rate(container.uow, tracking_code=tracking, score=body.score, comment=body.comment)
