"""The staff pages' OpenID Connect sign-in against a small provider of our own over real HTTP
(authorization code + PKCE S256, state, nonce), standing in for Keycloak in the unit tier: the
code is exchanged only with the right verifier, the ID token must be for our client and this
sign-in, and the access token makes the same Principal the API makes. The real Keycloak sign-in
is tests/integration/test_staff_sign_in.py."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.app import create_app
from services.bootstrap import Container
from services.models import StaffSession
from services.web.staff import COOKIE, LOGIN_COOKIE
from tests.issuer import SampleIssuer
from tests.unit.conftest import free_port, serve

CLIENT = "belediye-personel"


@dataclasses.dataclass
class Provider:
    """Signs like the municipality's provider would; `id_token_claims` lets a test forge one."""

    signer: SampleIssuer
    codes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    id_token_claims: dict[str, Any] = dataclasses.field(default_factory=dict)
    user: str = "yol.personel"

    @property
    def issuer(self) -> str:
        return self.signer.issuer

    def app(self) -> FastAPI:
        app = FastAPI()
        base = self.issuer

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": base,
                "authorization_endpoint": f"{base}/auth",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "end_session_endpoint": f"{base}/logout",
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return self.signer.jwks()

        @app.get("/auth")
        def authorize(
            client_id: str,
            redirect_uri: str,
            state: str,
            nonce: str,
            code_challenge: str,
            code_challenge_method: str,
        ) -> RedirectResponse:
            assert client_id == CLIENT and code_challenge_method == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": code_challenge, "nonce": nonce, "redirect_uri": redirect_uri}
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

        @app.post("/token", response_model=None)
        def token(
            grant_type: Annotated[str, Form()],
            code: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
            client_id: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
        ) -> dict[str, Any] | JSONResponse:
            issued = self.codes.pop(code, None)
            digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            if (
                issued is None
                or grant_type != "authorization_code"
                or client_id != CLIENT
                or redirect_uri != issued["redirect_uri"]
                or digest.decode() != issued["challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            claims = {"aud": CLIENT, "nonce": issued["nonce"], "azp": CLIENT, **self.id_token_claims}
            return {
                "access_token": self.signer.issue(self.user),
                "id_token": self.signer.issue(self.user, **claims),
                "token_type": "Bearer",
            }

        return app


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    port = free_port()
    signer = SampleIssuer(
        f"http://127.0.0.1:{port}", "belediye-hizmet-takip", tmp_path_factory.mktemp("saglayici") / "key.pem"
    )
    served = Provider(signer)
    with serve(served.app(), port):
        yield served


@pytest.fixture()
def client(container: Container, provider: Provider) -> Iterator[TestClient]:
    provider.id_token_claims = {}
    settings = container.settings.model_copy(update={"oidc_issuer": provider.issuer})
    with TestClient(
        create_app(dataclasses.replace(container, settings=settings)), follow_redirects=False
    ) as test:
        yield test


def _to_provider(client: TestClient, path: str = "/personel/dif/x") -> tuple[str, dict[str, str]]:
    start = client.get("/personel/giris", params={"sonra": path})
    assert start.status_code == 303
    target = start.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
    return target, query


def _back_from_provider(client: TestClient, target: str) -> Any:
    answer = httpx.get(target, follow_redirects=False, timeout=10)  # the browser at the provider
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    assert back.path == "/personel/giris/donus"
    return client.get(f"{back.path}?{back.query}")


def test_sign_in_sends_to_the_provider_with_pkce_state_and_nonce_and_opens_a_session(
    client: TestClient, container: Container, provider: Provider
) -> None:
    target, query = _to_provider(client, "/personel/talepler?durum=alindi")
    assert target.startswith(f"{provider.issuer}/auth?")
    assert query["client_id"] == CLIENT and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and "openid" in query["scope"]
    assert query["redirect_uri"] == "http://127.0.0.1:8000/personel/giris/donus"
    login_cookie = client.cookies.get(LOGIN_COOKIE)
    assert login_cookie and query["state"] not in login_cookie  # signed, not readable as is

    landed = _back_from_provider(client, target)
    assert landed.status_code == 303 and landed.headers["location"] == "/personel/talepler?durum=alindi"
    set_cookie = landed.headers.get_list("set-cookie")
    session = next(c for c in set_cookie if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/personel" in session
    assert "Secure" not in session  # local; production adds it
    home = client.get("/personel/")
    assert home.status_code == 200 and "Yol Bakım Personeli" in home.text and "YOL" in home.text
    with container.uow() as uow:
        stored = uow.session.scalar(select(StaffSession).where(StaffSession.username == "yol.personel"))
        assert stored is not None and stored.roles == ["directorate-staff"] and stored.directorate == "YOL"
        assert stored.id_token.count(".") == 2


def test_a_callback_of_another_sign_in_or_a_forged_id_token_opens_no_session(
    client: TestClient, provider: Provider, tmp_path: Path
) -> None:
    target, query = _to_provider(client)
    wrong_state = client.get("/personel/giris/donus", params={"code": "x", "state": "baska"})
    assert wrong_state.status_code == 400 and "bu tarayıcının isteğine ait değil" in wrong_state.text
    without_cookie = TestClient(client.app, follow_redirects=False)
    alone = without_cookie.get("/personel/giris/donus", params={"code": "x", "state": query["state"]})
    assert alone.status_code == 400 and "süresi doldu" in alone.text
    refused = client.get("/personel/giris/donus", params={"error": "access_denied", "state": query["state"]})
    assert refused.status_code == 401 and "Giriş yapılmadı" in refused.text

    for forged in ({"nonce": "baska-giris"}, {"aud": "baska-uygulama"}, {"iss": "http://127.0.0.1:1/sahte"}):
        provider.id_token_claims = forged
        target, _ = _to_provider(client)
        answer = _back_from_provider(client, target)
        assert answer.status_code == 401, forged
        assert "Giriş tamamlanamadı" in answer.text
        assert COOKIE not in answer.headers.get("set-cookie", "")
    provider.id_token_claims = {}
    # A callback replayed once another sign-in began is refused: its state is not the browser's.
    target, _ = _to_provider(client)
    back = urlsplit(httpx.get(target, follow_redirects=False).headers["location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303
    _to_provider(client)
    assert client.get(f"{back.path}?{back.query}").status_code == 400


def test_only_our_own_pages_are_a_place_to_go_after_sign_in(client: TestClient) -> None:
    for elsewhere in ("https://kotu.example/", "//kotu.example/personel/", "/basvuru", "/personel\\..\\x"):
        target, _ = _to_provider(client, elsewhere)
        landed = _back_from_provider(client, target)
        assert landed.status_code == 303 and landed.headers["location"] == "/personel/", elsewhere


def _signed_in_with(client: TestClient, provider: Provider, sid: str) -> str:
    """A sign-in whose ID token names the provider's session `sid`; returns our session cookie."""
    provider.id_token_claims = {"sid": sid}
    target, _ = _to_provider(client, "/personel/")
    assert _back_from_provider(client, target).status_code == 303
    provider.id_token_claims = {}
    cookie = client.cookies.get(COOKIE)
    assert cookie
    client.cookies.clear()
    return str(cookie)


def _logout_token(provider: Provider, **claims: Any) -> str:
    token_claims = {
        "aud": CLIENT,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        "jti": secrets.token_hex(8),
        **claims,
    }
    return provider.signer.issue("yol.personel", **token_claims)


def test_the_providers_back_channel_logout_ends_the_session_it_names_and_only_a_true_token_does(
    client: TestClient, container: Container, provider: Provider
) -> None:
    """Signing out elsewhere (Tasklist, Keycloak's account page, an administrator) ends our session
    too: Keycloak posts a signed logout token naming its session (sid) or, without sid, the user."""
    first = _signed_in_with(client, provider, "kc-oturum-1")
    second = _signed_in_with(client, provider, "kc-oturum-2")

    def home(cookie: str) -> int:
        browser = TestClient(client.app, follow_redirects=False)
        browser.cookies.set(COOKIE, cookie)
        return int(browser.get("/personel/").status_code)

    assert home(first) == home(second) == 200
    url = "/personel/cikis/arka-kanal"
    for forged, why in (
        ({"sid": "kc-oturum-1", "events": {}}, "no back-channel logout event"),
        ({"sid": "kc-oturum-1", "nonce": "n"}, "nonce"),
        ({"sid": "kc-oturum-1", "aud": "operaton-webapps"}, "InvalidAudienceError"),
        ({"sid": "kc-oturum-1", "iss": "http://127.0.0.1:1/sahte"}, "InvalidIssuerError"),
    ):
        refused = client.post(url, data={"logout_token": _logout_token(provider, **forged)})
        assert refused.status_code == 400 and why in refused.json()["error_description"], forged
    unsigned = _logout_token(provider, sid="kc-oturum-1").rsplit(".", 1)[0] + ".aW1temE"
    assert client.post(url, data={"logout_token": unsigned}).status_code == 400
    assert client.post(url, data={}).json()["error_description"] == "logout_token missing"
    assert home(first) == home(second) == 200

    ended = client.post(url, data={"logout_token": _logout_token(provider, sid="kc-oturum-1")})
    assert ended.status_code == 200 and ended.headers["cache-control"] == "no-store"
    assert home(first) == 303  # to the sign-in again
    assert home(second) == 200  # another provider session of the same user stays

    # Without sid: every session of the provider's user (sub) ends.
    third = _signed_in_with(client, provider, "kc-oturum-3")
    everything = _logout_token(provider, sub="yol.personel")
    assert client.post(url, data={"logout_token": everything}).status_code == 200
    assert home(second) == home(third) == 303
    with container.uow() as uow:
        left = uow.session.scalars(
            select(StaffSession.provider_sid).where(StaffSession.username == "yol.personel")
        )
        assert not {"kc-oturum-1", "kc-oturum-2", "kc-oturum-3"} & set(left)
