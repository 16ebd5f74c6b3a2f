"""Authentication at the API's edge: staff by OIDC bearer tokens checked against the issuer's JWKS,
channels by API keys (rate-limited per key). Routes declare what they need with `Allowed(...)`.

401 means "who are you?" (no or bad credentials); 403 means "you may not", and says which
permission is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services import api_keys, audit
from services.access import Forbidden, Permission, Principal, Role
from services.api.rate_limit import TokenBuckets
from services.config import Settings

log = logging.getLogger("api.security")

bearer_scheme = HTTPBearer(auto_error=False, description="Personel: kimlik sağlayıcının verdiği JWT")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="Kanal entegrasyonu anahtarı")


def _unauthorised(detail: str, scheme: str = "Bearer") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": scheme})


class TokenValidator:
    """Validates staff tokens: signature by a key of the issuer's JWKS, issuer, audience, expiry."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self._settings.oidc_jwks_url
            if not url:
                discovery = f"{self._settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
                url = httpx.get(discovery, timeout=5).raise_for_status().json()["jwks_uri"]
            # Keys are cached; an unknown key id (the issuer rotated) fetches the set again.
            self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
        return self._jwks

    def principal(self, token: str) -> Principal:
        settings = self._settings
        try:
            key = self._client().get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientConnectionError, httpx.HTTPError) as error:
            log.warning("identity provider unreachable: %s", type(error).__name__)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "Kimlik sağlayıcıya ulaşılamadı; biraz sonra deneyin."
            ) from None
        except jwt.PyJWKClientError:
            raise _unauthorised("Oturum anahtarı tanınmayan bir anahtarla imzalanmış.") from None
        except jwt.DecodeError:
            raise _unauthorised("Oturum anahtarı (Bearer) bir JWT değil.") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=settings.oidc_audience,
                issuer=settings.oidc_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorised("Oturum anahtarının süresi dolmuş; yeniden giriş yapın.") from None
        except jwt.InvalidAudienceError:
            raise _unauthorised(
                f"Oturum anahtarı bu uygulama ({settings.oidc_audience}) için değil."
            ) from None
        except jwt.InvalidIssuerError:
            raise _unauthorised("Oturum anahtarı tanınmayan bir kimlik sağlayıcıdan.") from None
        except jwt.InvalidTokenError as error:
            raise _unauthorised(f"Oturum anahtarı geçersiz: {error}.") from None
        roles = {
            Role(r) for r in _claim(claims, settings.oidc_roles_claim) or [] if r in Role._value2member_map_
        }
        directorate = _claim(claims, settings.oidc_directorate_claim)
        username = _claim(claims, settings.oidc_username_claim) or claims["sub"]
        return Principal.staff(
            str(username), roles, str(directorate) if isinstance(directorate, str) and directorate else None
        )


def _claim(claims: dict[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class ChannelKeys:
    """Looks keys up (briefly cached, so intake does not pay a query per request) and limits each
    key to its requests per minute with a token bucket shared by every API process.

    The cache stays per process on purpose: it holds only what the database says of a key, for
    `API_KEY_CACHE_SECONDS`, so a revocation reaches every process within that time whatever
    their number."""

    def __init__(self, settings: Settings) -> None:
        self._ttl = settings.api_key_cache_seconds
        self._cache: dict[str, tuple[float, api_keys.ChannelKey | None]] = {}

    async def principal(self, request: Request, secret: str) -> Principal:
        now = time.monotonic()
        digest = api_keys.digest(secret)
        cached = self._cache.get(digest)
        if cached is None or now - cached[0] > self._ttl:
            key = await asyncio.to_thread(api_keys.lookup, request.app.state.container.uow, secret)
            if len(self._cache) > 10_000:  # random wrong keys must not grow it without end
                self._cache.clear()
            self._cache[digest] = (now, key)
        else:
            key = cached[1]
        if key is None:
            raise _unauthorised("API anahtarı geçersiz ya da iptal edilmiş.", "ApiKey")
        await self._take(request, key)
        return Principal(username=key.name, channel=key.channel)

    async def _take(self, request: Request, key: api_keys.ChannelKey) -> None:
        buckets = TokenBuckets(request.app.state.container.uow)
        wait = await buckets.take(f"key:{key.id}", key.requests_per_minute)
        if wait:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"Bu anahtar dakikada en çok {key.requests_per_minute} istek gönderebilir; "
                f"{wait} saniye sonra yeniden deneyin.",
                headers={"Retry-After": str(wait)},
            )


async def channel(request: Request, secret: Annotated[str | None, Depends(api_key_scheme)]) -> Principal:
    """An intake integration, by its X-API-Key."""
    if not secret:
        raise _unauthorised("Kanal entegrasyonları X-API-Key başlığıyla anahtarını göndermeli.", "ApiKey")
    keys: ChannelKeys = request.app.state.channel_keys
    principal = await keys.principal(request, secret)
    audit.set_actor(principal.actor)  # the request's own context: its audit trail names the key
    return principal


async def staff(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Principal:
    """A member of staff, by the bearer token of the identity provider."""
    if credentials is None:
        raise _unauthorised("Personel girişi gerekli: Authorization: Bearer <oturum anahtarı>.")
    validator: TokenValidator = request.app.state.token_validator
    principal = await asyncio.to_thread(validator.principal, credentials.credentials)
    audit.set_actor(principal.actor)  # the request's own context: its audit trail names the person
    return principal


class Allowed:
    """Dependency: a staff member holding `permission` (403 naming it otherwise)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, principal: Annotated[Principal, Depends(staff)]) -> Principal:
        principal.require(self.permission)
        return principal


ChannelDep = Annotated[Principal, Depends(channel)]


def forbidden_response(error: Forbidden) -> JSONResponse:
    return JSONResponse(
        {"detail": error.reason, "missingPermission": str(error.permission)},
        status_code=status.HTTP_403_FORBIDDEN,
    )
