"""Signing staff in by OpenID Connect: the authorization code flow with PKCE (S256), `state` and
`nonce`, against the provider named by OIDC_ISSUER (its discovery document gives the endpoints).

The staff pages' client (STAFF_CLIENT_ID) is public by default, as the local Keycloak realm has
it; a confidential client in production adds STAFF_CLIENT_SECRET (sent by HTTP Basic). The ID
token proves the sign-in (signature by the provider's JWKS, issuer, audience = our client id,
nonce, expiry); who the user is and what they may do comes from the access token, validated by
the API's own TokenValidator, so the pages and the API see one identity with the same roles.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from services.config import Settings

DISCOVERY_SECONDS = 3600
BACK_CHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class SignInFailed(Exception):
    """The provider's answer did not prove a sign-in; the message is Turkish, for the page."""


class LogoutTokenRefused(Exception):
    """A back-channel logout token that is not the provider's word (OIDC Back-Channel Logout 2.6)."""


@dataclass(frozen=True)
class Pending:
    """What the browser carries (signed) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    next_path: str

    @classmethod
    def new(cls, next_path: str) -> Pending:
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),  # 64 characters of RFC 7636's alphabet
            next_path=next_path,
        )

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    id_claims: dict[str, Any]


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._discovery: dict[str, Any] | None = None
        self._fetched = 0.0
        self._jwks: jwt.PyJWKClient | None = None

    @property
    def client_id(self) -> str:
        return self._settings.staff_client_id

    @property
    def redirect_uri(self) -> str:
        return f"{self._settings.public_base_url.rstrip('/')}/personel/giris/donus"

    @property
    def after_logout_uri(self) -> str:
        return f"{self._settings.public_base_url.rstrip('/')}/personel/"

    def discovery(self) -> dict[str, Any]:
        if self._discovery is None or time.monotonic() - self._fetched > DISCOVERY_SECONDS:
            url = f"{self._settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
            try:
                self._discovery = httpx.get(url, timeout=5).raise_for_status().json()
            except (httpx.HTTPError, ValueError) as error:
                raise SignInFailed("Kimlik sağlayıcıya ulaşılamadı; biraz sonra yeniden deneyin.") from error
            self._fetched = time.monotonic()
        return self._discovery

    def authorization_url(self, pending: Pending) -> str:
        endpoint = self.discovery().get("authorization_endpoint")
        if not endpoint:
            raise SignInFailed("Kimlik sağlayıcı oturum açma adresini (authorization_endpoint) bildirmiyor.")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoint}?{urlencode(query)}"

    def exchange(self, code: str, pending: Pending) -> Tokens:
        """The code for tokens at the token endpoint, and the ID token checked."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        secret = self._settings.staff_client_secret.get_secret_value()
        auth = httpx.BasicAuth(self.client_id, secret) if secret else None
        try:
            answer = httpx.post(self.discovery()["token_endpoint"], data=form, auth=auth, timeout=10)
        except httpx.HTTPError as error:
            raise SignInFailed("Kimlik sağlayıcıya ulaşılamadı; biraz sonra yeniden deneyin.") from error
        if answer.status_code != 200:
            raise SignInFailed("Kimlik sağlayıcı girişi doğrulamadı; yeniden giriş yapın.")
        body = answer.json()
        id_token, access_token = body.get("id_token"), body.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise SignInFailed("Kimlik sağlayıcı kimlik belgesi (ID token) göndermedi.")
        return Tokens(id_token, access_token, self.check_id_token(id_token, pending.nonce))

    def check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            key = self._keys().get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.client_id,
                issuer=self._settings.oidc_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
                leeway=30,
            )
        except jwt.PyJWKClientConnectionError as error:
            raise SignInFailed("Kimlik sağlayıcının anahtarlarına ulaşılamadı; yeniden deneyin.") from error
        except jwt.InvalidTokenError as error:  # PyJWKClientError is one too
            raise SignInFailed(f"Kimlik belgesi (ID token) geçersiz: {type(error).__name__}.") from error
        if "azp" in claims and claims["azp"] != self.client_id:
            raise SignInFailed("Kimlik belgesi (ID token) başka bir uygulamaya verilmiş (azp).")
        if not secrets.compare_digest(str(claims.get("nonce")), nonce):
            raise SignInFailed("Kimlik belgesi bu girişe ait değil (nonce); yeniden giriş yapın.")
        return claims

    def check_logout_token(self, logout_token: str) -> tuple[str | None, str | None]:
        """The provider's session and user a back-channel logout token ends (OpenID Connect
        Back-Channel Logout 1.0, 2.6): signed by the provider, for our client, with the logout
        event, a sid or a sub, and no nonce (so that no ID token can pass for one)."""
        try:
            key = self._keys().get_signing_key_from_jwt(logout_token)
            claims: dict[str, Any] = jwt.decode(
                logout_token,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.client_id,
                issuer=self._settings.oidc_issuer,
                options={"require": ["iat", "iss", "aud"]},
                leeway=30,
            )
        except (jwt.InvalidTokenError, SignInFailed) as error:
            raise LogoutTokenRefused(f"invalid logout token: {type(error).__name__}") from error
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACK_CHANNEL_LOGOUT_EVENT), dict):
            raise LogoutTokenRefused("the token carries no back-channel logout event")
        if "nonce" in claims:
            raise LogoutTokenRefused("a logout token has no nonce")
        sid, subject = claims.get("sid"), claims.get("sub")
        if not isinstance(sid, str) and not isinstance(subject, str):
            raise LogoutTokenRefused("the token names neither a session (sid) nor a user (sub)")
        return (sid if isinstance(sid, str) else None, subject if isinstance(subject, str) else None)

    def _keys(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self._settings.oidc_jwks_url or self.discovery()["jwks_uri"]
            self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
        return self._jwks

    def logout_url(self, id_token: str | None) -> str:
        """Where the browser goes after our session ended: the provider's end_session_endpoint,
        so the provider's session ends too; back to the staff home afterwards."""
        try:
            endpoint = self.discovery().get("end_session_endpoint")
        except SignInFailed:
            endpoint = None
        if not endpoint:
            return self.after_logout_uri
        query = {"post_logout_redirect_uri": self.after_logout_uri, "client_id": self.client_id}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(query)}"
