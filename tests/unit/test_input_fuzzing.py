"""Bad input of every kind gets a clear 4xx, never a 500; good Turkish text survives intact.

Property-based (hypothesis) over the intake and nonconformity schemas with Turkish letters, very
long strings, control characters and injection strings, on real PostgreSQL (rolled back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import catalogue
from services.api.app import create_app
from services.bootstrap import Container
from services.models import CitizenRequest
from tests.credentials import AsCaller

INJECTIONS = [
    "'; DROP TABLE citizen_requests; --",
    '" OR 1=1 --',
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "../../etc/passwd",
]
TURKISH = "abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ0123456789 .,;:!?()-'\"\n\t"
texts = st.one_of(
    st.text(alphabet=TURKISH, max_size=5000),
    st.text(max_size=300),  # any Unicode, control characters included
    st.sampled_from(INJECTIONS),
    st.text(alphabet=TURKISH, min_size=4001, max_size=20000),  # over every limit
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture()
def client(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    catalogue.load_seed_if_empty(container.uow)
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        test_client.auth = as_admin
        yield test_client


def _intake(description: str, name: str, address: str, reference: str, category: str) -> dict[str, Any]:
    return {
        "channel": "web",
        "channelReference": reference,
        "type": "sikayet",
        "categoryCode": category,
        "description": description,
        "location": {"address": address},
        "citizen": {"fullName": name, "email": "vatandas@ornek.local"},
        "preferredAnswerChannel": "eposta",
    }


@FUZZ
@given(description=texts, name=texts, address=texts, reference=texts, category=texts)
def test_intake_never_answers_5xx_and_stores_what_it_accepts_exactly(
    client: TestClient,
    container: Container,
    description: str,
    name: str,
    address: str,
    reference: str,
    category: str,
) -> None:
    response = client.post("/requests", json=_intake(description, name, address, reference, category))
    assert response.status_code in (200, 201, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"], "a 422 names what was wrong"
        return
    tracking = response.json()["trackingNumber"]
    with container.uow() as uow:
        stored = uow.session.query(CitizenRequest).filter_by(tracking_code=tracking).one()
        assert stored.description == description  # Turkish letters, quotes and markup unchanged
    status = client.get(f"/requests/{tracking}")
    assert status.status_code == 200 and "Talebiniz alındı." in status.text


@FUZZ
@given(description=texts, found_by=texts, reference=texts, directorate=texts)
def test_nonconformity_reports_never_answer_5xx(
    client: TestClient, description: str, found_by: str, reference: str, directorate: str
) -> None:
    body = {
        "directorateCode": directorate,
        "description": description,
        "source": "calisan",
        "foundBy": found_by,
        "reference": reference,
    }
    response = client.post("/nonconformities", json=body)
    assert response.status_code in (200, 201, 409, 422), response.text


@FUZZ
@given(value=texts)
def test_lookups_and_filters_with_any_text_never_answer_5xx(client: TestClient, value: str) -> None:
    for response in (
        client.get(f"/requests/{quote(value, safe='')}"),
        client.get("/requests", params={"directorate": value[:40], "status": value[:30]}),
        client.get("/difs", params={"directorate": value[:40]}),
        client.get(f"/difs/{uuid.uuid4()}", params={"x": value[:100]}),
    ):
        assert response.status_code < 500, (response.request.url, response.text)
