"""Who may do what, through the API with real credentials: channel keys (hashed, one channel each,
rate-limited) and staff tokens validated against a real issuer's JWKS, scoped to a directorate."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services import api_keys, nonconformities
from services.api.app import create_app
from services.bootstrap import Container
from services.models import ApiKey
from tests.credentials import bearer
from tests.issuer import SampleIssuer


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    # Keys are trusted for no time here, so a revocation shows at once.
    settings = container.settings.model_copy(update={"api_key_cache_seconds": 0})
    with TestClient(create_app(dataclasses.replace(container, settings=settings))) as test_client:
        yield test_client


def _intake(channel: str = "web") -> dict[str, Any]:
    return {
        "channel": channel,
        "channelReference": f"REF-{uuid.uuid4()}",
        "type": "istek",
        "categoryCode": "PARK-AGAC",
        "description": "Parktaki çınar ağacı devrilmek üzere, çocuklar altında oynuyor.",
        "location": {"address": "Çamlıbel Mah. Atatürk Parkı, Mersin"},
        "citizen": {"fullName": "Gülşen Çağlar", "email": "gulsen@ornek.local"},
        "preferredAnswerChannel": "eposta",
    }


def _nonconformity(client: TestClient, token: str, directorate: str) -> str:
    response = client.post(
        "/nonconformities",
        headers=bearer(token),
        json={
            "directorateCode": directorate,
            "description": "Denetimde bakım kayıtlarının eksik tutulduğu görüldü.",
            "source": "ic-tetkik",
            "foundBy": "denetçi",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# ---------------------------------------------------------------- channels


def test_intake_needs_a_key_of_its_own_channel(client: TestClient, container: Container) -> None:
    secret = api_keys.create(container.uow, name="web-sitesi", channel="web", requests_per_minute=60)

    missing = client.post("/requests", json=_intake())
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "ApiKey"
    assert "X-API-Key" in missing.json()["detail"]

    wrong = client.post("/requests", json=_intake(), headers={"X-API-Key": secret + "x"})
    assert wrong.status_code == 401

    accepted = client.post("/requests", json=_intake(), headers={"X-API-Key": secret})
    assert accepted.status_code == 201, accepted.text

    other_channel = client.post("/requests", json=_intake("cimer"), headers={"X-API-Key": secret})
    assert other_channel.status_code == 403
    assert other_channel.json()["missingPermission"] == "intake:cimer"

    # A key is for intake only: staff endpoints want a person.
    assert client.get("/requests", headers={"X-API-Key": secret}).status_code == 401


def test_keys_are_stored_hashed_and_a_revoked_key_is_refused(
    client: TestClient, container: Container
) -> None:
    secret = api_keys.create(container.uow, name="cimer-koprusu", channel="cimer", requests_per_minute=60)
    with container.uow() as uow:
        row = uow.session.scalars(select(ApiKey).where(ApiKey.name == "cimer-koprusu")).one()
        assert secret not in (row.secret_sha256, row.prefix)
        assert row.secret_sha256 == api_keys.digest(secret)
        assert secret.startswith(f"bht_{row.prefix}_")
    with pytest.raises(api_keys.ApiKeyRefused, match="active key named"):
        api_keys.create(container.uow, name="cimer-koprusu", channel="cimer", requests_per_minute=60)

    assert client.post("/requests", json=_intake("cimer"), headers={"X-API-Key": secret}).status_code == 201
    api_keys.revoke(container.uow, name="cimer-koprusu")
    refused = client.post("/requests", json=_intake("cimer"), headers={"X-API-Key": secret})
    assert refused.status_code == 401
    assert "iptal" in refused.json()["detail"]


def test_the_limit_is_one_for_all_api_processes(container: Container) -> None:
    """Two API processes behind a load balancer count against the same bucket (PostgreSQL)."""
    key = api_keys.create(container.uow, name="iki-surec", channel="mobil", requests_per_minute=2)
    settings = container.settings.model_copy(update={"api_key_cache_seconds": 0})
    shared = dataclasses.replace(container, settings=settings)
    with TestClient(create_app(shared)) as first, TestClient(create_app(shared)) as second:
        answers = [
            app.post("/requests", json=_intake("mobil"), headers={"X-API-Key": key}).status_code
            for app in (first, second, first, second)
        ]
    assert answers == [201, 201, 429, 429]


def test_each_key_is_rate_limited_with_retry_after(client: TestClient, container: Container) -> None:
    slow = api_keys.create(
        container.uow, name="sosyal-medya-botu", channel="sosyal-medya", requests_per_minute=2
    )
    other = api_keys.create(container.uow, name="mobil-uygulama", channel="mobil", requests_per_minute=60)
    answers = [
        client.post("/requests", json=_intake("sosyal-medya"), headers={"X-API-Key": slow}).status_code
        for _ in range(3)
    ]
    assert answers == [201, 201, 429]
    limited = client.post("/requests", json=_intake("sosyal-medya"), headers={"X-API-Key": slow})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert "dakikada en çok 2" in limited.json()["detail"]
    # Another key is not slowed down by it.
    assert client.post("/requests", json=_intake("mobil"), headers={"X-API-Key": other}).status_code == 201


# ---------------------------------------------------------------- staff tokens


def test_staff_endpoints_need_a_valid_token(client: TestClient, issuer: SampleIssuer, tmp_path: Path) -> None:
    missing = client.get("/difs")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"

    expired = issuer.issue("yonetici", iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    assert "süresi dolmuş" in client.get("/difs", headers=bearer(expired)).json()["detail"]

    other_audience = issuer.issue("yonetici", aud="baska-uygulama")
    assert client.get("/difs", headers=bearer(other_audience)).status_code == 401

    other_issuer = issuer.issue("yonetici", iss="http://127.0.0.1:1/sahte")
    assert client.get("/difs", headers=bearer(other_issuer)).status_code == 401

    # Same claims and key id, signed by a key the issuer never published.
    impostor = SampleIssuer(issuer.issuer, issuer.audience, tmp_path / "impostor.pem")
    impostor.key_id = issuer.key_id
    forged = client.get("/difs", headers=bearer(impostor.issue("yonetici")))
    assert forged.status_code == 401

    assert client.get("/difs", headers=bearer("bir-jwt-degil")).status_code == 401
    assert client.get("/difs", headers=bearer(issuer.issue("yonetici"))).status_code == 200


def test_a_missing_permission_is_a_403_that_names_it(client: TestClient, issuer: SampleIssuer) -> None:
    director = issuer.issue("yol.mudur")
    change = {
        "name": "Yol Yapım ve Bakım Dairesi Başkanlığı",
        "email": "yol.bakim@belediye.local",
        "directorEmail": "yol.mudur@belediye.local",
        "staffGroup": "mudurluk-yol",
        "directorGroup": "mudur-yol",
        "headEmail": "yol.baskan@belediye.local",
    }
    refused = client.put("/catalogue/directorates/YOL", json=change, headers=bearer(director))
    assert refused.status_code == 403
    assert refused.json()["missingPermission"] == "catalogue:write"
    assert "director" in refused.json()["detail"]
    assert client.get("/catalogue/directorates", headers=bearer(director)).status_code == 200
    done = client.put("/catalogue/directorates/YOL", json=change, headers=bearer(issuer.issue("yonetici")))
    assert done.status_code == 200, done.text

    check = client.post("/system-checks", headers=bearer(issuer.issue("operator")))
    assert check.status_code == 403
    assert check.json()["missingPermission"] == "system-checks:run"
    delete = client.delete(f"/difs/{uuid.uuid4()}", headers=bearer(director))
    assert delete.json()["missingPermission"] == "records:delete"


def test_directorate_staff_see_their_own_directorate_only(
    client: TestClient, container: Container, issuer: SampleIssuer
) -> None:
    ims = issuer.issue("eys.uzman")
    yol_id = _nonconformity(client, ims, "YOL")
    park_id = _nonconformity(client, ims, "PARK")
    yol_dif = nonconformities.open_finding(container.uow, nonconformity_id=uuid.UUID(yol_id))
    park_dif = nonconformities.open_finding(container.uow, nonconformity_id=uuid.UUID(park_id))
    staff = issuer.issue("yol.personel")

    listed = client.get("/nonconformities", headers=bearer(staff)).json()["items"]
    assert {item["directorateCode"] for item in listed} == {"YOL"}
    assert yol_id in {item["id"] for item in listed}
    assert client.get(f"/nonconformities/{yol_id}", headers=bearer(staff)).status_code == 200
    other = client.get(f"/nonconformities/{park_id}", headers=bearer(staff))
    assert other.status_code == 403
    assert other.json()["missingPermission"] == "nonconformities:read-all"
    asked = client.get("/nonconformities", params={"directorate": "PARK"}, headers=bearer(staff))
    assert asked.status_code == 403

    difs = client.get("/difs", headers=bearer(staff)).json()["items"]
    assert {d["directorateCode"] for d in difs} == {"YOL"}
    assert client.get(f"/difs/{yol_dif.id}", headers=bearer(staff)).status_code == 200
    assert (
        client.get(f"/difs/{park_dif.id}", headers=bearer(staff)).json()["missingPermission"]
        == "difs:read-all"
    )
    assert client.get(f"/difs/{park_dif.id}/report.pdf", headers=bearer(staff)).status_code == 403
    assert client.get("/findings", headers=bearer(staff)).status_code == 200
    assert {f["directorateCode"] for f in client.get("/findings", headers=bearer(staff)).json()["items"]} == {
        "YOL"
    }

    # The IMS office sees every directorate's DİFs; Public Relations every nonconformity.
    everyone = {
        d["id"] for d in client.get("/difs", params={"size": 200}, headers=bearer(ims)).json()["items"]
    }
    assert {str(yol_dif.id), str(park_dif.id)} <= everyone
    pr = issuer.issue("halkla.iliskiler")
    assert client.get(f"/nonconformities/{park_id}", headers=bearer(pr)).status_code == 200
    # Unknown DİFs stay 404 (not 403) for everyone.
    assert client.get(f"/difs/{uuid.uuid4()}", headers=bearer(staff)).status_code == 404


def test_the_citizen_needs_only_the_tracking_number(client: TestClient, container: Container) -> None:
    secret = api_keys.create(container.uow, name="alo-185", channel="cagri-merkezi", requests_per_minute=60)
    created = client.post("/requests", json=_intake("cagri-merkezi"), headers={"X-API-Key": secret}).json()
    status = client.get(f"/requests/{created['trackingNumber']}")
    assert status.status_code == 200
    assert status.json()["trackingNumber"] == created["trackingNumber"]
    assert "Gülşen" not in status.text
