"""A category's extra questions: defined by the administrator through the catalogue API, answered
at intake, checked alike on every channel (here the JSON API; the citizen page and Open311 use the
same check), stored with the request and never with the citizen's contact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services import request_attributes
from services.api.app import create_app
from services.bootstrap import Container
from services.models import CitizenRequest
from services.request_attributes import AnswerInvalid, Datatype, Definition
from tests.credentials import AsCaller

QUESTIONS: list[dict[str, Any]] = [
    {
        "code": "cukur-boyutu",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "Çukur ne büyüklükte?",
        "order": 1,
        "values": [{"key": "kucuk", "name": "Küçük"}, {"key": "buyuk", "name": "Büyük"}],
    },
    {
        "code": "derinlik",
        "datatype": "number",
        "description": "Yaklaşık derinlik",
        "datatypeDescription": "santimetre",
        "order": 2,
    },
    {
        "code": "zaman",
        "datatype": "multivaluelist",
        "description": "Ne zaman fark ettiniz?",
        "order": 3,
        "values": [{"key": "sabah", "name": "Sabah"}, {"key": "aksam", "name": "Akşam"}],
    },
]


@pytest.fixture()
def client(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:
        test_client.auth = as_admin
        category = {
            "name": "Yolda çukur / asfalt bozulması",
            "directorateCode": "YOL",
            "serviceDays": 5,
            "description": "Yolda çukur, asfalt bozulması ya da çökme.",
            "attributes": QUESTIONS,
        }
        response = test_client.put("/catalogue/categories/YOL-CUKUR", json=category)
        assert response.status_code == 200, response.text
        yield test_client


def _intake(attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "mobil",
        "channelReference": f"MOB-{uuid.uuid4()}",
        "type": "sikayet",
        "categoryCode": "YOL-CUKUR",
        "description": "Okul önündeki çukur büyüdü, araçlar kaçmak için karşı şeride giriyor.",
        "location": {"address": "Gazi Mah. 1. Cadde, Mersin", "district": "Yenişehir"},
        "citizen": {"fullName": "Şükrü Öztürk", "phone": "0532 111 22 33"},
        "preferredAnswerChannel": "sms",
    }
    if attributes is not None:
        body["attributes"] = attributes
    return body


def test_the_catalogue_keeps_and_returns_the_questions_in_order(client: TestClient) -> None:
    categories = {c["code"]: c for c in client.get("/catalogue/categories").json()}
    stored = categories["YOL-CUKUR"]
    assert [a["code"] for a in stored["attributes"]] == ["cukur-boyutu", "derinlik", "zaman"]
    assert stored["attributes"][1]["datatypeDescription"] == "santimetre"
    assert stored["description"] == "Yolda çukur, asfalt bozulması ya da çökme."


@pytest.mark.parametrize(
    ("questions", "wrong"),
    [
        ([{**QUESTIONS[0], "values": []}], "needs values"),
        ([{**QUESTIONS[1], "values": [{"key": "a", "name": "A"}]}], "only singlevaluelist"),
        ([QUESTIONS[1], QUESTIONS[1]], "unique"),
        ([{**QUESTIONS[1], "datatype": "resim"}], "datatype"),
        ([{**QUESTIONS[1], "code": "Büyük Harf"}], "code"),
    ],
)
def test_a_malformed_question_is_refused_naming_what_is_wrong(
    client: TestClient, questions: list[dict[str, Any]], wrong: str
) -> None:
    body = {"name": "Yolda çukur", "directorateCode": "YOL", "serviceDays": 5, "attributes": questions}
    response = client.put("/catalogue/categories/YOL-CUKUR", json=body)
    assert response.status_code == 422
    assert wrong in response.text


def test_answers_are_stored_with_the_request_as_typed_values(
    client: TestClient, container: Container
) -> None:
    answers = {"cukur-boyutu": "buyuk", "derinlik": "12,5", "zaman": ["aksam", "sabah", "aksam"]}
    response = client.post("/requests", json=_intake(answers))
    assert response.status_code == 201, response.text
    with container.uow() as uow:
        stored = uow.session.scalar(
            select(CitizenRequest.attributes).where(
                CitizenRequest.tracking_code == response.json()["trackingNumber"]
            )
        )
    # Numbers as numbers, a multiple choice once each and in the question's order.
    assert stored == {"cukur-boyutu": "buyuk", "derinlik": 12.5, "zaman": ["sabah", "aksam"]}


@pytest.mark.parametrize(
    ("answers", "code", "message"),
    [
        ({}, "cukur-boyutu", "yanıtı gerekli"),
        ({"cukur-boyutu": "dev"}, "cukur-boyutu", "geçerli seçenekler: kucuk (Küçük), buyuk (Büyük)"),
        ({"cukur-boyutu": "kucuk", "derinlik": "on iki"}, "derinlik", "bir sayı yazın"),
        ({"cukur-boyutu": "kucuk", "zaman": ["gece"]}, "zaman", "geçerli seçenekler"),
        ({"cukur-boyutu": ["kucuk", "buyuk"]}, "cukur-boyutu", "tek bir yanıt"),
        ({"cukur-boyutu": "kucuk", "renk": "mavi"}, "renk", "böyle bir soru yok"),
    ],
)
def test_a_wrong_answer_is_a_422_naming_the_question(
    client: TestClient, answers: dict[str, Any], code: str, message: str
) -> None:
    response = client.post("/requests", json=_intake(answers))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "attributes", code]
    assert message in detail["msg"]


def test_a_category_without_questions_takes_no_answers() -> None:
    assert request_attributes.check_answers([], {}) is None
    with pytest.raises(AnswerInvalid) as refused:
        request_attributes.check_answers([], {"cukur-boyutu": "kucuk"})
    assert refused.value.code == "cukur-boyutu"


def test_text_answers_are_limited_and_free_of_control_characters() -> None:
    question = Definition(code="not", datatype=Datatype.TEXT, description="Eklemek istedikleriniz")
    assert request_attributes.check_answers([question], {"not": "  Işıklar yanmıyor.  "}) == {
        "not": "Işıklar yanmıyor."
    }
    with pytest.raises(AnswerInvalid, match="en çok 2000"):
        request_attributes.check_answers([question], {"not": "a" * 2001})
    with pytest.raises(AnswerInvalid, match="denetim karakterleri"):
        request_attributes.check_answers([question], {"not": "zil\x07sesi"})
    when = Definition(code="ne-zaman", datatype=Datatype.DATETIME, description="Ne zaman oldu?")
    assert request_attributes.check_answers([when], {"ne-zaman": "2026-11-30T22:15:00+03:00"}) == {
        "ne-zaman": "2026-11-30T22:15:00+03:00"
    }
    with pytest.raises(AnswerInvalid, match="GGGG-AA-GG"):
        request_attributes.check_answers([when], {"ne-zaman": "dün gece"})
