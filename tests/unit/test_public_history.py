"""The lines of a request's public history are message templates (medium `durum`) on real
PostgreSQL (rolled back per test): today's wording, an administrator's new version, the length of
the column, and what GET /requests/{trackingNumber} shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services import citizen_requests, wording
from services.api.app import create_app
from services.bootstrap import Container
from services.models import CitizenRequest, RequestEvent
from tests.credentials import AsCaller

# What services/citizen_requests.PUBLIC_TEXT said before the texts became templates, filled.
FORMER: dict[str, tuple[dict[str, str], str]] = {
    "alindi": ({}, "Talebiniz alındı."),
    "yonlendirildi": (
        {"mudurluk": "Yol Yapım ve Bakım Dairesi Başkanlığı"},
        "Talebiniz ilgili müdürlüğe yönlendirildi: Yol Yapım ve Bakım Dairesi Başkanlığı.",
    ),
    "bilgi-istendi": ({}, "Talebinizle ilgili sizden ek bilgi istendi."),
    "vatandas-yanitladi": ({}, "Ek bilgi yanıtınız alındı."),
    "yanitlandi": ({}, "Talebiniz sonuçlandı; yanıtınız gönderildi."),
    "yeniden-acildi": ({}, "Talebiniz yeniden değerlendirilmek üzere müdürlüğe iletildi."),
    "kuruma-yonlendirildi": (
        {"kurum": "MESKİ Genel Müdürlüğü (su ve kanalizasyon)"},
        "Talebiniz görev alanı nedeniyle MESKİ Genel Müdürlüğü (su ve kanalizasyon) kurumuna yönlendirildi.",
    ),
    "birlestirildi": (
        {"onceki_takip_no": "BI-WXYZ-2345-6789-ABCD"},
        "Talebiniz aynı konudaki önceki bir taleple birleştirildi: BI-WXYZ-2345-6789-ABCD.",
    ),
    "kisisel-veriler-anonimlestirildi": (
        {},
        "Saklama süresi dolduğundan kişisel verileriniz anonimleştirildi.",
    ),
    "itiraz-edildi": ({}, "İtirazınız alındı; Halkla İlişkiler Müdürlüğü değerlendirecek."),
    "kapanis-onaylandi": ({}, "İtirazınız değerlendirildi; talebinizin kapanışı gerekçesiyle onaylandı."),
    "memnuniyet-degerlendirildi": ({}, "Değerlendirmeniz kaydedildi, teşekkür ederiz."),
}


def _submit(container: Container, category: str | None = "YOL-CUKUR") -> CitizenRequest:
    request, created = citizen_requests.submit(
        container.uow,
        citizen_requests.Intake(
            channel="web",
            channel_reference=str(uuid.uuid4()),
            request_type="sikayet",
            category_code=category,
            description="Yolda çukur var.",
            latitude=36.8,
            longitude=34.6,
            contact=citizen_requests.Contact(
                full_name="Ayşe Yıldırım",
                phone=None,
                email="ayse@example.com",
                address=None,
                preferred_channel="eposta",
            ),
        ),
    )
    assert created
    return request


def _event(container: Container, request_id: uuid.UUID, event: str, **values: Any) -> str | None:
    key = str(uuid.uuid4())  # entries of one transaction share their time: found by their key
    with container.uow() as uow:
        assert citizen_requests.add_event(uow.session, request_id, event, idempotency_key=key, **values)
        uow.commit()
        return uow.session.scalars(
            select(RequestEvent.public_text).where(RequestEvent.idempotency_key == key)
        ).one()


def test_every_former_history_line_reads_byte_for_byte_as_before(container: Container) -> None:
    shipped = {
        key.removeprefix("durum.") for key, medium, _ in wording.shipped().defaults if medium == "durum"
    }
    assert shipped == set(FORMER)
    wording.load_defaults(container.uow)
    request = _submit(container)
    for event, (values, expected) in FORMER.items():
        text = _event(container, request.id, event, **values)
        assert text is not None and text.encode() == expected.encode(), event
    # An event without a template is not shown to the citizen.
    assert _event(container, request.id, "uygunsuzluk-kaydedildi") is None


def test_a_status_line_is_one_line_without_control_characters_and_a_long_value_is_cut(
    container: Container,
) -> None:
    request = _submit(container)
    text = _event(container, request.id, "kuruma-yonlendirildi", kurum="MESKİ\r\nGenel\tMüdürlüğü\x07")
    assert text == "Talebiniz görev alanı nedeniyle MESKİ Genel Müdürlüğü kurumuna yönlendirildi."
    # The samples fit the column; a real value that does not is cut rather than lose the entry.
    long = _event(container, request.id, "kuruma-yonlendirildi", kurum="Ç" * 400)
    assert long is not None and len(long) == wording.STATUS_LENGTH and long.endswith("Ç…")


@pytest.fixture()
def client(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:  # its start stores the defaults and catalogue
        test_client.auth = as_admin
        yield test_client


def _history(client: TestClient, tracking_code: str) -> list[str]:
    status = client.get(f"/requests/{tracking_code}", auth=None)
    assert status.status_code == 200, status.text
    return [line["text"] for line in status.json()["history"]]


def _route(container: Container, request: CitizenRequest, activity: str) -> None:
    citizen_requests.route(
        container.uow,
        request_id=request.id,
        category_code=request.category_code,
        process_instance_id="surec-1",
        activity_instance_id=activity,
    )


def test_an_administrators_new_version_changes_the_next_history_entry(
    client: TestClient, container: Container
) -> None:
    request = _submit(container)
    _route(container, request, "yonlendir-1")
    before = "Talebiniz ilgili müdürlüğe yönlendirildi: Yol Yapım ve Bakım Dairesi Başkanlığı."
    assert _history(client, request.tracking_code) == ["Talebiniz alındı.", before]

    general = client.put(
        "/templates/durum.yonlendirildi/durum",
        json={"body": "Talebiniz {{ mudurluk }} birimine iletildi.\n", "note": "Daha kısa"},
    )
    assert general.status_code == 200, general.text
    assert (general.json()["version"], general.json()["changedBy"]) == (2, "yonetici")
    _route(container, request, "yonlendir-2")
    after = "Talebiniz Yol Yapım ve Bakım Dairesi Başkanlığı birimine iletildi."
    # The earlier entry keeps the words it was written with.
    assert _history(client, request.tracking_code) == ["Talebiniz alındı.", before, after]

    # The request's category may have its own line.
    own = client.put(
        "/templates/durum.yonlendirildi/durum",
        json={"body": "Çukur ihbarınız {{ mudurluk }} ekiplerinde.", "categoryCode": "YOL-CUKUR"},
    )
    assert own.status_code == 200, own.text
    _route(container, request, "yonlendir-3")
    assert _history(client, request.tracking_code)[-1] == (
        "Çukur ihbarınız Yol Yapım ve Bakım Dairesi Başkanlığı ekiplerinde."
    )


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"body": "{{ mudurluk }} " * 9}, "body", "en çok 300 karakter"),
        ({"body": "Talebiniz alındı." + "!" * 284}, "body", "301 karakter"),
        ({"subject": "Konu", "body": "{{ mudurluk }}"}, "subject", "konusu olmaz"),
        ({"body": "{{ kurum }}"}, "body", "Bilinmeyen yer tutucu"),
    ],
)
def test_a_status_line_that_would_not_fit_is_a_422(
    client: TestClient, payload: dict[str, str], field: str, message: str
) -> None:
    response = client.put("/templates/durum.yonlendirildi/durum", json=payload)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", field] and message in problem["msg"], problem
    assert client.get("/templates/durum.yonlendirildi/durum").json()["version"] == 1


def test_exactly_300_characters_fit_and_the_status_medium_is_a_path_of_its_own(client: TestClient) -> None:
    fits = client.put("/templates/durum.alindi/durum", json={"body": "Talebiniz alındı." + "!" * 283})
    assert fits.status_code == 200, fits.text
    preview = client.post(
        "/templates/durum.yonlendirildi/durum/preview", json={"values": {"mudurluk": "Park\nBahçe"}}
    )
    assert preview.json() == {"subject": "", "body": "Talebiniz ilgili müdürlüğe yönlendirildi: Park Bahçe."}
    assert client.get("/templates/durum.alindi/sms").status_code == 404
    assert client.get("/templates/vatandas.alindi/durum").status_code == 404
    assert client.get("/templates/durum.alindi/telgraf").status_code == 422
