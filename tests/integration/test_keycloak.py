"""Keycloak as the staff's identity provider: the sample users sign in at the local realm and our
API's token validator, pointed at the realm's issuer, makes the same principals of them as the
users file says (roles, directorate), with the engine's groups in the token for single sign-on.

Runs against the Keycloak of KEYCLOAK_PORT (default 8070, the stack's once it replaces the
home-made issuer); when none answers there, the test starts one (deploy/local/keycloak.py) and
stops it afterwards. Another instance, beside a running stack:
    KEYCLOAK_PORT=8170 KEYCLOAK_MANAGEMENT_PORT=9170 KEYCLOAK_DATABASE=keycloak_x \
        pytest tests/integration/test_keycloak.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import HTTPException

from deploy.local import keycloak, processes
from deploy.local.engine_identity import CATALOGUE, USERS, _memberships
from services.access import Role
from services.api.security import TokenValidator
from services.config import Settings
from tests.integration.conftest import master_realm_token, sign_in

SAMPLE_USERS = json.loads(USERS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def instance() -> Iterator[keycloak.Instance]:
    found = keycloak.Instance.from_env()
    if processes.http_ok(f"{found.issuer}/.well-known/openid-configuration"):
        yield found
        return
    keycloak.start(found)
    try:
        yield found
    finally:
        keycloak.stop(found)


def password_grant(instance: keycloak.Instance, username: str, password: str = "demo") -> httpx.Response:
    """The local realm's direct-grant client, at this instance's issuer."""
    return sign_in(username, password, issuer=instance.issuer)


def token(instance: keycloak.Instance, username: str) -> str:
    response = password_grant(instance, username)
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access


def test_every_sample_user_is_the_api_principal_the_users_file_describes(instance: keycloak.Instance) -> None:
    validator = TokenValidator(Settings(oidc_issuer=instance.issuer))
    for user in SAMPLE_USERS:
        principal = validator.principal(token(instance, user["username"]))
        assert principal.username == user["username"]
        assert principal.roles == {Role(r) for r in user["roles"]}, user["username"]
        assert principal.directorate == user.get("directorate"), user["username"]

    director = validator.principal(token(instance, "yol.mudur"))
    assert director.roles == {Role.DIRECTOR} and director.directorate == "YOL"


def test_the_token_carries_the_engine_groups_and_the_api_audience(instance: keycloak.Instance) -> None:
    import jwt

    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    for user in SAMPLE_USERS:
        claims = jwt.decode(token(instance, user["username"]), options={"verify_signature": False})
        assert set(claims["groups"]) == set(_memberships(user, catalogue)), user["username"]
        assert claims["aud"] == "belediye-hizmet-takip" or "belediye-hizmet-takip" in claims["aud"]
        assert claims["iss"] == instance.issuer


def test_a_wrong_password_gets_no_token_and_another_realm_s_token_is_refused(
    instance: keycloak.Instance,
) -> None:
    refused = password_grant(instance, "yol.mudur", "yanlis")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    # The master realm's administrator: a real Keycloak token, but not of our realm.
    validator = TokenValidator(Settings(oidc_issuer=instance.issuer))
    with pytest.raises(HTTPException) as error:
        validator.principal(master_realm_token())
    assert error.value.status_code == 401
