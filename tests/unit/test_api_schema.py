"""Schemathesis against the API's own OpenAPI schema: generated requests for every operation,
with real credentials, on real PostgreSQL (rolled back): no 5xx, and every answer matches the
schema it documents (status, content type, body)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from services import catalogue
from services.api.app import create_app
from services.bootstrap import Container
from tests.credentials import AsCaller


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    catalogue.load_seed_if_empty(container.uow)
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client


# The schema as the app publishes it; the calls go to the app above, with its test database.
# /health answers 503 here by design (no engine in unit tests); its answers are tested on their own.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app()).exclude(path="/health")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
STATUSES: Counter[int] = Counter()
OPERATIONS: set[str] = set()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema_and_never_5xx(
    case: Any, client: TestClient, as_admin: AsCaller
) -> None:
    headers: dict[str, str] = {}
    if case.method == "POST" and case.path == "/requests":
        channel = case.body.get("channel") if isinstance(case.body, dict) else None
        headers["X-API-Key"] = as_admin.keys.get(str(channel), as_admin.keys["web"])
    else:
        headers["Authorization"] = f"Bearer {as_admin.token}"
    # Our credentials replace whatever the generator put in the security headers.
    case.headers = {
        **{k: v for k, v in (case.headers or {}).items() if k.lower() not in {"authorization", "x-api-key"}},
        **headers,
    }
    # Sent to the app started on the test database (the schema's own app has no database).
    response = case.call_and_validate(checks=CHECKS, app=client.app)
    STATUSES[response.status_code] += 1
    OPERATIONS.add(case.operation.label)


def test_the_generated_calls_got_through_to_the_operations() -> None:
    """Not vacuous: the calls above were authorised and many were accepted (run after them)."""
    total = sum(STATUSES.values())
    print(f"schemathesis: {total} calls over {len(OPERATIONS)} operations, statuses {dict(STATUSES)}")
    assert len(OPERATIONS) >= 25
    assert total >= 300
    assert sum(n for status, n in STATUSES.items() if 200 <= status < 300) >= 50
    assert STATUSES[401] == 0, "every generated call carried valid credentials"
