"""The staff pages (/personel): Turkish, server-rendered, signed in by OpenID Connect.

Sign-in: `/personel/giris` sends the browser to the provider (authorization code + PKCE, state,
nonce; services/web/oidc.py), `/personel/giris/donus` takes the code back and opens a server-side
session (services/staff_sessions.py). Every other page needs that session; every POST carries
the session's CSRF token (form field `csrf`, or the `X-CSRF-Token` header of the page's own
script). What a member of staff may see is decided exactly as in the API: the same Principal,
and the API's own checks and route functions (services/api/difs.py, requests.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from services import audit, evidence, staff_sessions
from services import citizen_requests as requests_service
from services.access import Forbidden, Permission, Principal
from services.api import difs as difs_api
from services.api import requests as requests_api
from services.api.protection import STAFF_FILES_AT_ONCE
from services.api.security import TokenValidator
from services.bootstrap import Container
from services.config import Settings
from services.models import Category, Directorate, Office
from services.quality_records import RecordNotFound
from services.web import pages
from services.web.oidc import LogoutTokenRefused, OidcClient, Pending, SignInFailed
from services.web.report import size_text
from services.working_days import ISTANBUL

log = logging.getLogger("web.staff")
PREFIX = "/personel"
COOKIE = "bht_personel"
LOGIN_COOKIE = "bht_personel_giris"
LOGIN_SECONDS = 600
# Without a session: the sign-in, its return, and the provider's back-channel logout.
PUBLIC = {f"{PREFIX}/giris", f"{PREFIX}/giris/donus", f"{PREFIX}/cikis/arka-kanal"}
PAGE_SIZE = 20

ROLE_LABELS = {
    "operator": "Çağrı merkezi operatörü",
    "directorate-staff": "Müdürlük personeli",
    "director": "Müdür",
    "public-relations": "Halkla İlişkiler",
    "ims-office": "EYS Şefliği",
    "administrator": "Sistem yöneticisi",
}
PERMISSION_LABELS = {
    "requests:read": "talepleri görme",
    "requests:read-all": "bütün müdürlüklerin taleplerini görme",
    "requests:contact": "vatandaşın iletişim bilgilerini görme",
    "difs:read": "DİF'leri görme",
    "difs:read-all": "bütün müdürlüklerin DİF'lerini görme",
    "evidence:write": "kanıt yükleme",
    "monitoring:read": "izleme sayfasını görme",
    "monitoring:read-all": "bütün müdürlüklerin izleme göstergelerini görme",
}
DIF_STATUS = {
    "acik": "Açık, eylem planı bekleniyor",
    "uygulamada": "Eylemler uygulanıyor",
    "mudur-onayinda": "Müdür onayında",
    "eys-dogrulamasinda": "EYS doğrulamasında",
    "kapatildi": "Kapatıldı",
}
ACTION_STATUS = {"acik": "Açık", "tamamlandi": "Tamamlandı", "geri-gonderildi": "Geri gönderildi"}
TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG resim",
    "image/png": "PNG resim",
    "text/plain": "metin (UTF-8)",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (DOCX)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (XLSX)",
}
CHANNELS = {c.value: c.value for c in requests_api.Channel}


@dataclass
class StaffState:
    oidc: OidcClient
    pending: URLSafeTimedSerializer


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _state(request: Request) -> StaffState:
    return state_of(request.app)


def state_of(app: Any) -> StaffState:
    """The pages' OIDC client and sign-in signer, made on first use (after start-up)."""
    state: StaffState | None = getattr(app.state, "staff_pages", None)
    if state is None:
        settings = app.state.container.settings
        state = StaffState(
            oidc=OidcClient(settings),
            pending=URLSafeTimedSerializer(settings.web_secret.get_secret_value(), salt="personel-giris"),
        )
        app.state.staff_pages = state
    return state


def limits(settings: Settings) -> staff_sessions.Limits:
    return staff_sessions.Limits(
        idle=timedelta(minutes=settings.staff_session_idle_minutes),
        absolute=timedelta(hours=settings.staff_session_max_hours),
    )


def _signed_in(request: Request) -> staff_sessions.SignedIn:
    signed: staff_sessions.SignedIn = request.state.staff
    return signed


def _caller(request: Request) -> Principal:
    return _signed_in(request).principal


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> Response:
    signed = getattr(request.state, "staff", None)
    values = {
        "signed_in": signed,
        "role_labels": ROLE_LABELS,
        "csrf": signed.csrf_token if signed else "",
        "can": (lambda p: p in signed.principal.permissions) if signed else (lambda p: False),
        **context,
    }
    settings = _container(request).settings
    response = pages.render(settings, f"staff/{template}", values, status_code=status_code)
    response.headers["Content-Security-Policy"] = content_security_policy(settings)
    return response


def content_security_policy(settings: Settings) -> str:
    """The citizen page's policy, with the provider's origin as a form target: logout is a POST
    whose answer redirects to the provider's end_session_endpoint, and form-action covers that."""
    parts = urlsplit(settings.oidc_issuer)
    provider = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return pages.content_security_policy(settings).replace(
        "form-action 'self'", f"form-action 'self'{provider}"
    )


def error_page(
    request: Request, status_code: int, title: str, message: str, *, permission: str | None = None
) -> Response:
    context = {
        "title": title,
        "message": message,
        "permission": permission,
        "permission_label": PERMISSION_LABELS.get(permission or ""),
    }
    return render(request, "error.html", context, status_code=status_code)


def _cookie_options(settings: Settings) -> dict[str, Any]:
    # Lax, not Strict: the provider's redirect back to us is a cross-site top-level GET.
    return {"httponly": True, "samesite": "lax", "secure": settings.environment == "production"}


class StaffRoute(APIRoute):
    """Every staff page: the session (else to the sign-in), the audit actor, the CSRF check of
    every POST, and refusals as Turkish pages (403 naming the missing permission)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        public = self.path in PUBLIC

        async def handler(request: Request) -> Response:
            try:
                return await guarded(request)
            except Forbidden as error:
                return error_page(
                    request, 403, "Bu işlem için yetkiniz yok", error.reason, permission=error.permission
                )
            except StarletteHTTPException as error:  # FastAPI's, and the form parser's
                if error.status_code == 404:
                    return error_page(request, 404, "Bulunamadı", str(error.detail))
                if error.status_code == 400 and "files" in str(error.detail):  # the form parser's limit
                    message = f"Bir seferde en çok {STAFF_FILES_AT_ONCE} dosya gönderilebilir."
                    return error_page(request, 400, "Çok fazla dosya", message)
                raise

        async def guarded(request: Request) -> Response:
            container = _container(request)
            if not public:
                session_id = request.cookies.get(COOKIE)
                signed = await asyncio.to_thread(
                    staff_sessions.resume, container.uow, session_id, limits(container.settings)
                )
                if signed is None:
                    return _to_sign_in(request, container.settings, had_session=bool(session_id))
                request.state.staff = signed
                audit.set_actor(signed.principal.actor)
                if request.method == "POST" and not await _csrf_ok(request, str(session_id)):
                    return error_page(
                        request,
                        403,
                        "Form doğrulanamadı",
                        "Bu form oturumunuzun güvenlik anahtarını (CSRF) taşımıyor ya da anahtar yanlış. "
                        "Sayfayı yeniden açıp işlemi yeniden yapın.",
                    )
            return await original(request)

        return handler


async def _csrf_ok(request: Request, session_id: str) -> bool:
    offered = request.headers.get("x-csrf-token")
    if offered is None:
        form = await request.form(max_files=STAFF_FILES_AT_ONCE, max_fields=50)
        value = form.get("csrf")
        offered = value if isinstance(value, str) else ""
    return staff_sessions.csrf_matches(session_id, offered)


def _to_sign_in(request: Request, settings: Settings, *, had_session: bool) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET":
        response: Response = RedirectResponse(f"{PREFIX}/giris?{urlencode({'sonra': target})}", 303)
    else:
        response = error_page(
            request,
            401,
            "Oturumunuz sona erdi",
            "Oturumunuz sona erdiği için işlem yapılmadı. Yeniden giriş yapıp işlemi tekrarlayın.",
        )
    if had_session:
        response.delete_cookie(COOKIE, path=PREFIX, **_cookie_options(settings))
    return response


def _safe_next(value: str | None) -> str:
    """Only our own staff pages after sign-in (never another site)."""
    if value and value.startswith(f"{PREFIX}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/"


router = APIRouter(prefix=PREFIX, route_class=StaffRoute, include_in_schema=False)


# ---------------------------------------------------------------- sign-in and out


@router.get("/giris")
async def sign_in(request: Request) -> Response:
    state = _state(request)
    pending = Pending.new(_safe_next(request.query_params.get("sonra")))
    try:
        target = await asyncio.to_thread(state.oidc.authorization_url, pending)
    except SignInFailed as failure:
        return error_page(request, 503, "Giriş yapılamıyor", str(failure))
    response = RedirectResponse(target, 303)
    response.set_cookie(
        LOGIN_COOKIE,
        state.pending.dumps([pending.state, pending.nonce, pending.verifier, pending.next_path]),
        max_age=LOGIN_SECONDS,
        path=f"{PREFIX}/giris",
        **_cookie_options(_container(request).settings),
    )
    return response


@router.get("/giris/donus")
async def sign_in_return(request: Request) -> Response:
    container, state = _container(request), _state(request)
    query = request.query_params
    again = "Yeniden giriş yapmak için personel ana sayfasını açın."
    try:
        values = state.pending.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS)
        pending = Pending(*values)
    except (BadSignature, TypeError, ValueError):
        return error_page(
            request, 400, "Giriş tamamlanamadı", f"Giriş isteği bulunamadı ya da süresi doldu. {again}"
        )
    if query.get("error"):
        return error_page(request, 401, "Giriş yapılmadı", f"Kimlik sağlayıcı girişi tamamlamadı. {again}")
    if not query.get("code") or query.get("state") != pending.state:
        return error_page(
            request, 400, "Giriş tamamlanamadı", f"Giriş yanıtı bu tarayıcının isteğine ait değil. {again}"
        )
    try:
        tokens = await asyncio.to_thread(state.oidc.exchange, query["code"], pending)
        validator: TokenValidator = request.app.state.token_validator
        principal = await asyncio.to_thread(validator.principal, tokens.access_token)
    except SignInFailed as failure:
        return error_page(request, 401, "Giriş tamamlanamadı", f"{failure} {again}")
    except HTTPException as refused:  # the API's own refusal of the access token (401/503)
        return error_page(request, refused.status_code, "Giriş tamamlanamadı", f"{refused.detail} {again}")
    name = str(tokens.id_claims.get("name") or principal.username)
    session_id = await asyncio.to_thread(
        staff_sessions.create,
        container.uow,
        principal,
        display_name=name,
        id_token=tokens.id_token,
        provider_sid=tokens.id_claims.get("sid"),
        provider_subject=tokens.id_claims.get("sub"),
    )
    log.info("staff signed in: %s", principal.username)
    settings = container.settings
    response = RedirectResponse(pending.next_path, 303)
    response.set_cookie(COOKIE, session_id, path=PREFIX, **_cookie_options(settings))
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/giris", **_cookie_options(settings))
    return response


@router.post("/cikis")
async def sign_out(request: Request) -> Response:
    container, signed = _container(request), _signed_in(request)
    await asyncio.to_thread(staff_sessions.end, container.uow, request.cookies.get(COOKIE))
    target = await asyncio.to_thread(_state(request).oidc.logout_url, signed.id_token)
    response = RedirectResponse(target, 303)
    response.delete_cookie(COOKIE, path=PREFIX, **_cookie_options(container.settings))
    return response


@router.post("/cikis/arka-kanal")
async def back_channel_logout(request: Request) -> Response:
    """The provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0): the user
    signed out elsewhere (Tasklist, another page, an administrator), so their sessions here end
    too. Server to server: no cookie, no CSRF token; the signed logout token is the proof."""
    form = await request.form()
    token = form.get("logout_token")
    headers = {"Cache-Control": "no-store"}
    if not isinstance(token, str) or not token:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "logout_token missing"}, 400, headers
        )
    state, container = _state(request), _container(request)
    try:
        sid, subject = await asyncio.to_thread(state.oidc.check_logout_token, token)
    except LogoutTokenRefused as refused:
        log.warning("back-channel logout refused: %s", refused)
        return JSONResponse({"error": "invalid_request", "error_description": str(refused)}, 400, headers)
    ended = await asyncio.to_thread(staff_sessions.end_at_provider, container.uow, sid=sid, subject=subject)
    log.info("back-channel logout: %d staff session(s) ended", ended)
    return Response(status_code=200, headers=headers)


# ---------------------------------------------------------------- home


@router.get("/")
async def home(request: Request) -> Response:
    container, caller = _container(request), _caller(request)
    open_difs: list[difs_api.DifOut] = []
    if Permission.DIFS_READ in caller.permissions:
        try:
            found = await difs_api.list_difs(container, caller, None, None, None, None, None, 1, 50)
            open_difs = [d for d in found.items if d.status != "kapatildi"]
        except Forbidden:
            open_difs = []
    names = await asyncio.to_thread(_names, container)
    context = {
        "open_difs": open_difs,
        "directorate_names": names.directorates,
        "dif_status": DIF_STATUS,
        "tasklist_url": container.settings.tasklist_url,
    }
    return render(request, "home.html", context)


# ---------------------------------------------------------------- the DİF file


@router.get("/dif/{dif_id}")
async def dif_file(dif_id: uuid.UUID, request: Request) -> Response:
    container = _container(request)
    detail = await difs_api.get_dif(dif_id, container, _caller(request))
    names = await asyncio.to_thread(_names, container)
    return render(
        request,
        "dif.html",
        {
            "dif": detail,
            "dif_status": DIF_STATUS,
            "action_status": ACTION_STATUS,
            "size_text": size_text,
            "directorate_name": names.directorates.get(detail.directorate_code, detail.directorate_code),
            "office_names": names.offices,
        },
    )


@router.get("/dif/{dif_id}/rapor.pdf")
async def dif_report(dif_id: uuid.UUID, request: Request) -> Response:
    return await difs_api.dif_report(dif_id, _container(request), _caller(request))


@router.get("/dif/{dif_id}/kanit/{evidence_id}")
async def evidence_download(dif_id: uuid.UUID, evidence_id: uuid.UUID, request: Request) -> Response:
    return await difs_api.download_evidence(dif_id, evidence_id, _container(request), _caller(request))


# ---------------------------------------------------------------- evidence of an action


@dataclass(frozen=True)
class FileResult:
    name: str
    ok: bool
    message: str
    sha256: str | None = None


def rejection_text(error: evidence.EvidenceRejected, max_bytes: int) -> str:
    """services/evidence.py's refusal, in Turkish for the page."""
    message = str(error)
    if "empty file" in message:
        return "Dosya boş."
    if error.too_large:
        return f"Dosya çok büyük: en çok {size_text(max_bytes)} olabilir."
    if "not allowed" in message:
        media_type = message.split("type ", 1)[1].split(" not allowed", 1)[0]
        allowed = ", ".join(TYPE_NAMES.values())
        return f"Bu dosya türü kabul edilmiyor ({media_type}). Kabul edilen türler: {allowed}."
    if "content is not" in message:
        media_type = message.rsplit(" ", 1)[-1]
        return (
            f"Dosyanın içeriği türüyle uyuşmuyor: {TYPE_NAMES.get(media_type, media_type)} olarak "
            "gönderildi ama içeriği öyle değil."
        )
    if "UTF-8" in message:
        return "Metin dosyası UTF-8 kodlamasıyla kaydedilmiş olmalı."
    if "file name" in message:
        return "Dosya adı 1-255 karakter olmalı; eğik çizgi ve denetim karakteri içermemeli."
    return "Dosya kabul edilmedi."


CLOSED = "Bu eylem tamamlandı (ya da DİF kapatıldı): kanıtları artık kaydın parçası, değiştirilemez."


async def _evidence_page(
    request: Request,
    dif_id: uuid.UUID,
    action_id: uuid.UUID,
    *,
    results: list[FileResult] | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    container, caller = _container(request), _caller(request)
    detail = await difs_api.get_dif(dif_id, container, caller)
    action = next((a for a in detail.actions if a.id == action_id), None)
    if action is None:
        raise HTTPException(404, "Bu DİF'te böyle bir eylem yok.")
    missing: Forbidden | None = None
    try:
        caller.check_directorate(Permission.EVIDENCE_WRITE, detail.directorate_code)
    except Forbidden as refused:
        missing = refused
    is_open = action.status != "tamamlandi" and detail.closed_at is None
    settings = container.settings
    return render(
        request,
        "evidence.html",
        {
            "dif": detail,
            "action": action,
            "is_open": is_open,
            "can_write": missing is None,
            "missing": missing,
            "results": results or [],
            "notice": notice,
            "error": error,
            "max_size": size_text(settings.evidence_max_bytes),
            "accept": ",".join(settings.evidence_allowed_types),
            "type_names": ", ".join(TYPE_NAMES.get(t, t) for t in settings.evidence_allowed_types),
            "files_at_once": STAFF_FILES_AT_ONCE,
            "action_status": ACTION_STATUS,
            "size_text": size_text,
        },
        status_code=status_code,
    )


@router.get("/dif/{dif_id}/eylem/{action_id}/kanit")
async def evidence_page(dif_id: uuid.UUID, action_id: uuid.UUID, request: Request) -> Response:
    notice = None
    if request.query_params.get("geri-alindi"):
        notice = f"“{request.query_params['geri-alindi'][:255]}” geri alındı."
    return await _evidence_page(request, dif_id, action_id, notice=notice)


@router.post("/dif/{dif_id}/eylem/{action_id}/kanit")
async def evidence_upload(dif_id: uuid.UUID, action_id: uuid.UUID, request: Request) -> Response:
    """One or several files; each is checked as the API checks it and answered on its own."""
    container, caller = _container(request), _caller(request)
    await difs_api._check_dif(container, caller, Permission.EVIDENCE_WRITE, dif_id)
    settings = container.settings
    form = await request.form(max_files=STAFF_FILES_AT_ONCE, max_fields=50)
    files = [f for f in form.getlist("dosya") if isinstance(f, UploadFile) and f.filename]
    results: list[FileResult] = []
    for file in files:
        name = file.filename or ""
        try:
            row = await difs_api.store_evidence(container, caller, dif_id, action_id, file)
        except evidence.EvidenceRejected as rejected:
            results.append(FileResult(name, False, rejection_text(rejected, settings.evidence_max_bytes)))
        except RecordNotFound:
            raise HTTPException(404, "Bu DİF'te böyle bir eylem yok.") from None
        except evidence.ActionClosed:
            results.append(FileResult(name, False, CLOSED))
        else:
            results.append(FileResult(name, True, "Yüklendi.", row.sha256))
    if any(r.ok for r in results):
        await difs_api._show_in_tasklist(container, dif_id)
    refused = not results or not all(r.ok for r in results)
    if "application/json" in request.headers.get("accept", ""):
        body = {"results": [r.__dict__ for r in results] or [{"ok": False, "message": "Dosya seçilmedi."}]}
        return JSONResponse(body, status_code=422 if refused else 201)
    return await _evidence_page(
        request,
        dif_id,
        action_id,
        results=results,
        error="Yüklenecek bir dosya seçin." if not results else None,
        status_code=422 if refused else 200,
    )


@router.post("/dif/{dif_id}/eylem/{action_id}/kanit/{evidence_id}/geri-al")
async def evidence_take_back(
    dif_id: uuid.UUID, action_id: uuid.UUID, evidence_id: uuid.UUID, request: Request
) -> Response:
    container, caller = _container(request), _caller(request)
    await difs_api._check_dif(container, caller, Permission.EVIDENCE_WRITE, dif_id)
    try:
        row = await asyncio.to_thread(evidence.read, container.uow, dif_id=dif_id, evidence_id=evidence_id)
        if row.action_id != action_id:
            raise RecordNotFound(str(evidence_id))
        await asyncio.to_thread(
            evidence.remove, container.uow, dif_id=dif_id, evidence_id=evidence_id, actor=caller.username
        )
    except RecordNotFound:
        raise HTTPException(404, "Kanıt dosyası bulunamadı.") from None
    except evidence.ActionClosed:
        return await _evidence_page(request, dif_id, action_id, error=CLOSED, status_code=409)
    await difs_api._show_in_tasklist(container, dif_id)
    target = f"{PREFIX}/dif/{dif_id}/eylem/{action_id}/kanit?{urlencode({'geri-alindi': row.file_name})}"
    return RedirectResponse(target, 303)


# ---------------------------------------------------------------- requests


def _day(value: str, field: str, errors: list[str], *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=ISTANBUL)
    except ValueError:
        errors.append(f"{field} tarihi GG.AA.YYYY biçiminde bir gün olmalı.")
        return None
    return day + timedelta(days=1) if end else day


@dataclass(frozen=True)
class CatalogueNames:
    """The catalogue's names by code, each ordered by name (the search form's choices too)."""

    directorates: dict[str, str]
    categories: dict[str, str]
    offices: dict[str, str]  # escalation levels name offices by code


def _names(container: Container) -> CatalogueNames:
    with container.uow() as uow:

        def by_code(model: Any) -> dict[str, str]:
            return {c: n for c, n in uow.session.execute(select(model.code, model.name).order_by(model.name))}

        return CatalogueNames(by_code(Directorate), by_code(Category), by_code(Office))


@router.get("/talepler")
async def request_search(request: Request) -> Response:
    container, caller = _container(request), _caller(request)
    caller.require(Permission.REQUESTS_READ)
    q = request.query_params
    tracking = q.get("takip", "").strip()[:40]
    if tracking:
        try:
            found, _ = await asyncio.to_thread(requests_service.get_by_tracking, container.uow, tracking)
        except requests_service.RequestNotFound:
            found = None
        if found is not None:
            return RedirectResponse(f"{PREFIX}/talepler/{found.id}", 303)
    errors: list[str] = [] if not tracking else ["Bu takip numarasıyla bir talep bulunamadı."]
    values = {
        k: q.get(k, "").strip()[:40] for k in ("durum", "mudurluk", "kategori", "kanal", "baslangic", "bitis")
    }
    values["geciken"] = q.get("geciken", "")
    received_from = _day(values["baslangic"], "Başlangıç", errors)
    received_to = _day(values["bitis"], "Bitiş", errors, end=True)
    channel = None
    if values["kanal"]:
        try:
            channel = requests_api.Channel(values["kanal"])
        except ValueError:
            errors.append("Böyle bir kanal yok.")
    try:
        page = max(1, min(int(q.get("sayfa", "1")), 10_000))
    except ValueError:
        page = 1
    result = await requests_api.search_requests(
        container,
        caller,
        status_=values["durum"] or None,
        directorate=values["mudurluk"] or None,
        category=values["kategori"] or None,
        channel=channel,
        received_from=received_from,
        received_to=received_to,
        overdue={"evet": True, "hayir": False}.get(values["geciken"]),
        page=page,
        size=PAGE_SIZE,
    )
    names = await asyncio.to_thread(_names, container)
    directorates = list(names.directorates.items())
    if caller.directorate_scope(Permission.REQUESTS_READ) is not None:
        directorates = [d for d in directorates if d[0] == caller.directorate]
    filters = {k: v for k, v in values.items() if v}
    pages_total = max(1, -(-result.total // PAGE_SIZE))

    def page_link(number: int) -> str:
        return f"{PREFIX}/talepler?{urlencode({**filters, 'sayfa': number})}"

    return render(
        request,
        "requests.html",
        {
            "result": result,
            "values": values,
            "errors": errors,
            "statuses": list(pages.STATUS_LABELS.items()),
            "directorates": directorates,
            "categories": list(names.categories.items()),
            "directorate_names": names.directorates,
            "category_names": names.categories,
            "channels": list(CHANNELS),
            "page": page,
            "pages_total": pages_total,
            "page_link": page_link,
        },
    )


@router.get("/talepler/{request_id}")
async def request_page(request_id: uuid.UUID, request: Request) -> Response:
    """The request with its whole history; the citizen's contact for those whose role may see it,
    every such read in the audit trail (the audited session records it under the caller's name)."""
    container, caller = _container(request), _caller(request)
    caller.require(Permission.REQUESTS_READ)
    await requests_api._readable_request(container, caller, request_id)
    found = await asyncio.to_thread(requests_service.get_by_id, container.uow, request_id)
    found, events = await asyncio.to_thread(
        requests_service.get_by_tracking, container.uow, found.tracking_code
    )
    contact = None
    if Permission.REQUESTS_CONTACT in caller.permissions:
        _, contact, _, _ = await asyncio.to_thread(
            requests_service.request_context, container.uow, request_id
        )
    names = await asyncio.to_thread(_names, container)
    return render(
        request,
        "request.html",
        {
            "item": found,
            "directorate_names": names.directorates,
            "category_names": names.categories,
            "events": events,
            "contact": contact,
            "contact_allowed": Permission.REQUESTS_CONTACT in caller.permissions,
            "location": requests_service.location_text(found, contact) if contact else None,
        },
    )
