"""What every response carries and every request must respect: security headers, CORS limited to
configured origins, and body size limits (413) checked before anything reads the body."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services import open311
from services.api.schemas import has_control_characters, invalid_details
from services.web.report import size_text

# Evidence uploads may be as large as EVIDENCE_MAX_BYTES, plus the multipart envelope.
UPLOAD_PATH = re.compile(r"^/difs/[^/]+/actions/[^/]+/evidence$")
# The staff page's evidence form sends up to STAFF_FILES_AT_ONCE files without JavaScript (one
# per request with it).
STAFF_UPLOAD_PATH = re.compile(r"^/personel/dif/[^/]+/eylem/[^/]+/kanit$")
STAFF_FILES_AT_ONCE = 10
# The citizen page's report form may carry a photo (as large as PHOTO_MAX_BYTES).
PHOTO_PATH = re.compile(r"^/basvuru$")
MULTIPART_ENVELOPE = 64 * 1024
# The interactive docs load their own scripts and styles; everything else is data.
DOCS = ("/docs", "/redoc", "/openapi.json")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app, self.https = app, https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if not str(scope["path"]).startswith(DOCS):
            extra.append(CSP)
        if self.https:
            extra.append(HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


class CleanUrl:
    """422 for a path or query carrying control characters (NUL would break the database query)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote(scope.get("query_string", b"").decode("latin-1"))
            if has_control_characters(str(scope["path"])) or has_control_characters(query):
                await _refuse(
                    send, 422, invalid_details("control characters are not allowed in the URL", "url")
                )
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """413 when the declared body is over the limit, 411 when a body comes without its length."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int, max_photo_bytes: int | None = None
    ) -> None:
        self.app, self.max_bytes, self.max_upload_bytes = app, max_bytes, max_upload_bytes
        self.max_photo_bytes = max_photo_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self.max_bytes
        if UPLOAD_PATH.match(scope["path"]):
            limit = self.max_upload_bytes
        elif PHOTO_PATH.match(scope["path"]):
            limit = self.max_photo_bytes
        elif STAFF_UPLOAD_PATH.match(scope["path"]):
            limit = self.max_upload_bytes * STAFF_FILES_AT_ONCE
        declared = headers.get(b"content-length")
        if declared is None and headers.get(b"transfer-encoding"):
            await _refuse_body(
                send, scope["path"], 411, "Length Required: send the body with a Content-Length header"
            )
            return
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse_body(
                send, scope["path"], 413, f"Content Too Large: the body may be at most {limit} bytes", limit
            )
            return
        await self.app(scope, receive, send)


TOO_LARGE_PAGE = (
    '<!doctype html><html lang="tr"><head><meta charset="utf-8"><title>Gönderi çok büyük</title></head>'
    "<body><main><h1>Gönderiniz çok büyük</h1><p>Fotoğraf en çok {limit} olabilir. Geri dönüp daha "
    'küçük bir fotoğraf seçin ya da fotoğrafsız gönderin.</p><p><a href="/basvuru">Başvuru sayfası</a>'
    "</p></main></body></html>"
)

STAFF_TOO_LARGE_PAGE = (
    '<!doctype html><html lang="tr"><head><meta charset="utf-8"><title>Gönderi çok büyük</title></head>'
    "<body><main><h1>Gönderiniz çok büyük</h1><p>Bir seferde en çok {limit} gönderilebilir. Dosyaları "
    'daha az sayıda seçerek yeniden gönderin.</p><p><a href="{back}">Kanıt sayfası</a></p>'
    "</main></body></html>"
)


async def _refuse_body(send: Send, path: str, status: int, detail: str, limit: int = 0) -> None:
    """A body refused before it is read, in the caller's own language: Open311 clients get the
    spec's error document, the citizen page a Turkish page, everyone else our JSON."""
    if path.startswith("/open311/"):
        fmt: open311.Format = "json" if path.endswith(".json") else "xml"
        body = open311.render(open311.errors((status, detail)), "errors", fmt)
        await _send(send, status, body, open311.FORMATS[fmt])
    elif PHOTO_PATH.match(path) and status == 413:
        page = TOO_LARGE_PAGE.format(limit=size_text(max(limit - MULTIPART_ENVELOPE, 0)))
        await _send(send, status, page.encode(), "text/html; charset=utf-8")
    elif STAFF_UPLOAD_PATH.match(path) and status == 413:
        page = STAFF_TOO_LARGE_PAGE.format(
            limit=size_text(max(limit - MULTIPART_ENVELOPE, 0)), back=html.escape(path)
        )
        await _send(send, status, page.encode(), "text/html; charset=utf-8")
    else:
        await _refuse(send, status, detail)


async def _refuse(send: Send, status: int, detail: str | list[dict[str, Any]]) -> None:
    await _send(send, status, json.dumps({"detail": detail}).encode(), "application/json")


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
