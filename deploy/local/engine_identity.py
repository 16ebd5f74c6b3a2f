"""The engine's users, groups and authorizations for Tasklist, made idempotently by `make up`.

Groups: every candidate group the diagrams name (the roles' groups and each directorate's staff
and director groups from the catalogue); users: the sample users of `users.json` (one per role)
with their memberships, and no password anyone knows: staff sign in at the identity provider
(Keycloak, whose password `users.json` gives) and call the REST API with its tokens; only `demo`,
the engine's break-glass administrator, has an engine password. Every group may open Tasklist,
see the shared filters and read the process definitions; the engine itself grants a candidate
group the right to see and work on the tasks it is a candidate for, so a person sees their own
groups' tasks only. Tasklist's shared filters are engine_filters'.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploy.local.engine_filters import ensure_filters
from services.config import get_settings
from services.operaton import Operaton
from services.process_engine import EngineRefused

REPO = Path(__file__).resolve().parents[2]
USERS = Path(__file__).with_name("users.json")
CATALOGUE = REPO / "services" / "data" / "katalog.json"

ADMIN_GROUP = "operaton-admin"  # the engine's built-in administrators' group
ROLE_GROUPS = {
    "operator": ["operatorler"],
    "public-relations": ["halkla-iliskiler"],
    "ims-office": ["eys-sefligi"],
    "administrator": [ADMIN_GROUP, "sistem-yoneticileri"],
}
GROUP_NAMES = {
    "operatorler": "Çağrı merkezi operatörleri",
    "halkla-iliskiler": "Halkla İlişkiler Müdürlüğü",
    "sistem-yoneticileri": "Sistem yöneticileri",
    ADMIN_GROUP: "Motor yöneticileri",
}
# Authorization resource types and permissions (Operaton's numbering and names).
APPLICATION, FILTER, PROCESS_DEFINITION = 0, 5, 6
GRANT = 1


def _groups(catalogue: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield from GROUP_NAMES.items()
    for directorate in catalogue["directorates"]:
        yield directorate["staffGroup"], f"{directorate['name']} — personel"
        yield directorate["directorGroup"], f"{directorate['name']} — müdür"
    for office in catalogue.get("offices", []):
        yield office["staffGroup"], office["name"]


def _memberships(user: dict[str, Any], catalogue: dict[str, Any]) -> list[str]:
    directorates = {d["code"]: d for d in catalogue["directorates"]}
    groups: list[str] = []
    for role in user["roles"]:
        groups += ROLE_GROUPS.get(role, [])
        directorate = directorates.get(user.get("directorate", ""))
        if role == "directorate-staff" and directorate:
            groups.append(directorate["staffGroup"])
        if role == "director" and directorate:
            groups += [directorate["directorGroup"], directorate["staffGroup"]]
    return groups


def _ensure(engine: Operaton, create: str, body: dict[str, Any]) -> bool:
    """Create, or leave what exists; True when it was created."""
    try:
        engine.call("POST", create, json=body)
    except EngineRefused as error:
        if "exist" in error.message.lower() or "duplicate" in error.message.lower():
            return False
        raise
    return True


def _grant(
    engine: Operaton, group: str, resource_type: int, resource_id: str, permissions: list[str]
) -> None:
    existing = engine.json(
        "GET",
        "/authorization",
        params={"groupIdIn": group, "resourceType": resource_type, "resourceId": resource_id},
    )
    if existing:
        return
    engine.call(
        "POST",
        "/authorization/create",
        json={
            "type": GRANT,
            "permissions": permissions,
            "groupId": group,
            "resourceType": resource_type,
            "resourceId": resource_id,
        },
    )


def _forget_known_password(engine: Operaton, user: dict[str, Any]) -> None:
    """An engine made by an earlier release gave sample users the password `demo`: replaced by one
    nobody knows (the administrator's own password authorises the change)."""
    offered = {"username": user["username"], "password": user["password"]}
    known = engine.json("POST", "/identity/verify", json=offered)
    if known.get("authenticated"):
        engine.call(
            "PUT",
            f"/user/{user['username']}/credentials",
            json={
                "password": secrets.token_urlsafe(32),
                "authenticatedUserPassword": get_settings().engine_password,
            },
        )


def ensure_identity(engine: Operaton) -> tuple[int, int]:
    """Groups, users, memberships, authorizations and Tasklist's filters; returns (groups, users)
    made now."""
    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    made_groups = made_users = 0
    groups = dict(_groups(catalogue))
    for group_id, name in groups.items():
        made_groups += _ensure(engine, "/group/create", {"id": group_id, "name": name, "type": "WORKFLOW"})
        if group_id != ADMIN_GROUP:
            _grant(engine, group_id, APPLICATION, "tasklist", ["ACCESS"])
            _grant(engine, group_id, FILTER, "*", ["READ"])
            # The definition's name and diagram in Tasklist; not its tasks: a person sees the tasks
            # their groups are candidates for (the engine grants those per task).
            _grant(engine, group_id, PROCESS_DEFINITION, "*", ["READ"])
    for user in json.loads(USERS.read_text(encoding="utf-8")):
        first, _, last = user["name"].rpartition(" ")
        made_users += _ensure(
            engine,
            "/user/create",
            {
                "profile": {
                    "id": user["username"],
                    "firstName": first or user["name"],
                    "lastName": last,
                    "email": f"{user['username']}@belediye.local",
                },
                "credentials": {"password": secrets.token_urlsafe(32)},
            },
        )
        _forget_known_password(engine, user)
        for group_id in _memberships(user, catalogue):
            if not engine.json("GET", "/user", params={"id": user["username"], "memberOfGroup": group_id}):
                engine.call("PUT", f"/group/{group_id}/members/{user['username']}")
    ensure_filters(engine)
    return made_groups, made_users
