"""The local Keycloak realm `belediye`, generated from the sources the engine's identity uses:
`python -m deploy.local.keycloak_realm [--check]` writes (or checks) keycloak/belediye-realm.json.

Users are the sample users of users.json (password `demo`), their realm roles are our Role values
and their groups are the engine's candidate groups (engine_identity's memberships), so the token's
`groups` claim can later become the engine's authentication. Tokens carry `preferred_username`,
`roles` (realm roles), `directorate` (a user attribute) and, for the clients that call our API,
the audience `belediye-hizmet-takip`. The `belediye-cli` client allows the password grant: it
exists in this local realm only (tests, scripts); production realms must not have it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy.local.engine_identity import CATALOGUE, USERS, _groups, _memberships
from services.access import Role

REALM = "belediye"
REALM_FILE = Path(__file__).with_name("keycloak") / "belediye-realm.json"
AUDIENCE = "belediye-hizmet-takip"  # services.config Settings.oidc_audience's default
LOCAL_CLIENT_SECRET = "yerel-operaton-webapps-gizli"  # noqa: S105 - local realm only
ENGINE_URL = "http://127.0.0.1:8080"  # the local engine (deploy/local/stack.py engine_url)
ROLE_NAMES = {
    Role.OPERATOR: "Çağrı merkezi operatörü",
    Role.DIRECTORATE_STAFF: "Müdürlük personeli",
    Role.DIRECTOR: "Müdür",
    Role.PUBLIC_RELATIONS: "Halkla ilişkiler",
    Role.IMS_OFFICE: "EYS Şefliği",
    Role.ADMINISTRATOR: "Sistem yöneticisi",
}


def _claim(config: dict[str, str], *, id_token: bool = True) -> dict[str, str]:
    return {
        **config,
        "access.token.claim": "true",
        "id.token.claim": str(id_token).lower(),
        "userinfo.token.claim": "true",
        "introspection.token.claim": "true",
    }


def _mappers(*, audience: bool) -> list[dict[str, Any]]:
    """What our API (roles, directorate, audience) and the engine (groups) read from a token."""
    mappers: list[dict[str, Any]] = [
        {
            "name": "roles",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-usermodel-realm-role-mapper",
            "config": _claim({"claim.name": "roles", "multivalued": "true", "jsonType.label": "String"}),
        },
        {
            "name": "directorate",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-usermodel-attribute-mapper",
            "config": _claim(
                {"user.attribute": "directorate", "claim.name": "directorate", "jsonType.label": "String"}
            ),
        },
        {
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": _claim({"claim.name": "groups", "full.path": "false"}),
        },
    ]
    if audience:
        mappers.append(
            {
                "name": "audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": AUDIENCE,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                    "introspection.token.claim": "true",
                },
            }
        )
    return mappers


def _clients() -> list[dict[str, Any]]:
    common = {
        "enabled": True,
        "protocol": "openid-connect",
        "implicitFlowEnabled": False,
        "frontchannelLogout": True,
    }
    return [
        {
            **common,
            "clientId": "belediye-api",
            "name": "Belediye Hizmet Takip API",
            "description": f"The API as a resource (bearer tokens only); tokens name it as {AUDIENCE}.",
            "bearerOnly": True,
            "publicClient": False,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
        },
        {
            **common,
            "clientId": "operaton-webapps",
            "name": "Operaton Tasklist, Cockpit, Admin",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": LOCAL_CLIENT_SECRET,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": False,
            # Spring Security's OAuth2 login answers on /login/oauth2/code/<registration id>; after
            # the sign-out at Keycloak the browser goes back to a web app (RP-initiated logout).
            "redirectUris": [f"{ENGINE_URL}/login/oauth2/code/oidc"],
            "webOrigins": ["+"],
            # A sign-out anywhere (our staff pages, Keycloak) ends the web apps' session too:
            # Spring Security's OIDC back-channel logout endpoint (Keycloak posts a logout token;
            # front-channel logout would need the browser and wins when on, so it is off).
            "frontchannelLogout": False,
            "attributes": {
                "post.logout.redirect.uris": f"{ENGINE_URL}/operaton/app/*",
                "backchannel.logout.url": f"{ENGINE_URL}/logout/connect/back-channel/oidc",
                "backchannel.logout.session.required": "true",
            },
            "protocolMappers": _mappers(audience=False),
        },
        {
            **common,
            "clientId": "belediye-personel",
            "name": "Personel sayfaları",
            "publicClient": True,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": False,
            "redirectUris": ["http://127.0.0.1:8000/*"],
            "webOrigins": ["+"],
            "frontchannelLogout": False,
            "attributes": {
                "pkce.code.challenge.method": "S256",
                "post.logout.redirect.uris": "http://127.0.0.1:8000/*",
                # A sign-out in Tasklist (or at Keycloak) ends the staff pages' session too.
                "backchannel.logout.url": "http://127.0.0.1:8000/personel/cikis/arka-kanal",
                "backchannel.logout.session.required": "true",
            },
            "protocolMappers": _mappers(audience=True),
        },
        {
            **common,
            "clientId": "belediye-cli",
            "name": "Yerel komut satırı ve testler (yalnızca yerel)",
            "description": "Password grant for tests and scripts; exists in the local realm only.",
            "publicClient": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": True,
            "protocolMappers": _mappers(audience=True),
        },
    ]


def _user_profile() -> dict[str, Any]:
    """Keycloak's default user profile plus `directorate` (admins set it; users only see it)."""
    everyone = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    name_checks = {"length": {"max": 255}, "person-name-prohibited-characters": {}}
    return {
        "attributes": [
            {
                "name": "username",
                "displayName": "${username}",
                "validations": {
                    "length": {"min": 3, "max": 255},
                    "username-prohibited-characters": {},
                    "up-username-not-idn-homograph": {},
                },
                "permissions": everyone,
                "multivalued": False,
            },
            {
                "name": "email",
                "displayName": "${email}",
                "validations": {"email": {}, "length": {"max": 255}},
                "required": {"roles": ["user"]},
                "permissions": everyone,
                "multivalued": False,
            },
            {
                "name": "firstName",
                "displayName": "${firstName}",
                "validations": name_checks,
                "required": {"roles": ["user"]},
                "permissions": everyone,
                "multivalued": False,
            },
            {
                "name": "lastName",
                "displayName": "${lastName}",
                "validations": name_checks,
                "required": {"roles": ["user"]},
                "permissions": everyone,
                "multivalued": False,
            },
            {
                "name": "directorate",
                "displayName": "Müdürlük",
                "validations": {"length": {"max": 32}},
                "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
                "multivalued": False,
            },
        ],
        "groups": [
            {
                "name": "user-metadata",
                "displayHeader": "User metadata",
                "displayDescription": "Attributes, which refer to user metadata",
            }
        ],
    }


def realm() -> dict[str, Any]:
    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    directorate_of = {d["staffGroup"]: d["code"] for d in catalogue["directorates"]}
    directorate_of |= {d["directorGroup"]: d["code"] for d in catalogue["directorates"]}
    groups = [
        {
            "name": group_id,
            "path": f"/{group_id}",
            "attributes": {"title": [title]}
            | ({"directorate": [directorate_of[group_id]]} if group_id in directorate_of else {}),
        }
        for group_id, title in dict(_groups(catalogue)).items()
    ]
    users = []
    for user in json.loads(USERS.read_text(encoding="utf-8")):
        first, _, last = user["name"].rpartition(" ")
        users.append(
            {
                "username": user["username"],
                "enabled": True,
                "email": f"{user['username']}@belediye.local",
                "emailVerified": True,
                "firstName": first or user["name"],
                "lastName": last,
                "attributes": {"directorate": [user["directorate"]]} if user.get("directorate") else {},
                "credentials": [{"type": "password", "value": user["password"], "temporary": False}],
                "realmRoles": list(user["roles"]),
                "groups": [f"/{group}" for group in _memberships(user, catalogue)],
            }
        )
    return {
        "realm": REALM,
        "displayName": "Belediye Hizmet Takip",
        "enabled": True,
        "sslRequired": "external",  # HTTP on 127.0.0.1 locally; HTTPS from anywhere else
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "bruteForceProtected": True,
        "internationalizationEnabled": True,
        "supportedLocales": ["tr", "en"],
        "defaultLocale": "tr",
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "roles": {
            "realm": [{"name": str(role), "description": ROLE_NAMES[role]} for role in Role],
        },
        "groups": groups,
        "users": users,
        "clients": _clients(),
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(_user_profile(), ensure_ascii=False)]},
                }
            ]
        },
    }


def render() -> str:
    return json.dumps(realm(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.keycloak_realm", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the file differs from its sources")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not REALM_FILE.exists() or REALM_FILE.read_text(encoding="utf-8") != text:
            print(f"{REALM_FILE} is out of date: run python -m deploy.local.keycloak_realm", file=sys.stderr)  # noqa: T201
            return 1
        return 0
    REALM_FILE.parent.mkdir(parents=True, exist_ok=True)
    REALM_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
