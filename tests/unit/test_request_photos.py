"""The citizen's photo reaches the directorate's staff through the API: listed without bytes, read
with its SHA-256, and refused to another directorate."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deploy.local.mailbox import read_mailbox
from services import catalogue, request_attributes
from services import citizen_requests as requests
from services.api.app import create_app
from services.bootstrap import Container
from services.models import Category
from tests.credentials import bearer
from tests.issuer import SampleIssuer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:
        yield test_client


def _routed_request_with_photo(container: Container, attributes: dict[str, Any] | None = None) -> uuid.UUID:
    catalogue.load_seed_if_empty(container.uow)
    request, _ = requests.submit(
        container.uow,
        requests.Intake(
            channel="web",
            channel_reference=f"WEB-{uuid.uuid4()}",
            request_type="sikayet",
            category_code="YOL-CUKUR",
            description="Kaldırım kenarındaki çukur her yağmurda büyüyor.",
            latitude=36.78,
            longitude=34.60,
            contact=requests.Contact("Çağla Şen", None, "cagla@ornek.local", None, "eposta"),
            photos=(requests.Photo("çukur öğleden sonra.png", "image/png", PNG),),
            attributes=attributes,
        ),
    )
    requests.route(
        container.uow,
        request_id=request.id,
        category_code="YOL-CUKUR",
        process_instance_id=str(uuid.uuid4()),
        activity_instance_id=str(uuid.uuid4()),
    )
    return request.id


def test_the_directorate_lists_and_reads_the_photo(
    client: TestClient, container: Container, issuer: SampleIssuer
) -> None:
    request_id = _routed_request_with_photo(container)
    staff = bearer(issuer.issue("yol.personel"))

    listed = client.get(f"/requests/{request_id}/photos", headers=staff)
    assert listed.status_code == 200, listed.text
    (photo,) = listed.json()
    assert photo["fileName"] == "çukur öğleden sonra.png"
    assert (photo["contentType"], photo["size"]) == ("image/png", len(PNG))
    assert photo["sha256"] == hashlib.sha256(PNG).hexdigest()

    read = client.get(f"/requests/{request_id}/photos/{photo['id']}", headers=staff)
    assert read.status_code == 200
    assert read.content == PNG
    assert read.headers["x-content-sha256"] == photo["sha256"]
    assert read.headers["content-type"] == "image/png"
    assert "%C3%A7ukur" in read.headers["content-disposition"]

    unknown = client.get(f"/requests/{request_id}/photos/{uuid.uuid4()}", headers=staff)
    assert unknown.status_code == 404


def test_another_directorate_and_the_channels_are_refused(
    client: TestClient, container: Container, issuer: SampleIssuer
) -> None:
    request_id = _routed_request_with_photo(container)
    other = client.get(f"/requests/{request_id}/photos", headers=bearer(issuer.issue("park.personel")))
    assert other.status_code == 403
    assert other.json()["missingPermission"] == "requests:read-all"  # beyond its own directorate
    assert client.get(f"/requests/{request_id}/photos").status_code == 401


async def test_the_directorate_mail_gives_the_answers_and_the_photos(
    container: Container, mailbox: tuple[int, Path]
) -> None:
    catalogue.load_seed_if_empty(container.uow)
    with container.uow() as uow:
        category = uow.session.get(Category, "YOL-CUKUR")
        assert category is not None
        category.attributes = request_attributes.check_definitions(
            [
                request_attributes.Definition.model_validate(
                    {
                        "code": "cukur-boyutu",
                        "datatype": "singlevaluelist",
                        "description": "Çukur ne büyüklükte?",
                        "values": [{"key": "buyuk", "name": "Büyük (1 m'den fazla)"}],
                    }
                )
            ]
        )
        uow.commit()
    request_id = _routed_request_with_photo(container, {"cukur-boyutu": "buyuk"})

    await requests.notify_directorate(
        container.uow, container.mailer, request_id=request_id, activity_instance_id="a1", tasklist_url="-"
    )

    (mail,) = read_mailbox(mailbox[1])
    body = mail.get_content().replace("\r\n", "\n")
    assert "Ek bilgiler:\nÇukur ne büyüklükte?: Büyük (1 m'den fazla)\n" in body
    assert f"Fotoğraflar: 1 fotoğraf (GET /requests/{request_id}/photos)" in body
