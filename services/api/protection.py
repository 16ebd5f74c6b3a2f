"""What every response carries and every request must respect: security headers, CORS limited to
configured origins, and body size limits (413) checked before anything reads the body."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.schemas import has_control_characters, invalid_details

# Evidence uploads may be as large as EVIDENCE_MAX_BYTES, plus the multipart envelope.
UPLOAD_PATH = re.compile(r"^/difs/[^/]+/actions/[^/]+/evidence$")
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
        declared = headers.get(b"content-length")
        if declared is None and headers.get(b"transfer-encoding"):
            await _refuse(send, 411, "Length Required: send the body with a Content-Length header")
            return
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, 413, f"Content Too Large: the body may be at most {limit} bytes")
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, detail: str | list[dict[str, Any]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
