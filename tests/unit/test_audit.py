"""The audit trail's hash (spelled out byte by byte, so that anyone can re-check the chain without
our code) and the actor: set per context, carried into threads, set by the API's authentication."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from services import audit
from services.access import Principal
from services.api.security import TokenValidator, staff
from services.config import Settings
from tests.issuer import SampleIssuer

ISTANBUL = timezone(timedelta(hours=3))
ENTRY = {
    "seq": 1,
    "at": datetime(2026, 11, 23, 10, 30, 0, 123456, tzinfo=ISTANBUL),
    "actor": "operatör.ayşe",
    "action": "update",
    "entity": "citizen_contacts",
    "entity_id": "0e3e216e-3125-4c1d-9a53-0b0c54a1d2f1",
    "detail": {"values": {"status": "kapatıldı"}, "columns": ["phone", "email"]},
}


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_json() -> None:
    payload = (
        '{"action":"update","actor":"operatör.ayşe","at":"2026-11-23T07:30:00.123456+00:00",'
        '"detail":{"columns":["phone","email"],"values":{"status":"kapatıldı"}},'
        '"entity":"citizen_contacts","entity_id":"0e3e216e-3125-4c1d-9a53-0b0c54a1d2f1","seq":1}'
    )
    expected = hashlib.sha256(("0" * 64 + payload).encode("utf-8")).hexdigest()
    assert audit.entry_hash(audit.GENESIS, **ENTRY) == expected  # type: ignore[arg-type]


def test_every_field_and_the_previous_hash_change_the_hash() -> None:
    first = audit.entry_hash(audit.GENESIS, **ENTRY)  # type: ignore[arg-type]
    changes: list[dict[str, object]] = [
        {"seq": 2},
        {"at": ENTRY["at"] + timedelta(microseconds=1)},  # type: ignore[operator]
        {"actor": "operator.ayse"},
        {"action": "read"},
        {"entity": "citizen_replies"},
        {"entity_id": "0e3e216e-3125-4c1d-9a53-0b0c54a1d2f2"},
        {"detail": {"columns": ["phone"]}},
    ]
    for change in changes:
        assert audit.entry_hash(audit.GENESIS, **{**ENTRY, **change}) != first, change  # type: ignore[arg-type]
    assert audit.entry_hash("f" * 64, **ENTRY) != first  # type: ignore[arg-type]
    # The same moment written in another time zone is the same entry.
    same = {**ENTRY, "at": datetime(2026, 11, 23, 7, 30, 0, 123456, tzinfo=UTC)}
    assert audit.entry_hash(audit.GENESIS, **same) == first  # type: ignore[arg-type]


def test_canonical_json_refuses_what_json_cannot_say_and_times_without_a_zone() -> None:
    assert audit.canonical_json({"b": 1, "a": "ğ"}) == '{"a":"ğ","b":1}'.encode()
    with pytest.raises(ValueError):
        audit.canonical_json({"x": float("nan")})
    with pytest.raises(ValueError):
        audit.iso(datetime(2026, 11, 23, 7, 30))


def test_the_actor_is_set_per_context_and_carried_into_threads() -> None:
    assert audit.current_actor() == audit.SYSTEM
    with audit.acting_as("kalite.muduru"):
        assert audit.current_actor() == "kalite.muduru"
        assert asyncio.run(asyncio.to_thread(audit.current_actor)) == "kalite.muduru"
        seen: list[str] = []
        other = threading.Thread(target=lambda: seen.append(audit.current_actor()))
        other.start()
        other.join()
        assert seen == [audit.SYSTEM]  # a bare thread starts from the default, not from ours
    assert audit.current_actor() == audit.SYSTEM
    with pytest.raises(ValueError):
        audit.set_actor(" ")


def test_the_api_names_the_signed_in_person_and_nobody_else(issuer: SampleIssuer) -> None:
    app = FastAPI()
    app.state.token_validator = TokenValidator(Settings(oidc_issuer=issuer.issuer))

    @app.get("/who")
    def who(principal: Annotated[Principal, Depends(staff)]) -> dict[str, str]:
        return {"actor": audit.current_actor()}  # a sync route: run in a worker thread

    @app.get("/anonymous")
    async def anonymous() -> dict[str, str]:
        return {"actor": await asyncio.to_thread(audit.current_actor)}

    with TestClient(app) as client:
        token = issuer.issue("yol.mudur")
        assert client.get("/who", headers={"Authorization": f"Bearer {token}"}).json() == {
            "actor": "yol.mudur"
        }
        assert client.get("/anonymous").json() == {"actor": audit.SYSTEM}
