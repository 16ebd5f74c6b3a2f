"""The citizen page's protection rules over plain HTTP (the browser tests are in
test_citizen_page_browser.py): CSRF, the bot check, expired and replayed forms, rate limits,
no tracking-number enumeration, the page's own CSP, the photo checks and the same request on a
double submit."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from services.api.app import create_app
from services.api.rate_limit import TokenBuckets
from services.bootstrap import Container
from services.models import CitizenRequest, RateLimit, RequestPhoto
from services.web.forms import COOKIE, NUMBERS, FormTokens, normalise_answer
from tests.unit.citizen_page import (
    ask_for_information,
    png,
    proof_of_work,
    question,
    report_fields,
    tokens,
    tracking_number,
)


def _client(container: Container, **settings: Any) -> TestClient:
    changed = dataclasses.replace(container, settings=container.settings.model_copy(update=settings))
    return TestClient(create_app(changed), raise_server_exceptions=True)


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    with _client(container) as test_client:
        yield test_client


def _form(client: TestClient) -> str:
    page = client.get("/basvuru?kategori=YOL-CUKUR")
    assert page.status_code == 200, page.text
    return str(page.text)


def _submit(client: TestClient, page: str, **overrides: str) -> Any:
    (token,) = tokens(page)
    fields = report_fields(token, dogrulama=question(page), **overrides)
    return client.post("/basvuru", data=fields)


def _count(container: Container, reference_like: str = "%") -> int:
    with container.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(CitizenRequest)
                .where(CitizenRequest.channel == "web", CitizenRequest.channel_reference.like(reference_like))
            )
            or 0
        )


def test_a_report_with_the_question_answered_in_words_is_received_once_however_often_it_is_sent(
    client: TestClient, container: Container
) -> None:
    page = _form(client)
    (token,) = tokens(page)
    fields = report_fields(token, dogrulama=NUMBERS[int(question(page))].upper())  # "ON BİR"

    first = client.post("/basvuru", data=fields)
    again = client.post("/basvuru", data=fields)  # the back button, or a double click

    assert first.status_code == 200, first.text
    assert "Başvurunuz alındı" in first.text
    assert tracking_number(again.text) == tracking_number(first.text)
    with container.uow() as uow:
        row = uow.session.scalar(
            select(CitizenRequest).where(CitizenRequest.tracking_code == tracking_number(first.text))
        )
        assert row is not None and row.channel == "web" and row.attributes == {"cukur-boyutu": "orta"}
        assert (row.latitude, row.longitude, row.district) == (36.7841, 34.6015, "Yenişehir")
    assert re.search(r"Beklenen yanıt tarihi: <strong><time datetime=\"\d{4}-\d\d-\d\dT", first.text)
    assert "E-posta adresinize bir alındı bildirimi" in first.text


def test_the_proof_of_work_passes_without_the_question(client: TestClient, container: Container) -> None:
    page = _form(client)
    (token,) = tokens(page)
    bits = int(re.search(r'data-pow="(\d+)"', page).group(1))  # type: ignore[union-attr]

    sent = client.post("/basvuru", data=report_fields(token, pow_nonce=proof_of_work(token, bits)))

    assert sent.status_code == 200, sent.text
    assert "Başvurunuz alındı" in sent.text


def test_neither_proof_nor_answer_is_refused_with_the_fields_kept(
    client: TestClient, container: Container
) -> None:
    before = _count(container)  # the test database may hold web requests of other runs
    page = _form(client)
    (token,) = tokens(page)

    wrong = client.post("/basvuru", data=report_fields(token, dogrulama="kırk iki", pow_nonce="12345"))

    assert wrong.status_code == 422
    assert "Doğrulama sorusunun yanıtı doğru değil" in wrong.text
    assert 'href="#f-dogrulama"' in wrong.text
    assert "Gazi Mah. Şehit İlhan Sk. No:4" in wrong.text  # what the citizen typed stays
    assert _count(container) == before


def test_every_wrong_field_gets_its_turkish_message_linked_to_it(client: TestClient) -> None:
    page = _form(client)

    sent = _submit(
        client,
        page,
        aciklama="kısa",
        telefon="12345",
        eposta="eposta-değil",
        enlem="doksan",
        kvkk="",
        tur="",
        **{"soru-cukur-boyutu": "devasa"},
    )

    assert sent.status_code == 422
    expected = {
        "tur": "Başvuru türünü seçin",
        "aciklama": "Açıklama en az 10 karakter olmalı",
        "telefon": "Geçerli bir cep telefonu numarası yazın",
        "eposta": "Geçerli bir e-posta adresi yazın",
        "enlem": "Enlem bir sayı olmalı",
        "kvkk": "aydınlatma metnini okuduğunuzu onaylayın",
        "soru-cukur-boyutu": "Geçerli seçenekler",
    }
    for name, message in expected.items():
        assert f'href="#f-{name}"' in sent.text, name
        assert re.search(rf'id="f-{name}-hata">.*{message}', sent.text), name
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', sent.text), name
    assert re.search(r'id="f-telefon"[^>]*aria-describedby="f-telefon-ipucu f-telefon-hata"', sent.text)
    assert 'value="12345"' in sent.text


def test_the_answer_channel_needs_its_contact(client: TestClient) -> None:
    sent = _submit(client, _form(client), yanit_kanali="sms", telefon="")

    assert sent.status_code == 422
    assert "Yanıtı SMS ile almak için cep telefonu numaranızı yazın." in sent.text


def test_a_photo_is_checked_like_evidence_and_kept_with_the_request(
    client: TestClient, container: Container
) -> None:
    page = _form(client)
    (token,) = tokens(page)
    fields = report_fields(token, dogrulama=question(page))

    wrong_type = client.post(
        "/basvuru", data=fields, files={"fotograf": ("not.txt", b"merhaba", "text/plain")}
    )
    disguised = client.post(
        "/basvuru", data=fields, files={"fotograf": ("sahte.png", b"MZ\x90\x00", "image/png")}
    )
    filed = client.post("/basvuru", data=fields, files={"fotograf": ("çukur.png", png(40, 30), "image/png")})

    assert wrong_type.status_code == 422
    assert "Yalnızca JPEG ya da PNG fotoğraf yükleyebilirsiniz." in wrong_type.text
    assert disguised.status_code == 422
    assert "Dosyanın içeriği seçilen türde bir fotoğraf değil" in disguised.text
    assert filed.status_code == 200, filed.text
    with container.uow() as uow:
        photo = uow.session.scalar(
            select(RequestPhoto)
            .join(CitizenRequest, CitizenRequest.id == RequestPhoto.request_id)
            .where(CitizenRequest.tracking_code == tracking_number(filed.text))
        )
        assert photo is not None and photo.file_name == "çukur.png" and photo.content_type == "image/png"


def test_the_photo_may_be_larger_than_the_api_body_limit_but_not_than_its_own(container: Container) -> None:
    with _client(container, photo_max_bytes=400 * 1024) as client:
        page = _form(client)
        (token,) = tokens(page)
        fields = report_fields(token, dogrulama=question(page))
        large = png(8, 8) + b"\x00" * (300 * 1024)  # a PNG's signature, 300 KB
        too_large = png(8, 8) + b"\x00" * (420 * 1024)

        within = client.post("/basvuru", data=fields, files={"fotograf": ("buyuk.png", large, "image/png")})
        over = client.post("/basvuru", data=fields, files={"fotograf": ("dev.png", too_large, "image/png")})
        elsewhere = client.post("/takip", content=b"x" * (300 * 1024))

    assert within.status_code == 200, within.text[:500]
    assert over.status_code == 422
    assert "Fotoğraf en çok 400 KB olabilir" in over.text
    assert elsewhere.status_code == 413


def test_a_post_without_the_form_token_or_from_another_visitor_is_refused(
    client: TestClient, container: Container
) -> None:
    before = _count(container)  # the test database may hold web requests of other runs
    page = _form(client)
    (token,) = tokens(page)
    fields = report_fields(token, dogrulama=question(page))

    without_token = client.post("/basvuru", data={k: v for k, v in fields.items() if k != "form_token"})
    forged = client.post("/basvuru", data={**fields, "form_token": token[:-3] + "abc"})
    with _client(container) as stranger:  # another browser: its own cookie
        stranger.get("/")
        other_visitor = stranger.post("/basvuru", data=fields)
    client.cookies.clear()
    without_cookie = client.post("/basvuru", data=fields)
    lookup = client.post("/takip", data={"takip_no": "BI-AAAA-BBBB-CCCC-DDDD"})

    for refused in (without_token, forged, other_visitor, without_cookie, lookup):
        assert refused.status_code == 403, refused.text[:300]
        assert "Form doğrulanamadı" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    assert _count(container) == before


def test_the_cookie_is_httponly_strict_and_secure_in_production(container: Container) -> None:
    with _client(container) as local, _client(container, environment="production") as production:
        local_cookie = local.get("/").headers["set-cookie"]
        production_cookie = production.get("/").headers["set-cookie"]
    assert COOKIE in local_cookie and "HttpOnly" in local_cookie and "SameSite=strict" in local_cookie
    assert "Secure" not in local_cookie
    assert "Secure" in production_cookie


def test_an_expired_form_is_shown_again_with_what_was_typed(client: TestClient, container: Container) -> None:
    before = _count(container)  # the test database may hold web requests of other runs
    client.get("/")
    cookie = client.cookies[COOKIE]
    settings = container.settings
    old = FormTokens(
        settings.web_secret.get_secret_value(),
        difficulty=settings.web_pow_difficulty,
        max_age_seconds=settings.web_form_minutes * 60,
    )
    real_time = time.time
    itsdangerous.timed.time.time = lambda: real_time() - settings.web_form_minutes * 60 - 5  # type: ignore[attr-defined]
    try:
        issued = old.issue(cookie, "basvuru")
    finally:
        itsdangerous.timed.time.time = real_time  # type: ignore[attr-defined]
    sent = client.post("/basvuru", data=report_fields(issued.token, dogrulama="1"))

    assert sent.status_code == 422
    assert "Formun süresi dolmuş" in sent.text
    assert "Gazi Mah. Şehit İlhan Sk. No:4" in sent.text
    assert _count(container) == before


def test_a_replayed_reply_form_is_refused(client: TestClient, container: Container) -> None:
    filed = _submit(client, _form(client))
    tracking = tracking_number(filed.text)
    ask_for_information(container, tracking, "Çukur hangi binanın önünde?")
    status = client.post(
        "/takip", data={"takip_no": tracking, "form_token": tokens(client.get("/takip").text)[0]}
    )
    assert "Sizden bilgi istendi" in status.text
    (reply_token,) = tokens(status.text)
    fields = {"takip_no": tracking, "form_token": reply_token, "dogrulama": question(status.text)}

    answered = client.post("/takip/yanit", data={**fields, "metin": "Gül Apartmanı'nın önünde."})
    replayed = client.post("/takip/yanit", data={**fields, "metin": "Bir kez daha."})

    assert answered.status_code == 200, answered.text
    assert "Yanıtınız ilgili müdürlüğe iletildi" in answered.text
    assert "Bu form zaten gönderildi" in replayed.text
    with container.uow() as uow:
        row = uow.session.scalar(select(CitizenRequest).where(CitizenRequest.tracking_code == tracking))
        assert row is not None and row.status == "mudurlukte"


def test_an_unknown_number_and_a_malformed_one_get_the_same_answer(client: TestClient) -> None:
    def look(number: str) -> Any:
        token = tokens(client.get("/takip").text)[0]
        return client.post("/takip", data={"takip_no": number, "form_token": token})

    unknown, malformed = look("BI-AAAA-BBBB-CCCC-DDDD"), look("'; SELECT 1 --")
    assert unknown.status_code == malformed.status_code == 404
    assert "Bu takip numarasıyla bir talep bulunamadı." in unknown.text

    def shape(text: str) -> str:
        return re.sub(r'name="form_token" value="[^"]+"', "", text)

    assert shape(unknown.text) == shape(malformed.text)


def test_posts_and_page_views_are_limited_per_address_with_a_turkish_429(container: Container) -> None:
    with _client(container, public_posts_per_minute=2, public_reads_per_minute=4) as client:
        reads = [client.get("/kvkk") for _ in range(5)]
        limited = reads[-1]
        posts = [client.post("/takip", data={"takip_no": "BI-X", "form_token": "x"}) for _ in range(3)]

    assert [r.status_code for r in reads[:4]] == [200] * 4
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "Çok fazla istek" in limited.text and 'lang="tr"' in limited.text
    assert [p.status_code for p in posts] == [403, 403, 429]


def test_pages_set_their_own_csp_and_the_map_appears_only_with_a_tile_server(container: Container) -> None:
    with (
        _client(container) as plain,
        _client(container, map_tile_url="https://harita.belediye.example/{z}/{x}/{y}.png") as mapped,
    ):
        without = plain.get("/basvuru?kategori=YOL-CUKUR")
        with_map = mapped.get("/basvuru?kategori=YOL-CUKUR")
        api = plain.get("/health")

    base = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"
    assert without.headers["content-security-policy"].startswith(base + ";")
    assert "frame-ancestors 'none'; base-uri 'none'" in without.headers["content-security-policy"]
    assert "leaflet" not in without.text and "map.js" not in without.text
    assert with_map.headers["content-security-policy"].startswith(base + " https://harita.belediye.example;")
    assert "/static/vendor/leaflet/leaflet.js" in with_map.text and 'id="harita"' in with_map.text
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    for page in (without.text, with_map.text):
        assert "<script>" not in page and "style=" not in page and "<style" not in page


def test_categories_are_grouped_by_directorate_and_searched_on_the_server(client: TestClient) -> None:
    everything = client.get("/basvuru").text
    found = client.get("/basvuru", params={"ara": "ÇUKUR"}).text
    nothing = client.get("/basvuru", params={"ara": "uzay gemisi"}).text

    assert "Yol Yapım ve Bakım Dairesi Başkanlığı" in everything and "Zabıta Müdürlüğü" in everything
    assert "kategori=YOL-CUKUR" in found and "Zabıta Müdürlüğü" not in found
    assert "Aradığınız konuyu bulamadık" in nothing


def test_the_question_takes_digits_or_words_written_any_way_a_keyboard_allows() -> None:
    for number, word in NUMBERS.items():
        turkish_upper = word.replace("i", "İ").upper()
        plain = word.translate(str.maketrans("çğıöşü", "cgiosu"))
        for written in (str(number), word, turkish_upper, word.upper(), plain, word.replace(" ", "")):
            assert normalise_answer(written) == number, written
    assert normalise_answer("kırk iki") is None and normalise_answer("") is None


def test_a_body_far_over_the_photo_limit_gets_a_turkish_page(container: Container) -> None:
    with _client(container, photo_max_bytes=400 * 1024) as client:
        refused = client.post(
            "/basvuru",
            content=b"x" * (600 * 1024),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert 'lang="tr"' in refused.text, refused.text
    assert "Fotoğraf en çok 400 KB olabilir" in refused.text, refused.text


def test_an_empty_bucket_waits_and_an_idle_one_is_forgotten(container: Container) -> None:
    buckets = TokenBuckets(container.uow)
    caller = f"deneme:{uuid.uuid4()}"
    assert [buckets.take_now(caller, 2) for _ in range(2)] == [0, 0]
    assert 1 <= buckets.take_now(caller, 2) <= 30  # empty: 2 a minute, one back in 30 s
    with container.uow() as uow:
        uow.session.execute(
            text("UPDATE rate_limits SET at = now() - interval '3 minutes' WHERE caller = :c"), {"c": caller}
        )
        uow.commit()
    assert buckets.forget_idle() >= 1
    with container.uow() as uow:
        assert uow.session.get(RateLimit, caller) is None
    assert buckets.take_now(caller, 2) == 0
