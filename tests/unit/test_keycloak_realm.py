"""The local Keycloak realm file: generated from users.json and the catalogue, never edited apart
from them, with the clients and claims our API and the engine read."""

from __future__ import annotations

import json

from deploy.local import keycloak_realm
from services.access import Role
from services.config import Settings


def test_the_committed_realm_file_is_what_its_sources_generate() -> None:
    assert keycloak_realm.main(["--check"]) == 0, "run: python -m deploy.local.keycloak_realm"


def test_the_realm_has_our_roles_the_api_audience_and_only_the_local_client_allows_passwords() -> None:
    realm = json.loads(keycloak_realm.REALM_FILE.read_text(encoding="utf-8"))
    assert {role["name"] for role in realm["roles"]["realm"]} == {str(role) for role in Role}
    clients = {client["clientId"]: client for client in realm["clients"]}
    assert set(clients) == {"belediye-api", "operaton-webapps", "belediye-personel", "belediye-cli"}
    assert clients["belediye-api"]["bearerOnly"] is True
    assert clients["operaton-webapps"]["publicClient"] is False
    assert clients["belediye-personel"]["attributes"]["pkce.code.challenge.method"] == "S256"
    assert [c for c, client in clients.items() if client["directAccessGrantsEnabled"]] == ["belediye-cli"]
    audience = Settings().oidc_audience
    for name in ("belediye-personel", "belediye-cli"):
        mappers = {m["name"]: m["config"] for m in clients[name]["protocolMappers"]}
        assert mappers["audience"]["included.custom.audience"] == audience
        assert mappers["roles"]["claim.name"] == Settings().oidc_roles_claim
        assert mappers["directorate"]["claim.name"] == Settings().oidc_directorate_claim


def test_the_engine_client_sends_the_browser_back_to_the_engines_oauth2_login_and_web_apps() -> None:
    """Spring Security's OAuth2 login (deploy/engine SsoConfiguration, registration `oidc`)."""
    realm = json.loads(keycloak_realm.REALM_FILE.read_text(encoding="utf-8"))
    (client,) = [c for c in realm["clients"] if c["clientId"] == "operaton-webapps"]
    assert client["redirectUris"] == ["http://127.0.0.1:8080/login/oauth2/code/oidc"]
    assert client["attributes"]["post.logout.redirect.uris"] == "http://127.0.0.1:8080/operaton/app/*"
    assert client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is False
    mappers = {m["name"]: m["config"] for m in client["protocolMappers"]}
    # The engine reads user and groups from the ID token (OidcUser), so the claim must be in it.
    assert mappers["groups"]["claim.name"] == "groups"
    assert mappers["groups"]["id.token.claim"] == "true"
    assert mappers["groups"]["full.path"] == "false"


def test_the_stack_starts_the_engine_with_single_sign_on_at_the_realms_engine_client() -> None:
    """deploy/local/stack.py gives the engine the profile oidc, the realm's
    issuer and the secret the realm file gives operaton-webapps (application-oidc.yaml reads them)."""
    from deploy.local import keycloak, stack

    env = stack._engine_sso_env(stack.Layout.from_env())
    realm = json.loads(keycloak_realm.REALM_FILE.read_text(encoding="utf-8"))
    (client,) = [c for c in realm["clients"] if c["clientId"] == env["OIDC_CLIENT_ID"]]
    assert env["SPRING_PROFILES_ACTIVE"] == "oidc"
    assert env["OIDC_CLIENT_ID"] == "operaton-webapps"
    assert env["OIDC_CLIENT_SECRET"] == client["secret"]
    assert env["OIDC_ISSUER"] == keycloak.Instance.from_env().issuer
    assert env["OIDC_ISSUER"].endswith(f"/realms/{realm['realm']}")
