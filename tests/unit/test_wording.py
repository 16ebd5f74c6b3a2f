"""Wording as data on real PostgreSQL (rolled back per test): shipped defaults, versions, the
category's own text, validation, escaping for the medium, and the API that changes them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from deploy.local.mailbox import read_mailbox
from services import catalogue, wording
from services.api.app import create_app
from services.bootstrap import Container
from services.models import MessageTemplate
from services.notifications import Mail, send_once
from services.wording import TemplateError
from tests.credentials import AsCaller, bearer
from tests.issuer import SampleIssuer

TURKISH = "İ ı Ş ş Ğ ğ Ü ü Ö ö Ç ç Â â"
OLUMLU = {
    "ad_soyad": "Ayşe Yıldırım Öztürk",
    "takip_no": "BI-ABCD-EFGH-JKLM-NPQR",
    "mudurluk": "Yol Yapım ve Bakım Dairesi Başkanlığı",
    "yapilan_is": "Çukur asfaltla kapatıldı, yol açıldı.",
    "itiraz_son_tarih": "16.12.2026 17:30",
}


def _save(container: Container, key: str = "vatandas.yanit-olumlu", **fields: object) -> MessageTemplate:
    values: dict[str, object] = {
        "medium": "eposta",
        "category_code": None,
        "subject": "Talebiniz sonuçlandı ({{ takip_no }})",
        "body": "Sayın {{ ad_soyad }}, işiniz yapıldı.\n",
        "note": None,
        "changed_by": "yonetici",
    }
    values.update(fields)
    return wording.save(container.uow, key=key, **values)  # type: ignore[arg-type]


def _render(
    container: Container, key: str, medium: wording.Medium, values: Mapping[str, object], **kw: str
) -> wording.Text:
    with container.uow() as uow:
        return wording.render(uow.session, key, medium, values, **kw)


def _versions(container: Container) -> int:
    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(MessageTemplate)) or 0


# ---------------------------------------------------------------- defaults and versions


def test_defaults_load_once_and_never_overwrite_an_administrators_version(
    container: Container, tmp_path: Path
) -> None:
    shipped = wording.shipped().defaults
    assert wording.load_defaults(container.uow) == len(shipped)
    assert wording.load_defaults(container.uow) == 0
    assert _versions(container) == len(shipped)

    _save(container, body="Sayın {{ ad_soyad }}, yöneticinin metni.\n")
    # A newer release ships a new key beside the old ones: only the new key arrives.
    newer = tmp_path / "mesaj-sablonlari.toml"
    newer.write_text(
        wording.DEFAULTS.read_text(encoding="utf-8")
        + """
[[sablon]]
key = "vatandas.yeni-olay"
medium = "sms"
description = "Yeni sürümün yeni olayı"
placeholders = ["takip_no"]
body = '''
Talebiniz {{ takip_no }} için yeni bir gelişme var.
'''
""",
        encoding="utf-8",
    )
    assert wording.load_defaults(container.uow, path=newer) == 1

    text = _render(container, "vatandas.yanit-olumlu", "eposta", OLUMLU)
    assert text.body == "Sayın Ayşe Yıldırım Öztürk, yöneticinin metni.\n"
    (admin, default) = wording.history(container.uow, "vatandas.yanit-olumlu", "eposta", None)
    assert (admin.version, admin.changed_by) == (2, "yonetici")
    assert (default.version, default.changed_by) == (1, "sistem")


def test_a_version_number_is_unique_for_the_general_text_too(container: Container) -> None:
    """The category of a general text is NULL; the database still refuses a second version 1."""
    with container.uow() as uow:
        for _ in range(2):
            uow.session.add(
                MessageTemplate(
                    key="vatandas.yanit-olumlu", medium="sms", version=1, subject="", body="x", changed_by="a"
                )
            )
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_before_the_defaults_are_stored_the_shipped_text_is_sent(container: Container) -> None:
    assert _versions(container) == 0
    text = _render(container, "vatandas.yanit-olumlu", "sms", OLUMLU)
    assert text == wording.Text(
        subject="",
        body="BI-ABCD-EFGH-JKLM-NPQR sonuçlandı: Çukur asfaltla kapatıldı, yol açıldı. "
        "İtiraz son gün: 16.12.2026 17:30",
    )


def test_a_categorys_own_text_wins_over_the_general_one(container: Container) -> None:
    catalogue.load_seed_if_empty(container.uow)
    wording.load_defaults(container.uow)
    _save(container, body="Genel: {{ takip_no }}\n")
    _save(container, category_code="YOL-CUKUR", body="Çukur için: {{ takip_no }}\n", changed_by="a")
    _save(container, category_code="yol-cukur", body="Çukur için, ikinci: {{ takip_no }}\n", changed_by="b")

    def body(category: str | None) -> str:
        with container.uow() as uow:
            return wording.render(
                uow.session, "vatandas.yanit-olumlu", "eposta", OLUMLU, category_code=category
            ).body

    assert body("YOL-CUKUR") == "Çukur için, ikinci: BI-ABCD-EFGH-JKLM-NPQR\n"
    assert body(" yol-cukur ") == body("YOL-CUKUR")
    assert body("PARK-AGAC") == "Genel: BI-ABCD-EFGH-JKLM-NPQR\n"
    assert body(None) == "Genel: BI-ABCD-EFGH-JKLM-NPQR\n"
    own = wording.history(container.uow, "vatandas.yanit-olumlu", "eposta", "YOL-CUKUR")
    assert [(v.version, v.changed_by) for v in own] == [(2, "b"), (1, "a")]
    with pytest.raises(TemplateError, match="YOK-BOYLE"):
        _save(container, category_code="YOK-BOYLE")


def test_an_unknown_placeholder_is_refused_naming_it_and_the_allowed_ones(container: Container) -> None:
    with pytest.raises(TemplateError) as refused:
        _save(container, body="Sayın {{ ad_soyad }}, {{ takip_numarasi }} {{ telefon }}\n")
    message = str(refused.value)
    assert "takip_numarasi" in message and "telefon" in message
    assert (
        "Bu şablonda kullanılabilenler: ad_soyad, takip_no, mudurluk, yapilan_is, itiraz_son_tarih."
        in message
    )
    assert refused.value.unknown == ("takip_numarasi", "telefon")
    assert refused.value.field == "body"
    # Names outside the placeholders (Jinja's globals too) are not offered either.
    with pytest.raises(TemplateError, match="range"):
        _save(container, subject="{% for i in range(3) %}{{ i }}{% endfor %}")
    assert _versions(container) == 0


@pytest.mark.parametrize(
    ("field", "source", "line"),
    [
        ("body", "Sayın {{ ad_soyad },\n", 1),
        ("body", "Sayın {{ ad_soyad }},\n\n{% if takip_no %}açık kaldı\n", 3),
        ("subject", "Konu {{ takip_no", 1),
    ],
)
def test_a_syntax_error_is_refused_with_its_line(
    container: Container, field: str, source: str, line: int
) -> None:
    with pytest.raises(TemplateError) as refused:
        _save(container, **{field: source})
    assert refused.value.line == line
    assert refused.value.field == field
    assert f"satır {line}" in str(refused.value) and "sözdizimi" in str(refused.value)
    assert _versions(container) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "{{ takip_no + 1 }}\n"}, "Örnek değerlerle işlenemedi"),
        ({"body": "{{ ad_soyad.__class__.__mro__ }}\n"}, "izin verilmeyen"),
        ({"subject": "Konu\n{{ takip_no }}"}, "tek satır"),
        ({"subject": "  "}, "konusu boş"),
        ({"body": " \n"}, "Metin boş"),
        ({"medium": "sms", "subject": "SMS konusu"}, "SMS'in konusu olmaz"),
    ],
)
def test_texts_that_could_not_be_sent_are_refused(
    container: Container, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        _save(container, **fields)


def test_an_unknown_key_or_a_missing_value_is_refused(container: Container) -> None:
    with pytest.raises(wording.UnknownTemplate, match=r"vatandas\.yok"):
        _render(container, "vatandas.yok", "eposta", OLUMLU)
    with pytest.raises(wording.UnknownTemplate):
        _render(container, "personel.dif-acildi", "sms", {})
    with pytest.raises(TemplateError, match="değer verilmedi: yapilan_is"):
        _render(container, "vatandas.yanit-olumlu", "eposta", {**OLUMLU, "yapilan_is": None})


# ---------------------------------------------------------------- escaping for the medium


async def test_turkish_text_arrives_byte_for_byte(container: Container, mailbox: tuple[int, Path]) -> None:
    _save(container, subject=f"{TURKISH} {{{{ takip_no }}}}", body=f"{TURKISH}\n{{{{ ad_soyad }}}}\n")
    text = _render(container, "vatandas.yanit-olumlu", "eposta", OLUMLU)
    assert text.subject.encode() == f"{TURKISH} BI-ABCD-EFGH-JKLM-NPQR".encode()
    assert text.body.encode() == f"{TURKISH}\nAyşe Yıldırım Öztürk\n".encode()

    mail = Mail(recipient="ayse@example.com", subject=text.subject, body=text.body)
    assert await send_once(container.uow, container.mailer, idempotency_key="wording-turkish", mail=mail)
    (message,) = read_mailbox(mailbox[1])
    assert str(message["Subject"]) == text.subject
    assert message.get_content().replace("\r\n", "\n") == text.body


def test_a_value_is_printed_as_it_is_never_run_as_template_code(container: Container) -> None:
    tricky = "{{ 7 * 7 }} {% if true %}x{% endif %} {# yorum #} <b>&amp;</b> '\"\\"
    text = _render(container, "vatandas.yanit-olumlu", "eposta", {**OLUMLU, "yapilan_is": tricky})
    assert f"Yapılan iş: {tricky}\n" in text.body
    assert "49" not in text.body


def test_a_subject_has_no_line_breaks_and_an_sms_no_control_characters(container: Container) -> None:
    wording.load_defaults(container.uow)
    values = {
        **OLUMLU,
        "takip_no": "BI-1\r\nBcc: herkes@example.com",
        "yapilan_is": "a\n\nb\tc\x07d\x00e\u2028f",
    }
    mail = _render(container, "vatandas.yanit-olumlu", "eposta", values)
    assert mail.subject == "Talebiniz sonuçlandı (BI-1 Bcc: herkes@example.com)"
    assert "Yapılan iş: a\n\nb\tcde\nf\n" in mail.body

    sms = _render(container, "vatandas.yanit-olumlu", "sms", values)
    assert sms.subject == ""
    assert sms.body == ("BI-1 Bcc: herkes@example.com sonuçlandı: a b cde f İtiraz son gün: 16.12.2026 17:30")
    assert all(ch >= " " for ch in sms.body)


# ---------------------------------------------------------------- the shipped texts


def test_every_shipped_sms_fits_in_two_messages_with_its_samples() -> None:
    table = wording.shipped()
    for (key, medium, _), default in table.defaults.items():
        if medium == "sms":
            # UCS-2 (Turkish letters): 67 characters per part of a long message.
            text = wording.render_text(medium, default.subject, default.body, table.samples(key, medium))
            assert len(text.body) <= 2 * 67, (key, len(text.body))
            assert table.defaults.get((key, "eposta", None)) is not None, f"{key}: SMS without a mail"


# The shipped wording of the keys services/citizen_requests.py renders, as a reader gets it.
TODAY: dict[str, tuple[Mapping[str, object], str, str]] = {
    "personel.mudurluge-bildirim": (
        {
            "mudurluk": "Yol Yapım ve Bakım Dairesi Başkanlığı",
            "talep_turu": "sikayet",
            "kategori": "Yolda çukur",
            "kategori_kodu": "YOL-CUKUR",
            "kanal": "web",
            "konum": "Gazi Mahallesi Şehit İlhan Sokak 3 (36.800000, 34.600000)",
            "hizmet_suresi": "5 iş günü",
            "son_tarih": "05.12.2026 09:30",
            "aciklama": "Çukur büyüdü.\nİkinci satır.",
            "tasklist_adresi": "http://t/",
            "talep_kimligi": "0b7c1a52-3f1e-4a55-9d2e-6c1f0e8a4b21",
            "takip_no": "BI-ABCD-EFGH-JKLM-NPQR",
            "oncelik": "Normal",
            "ilce": "Yenişehir",
            "ek_bilgiler": "Çukur ne büyüklükte?: Büyük",
            "fotograflar": "yok",
        },
        "Yeni birim istek: Yolda çukur",
        "Sayın Yol Yapım ve Bakım Dairesi Başkanlığı yetkilisi,\n\n"
        "Müdürlüğünüze yeni bir sikayet yönlendirildi.\n\n"
        "Takip no: BI-ABCD-EFGH-JKLM-NPQR\n"
        "Kategori: Yolda çukur (YOL-CUKUR)\n"
        "Öncelik: Normal\n"
        "Kanal: web\n"
        "İlçe: Yenişehir\n"
        "Konum: Gazi Mahallesi Şehit İlhan Sokak 3 (36.800000, 34.600000)\n"
        "Hizmet süresi: 5 iş günü, son gün 05.12.2026 09:30\n\n"
        "Açıklama:\nÇukur büyüdü.\nİkinci satır.\n\n"
        "Ek bilgiler:\nÇukur ne büyüklükte?: Büyük\n\n"
        "Fotoğraflar: yok\n\n"
        "Görevi Tasklist'te açın: http://t/ "
        '("Talebi değerlendir", talep 0b7c1a52-3f1e-4a55-9d2e-6c1f0e8a4b21)\n',
    ),
    "personel.gecikme-bildirimi": (
        {
            "kacinci": 2,
            "kategori": "Yolda çukur",
            "mudurluk": "Yol Yapım ve Bakım Dairesi Başkanlığı",
            "talep_kimligi": "0b7c1a52-3f1e-4a55-9d2e-6c1f0e8a4b21",
            "son_tarih": "05.12.2026 09:30",
            "tasklist_adresi": "http://t/",
        },
        "Hizmet süresi aşıldı (2. bildirim): Yolda çukur",
        "Sayın Müdür,\n\nYol Yapım ve Bakım Dairesi Başkanlığı müdürlüğüne yönlendirilen talep "
        "0b7c1a52-3f1e-4a55-9d2e-6c1f0e8a4b21 hizmet süresini aştı (son gün 05.12.2026 09:30). "
        "Bu, 2. gecikme bildirimidir.\n\nTasklist: http://t/\n",
    ),
    "vatandas.bilgi-istendi": (
        {"ad_soyad": "Ayşe Yıldırım Öztürk", "takip_no": "BI-ABCD-EFGH-JKLM-NPQR", "soru": "Çukur nerede?"},
        "Talebiniz hakkında bilgi gerekiyor (BI-ABCD-EFGH-JKLM-NPQR)",
        "Sayın Ayşe Yıldırım Öztürk,\n\n"
        "BI-ABCD-EFGH-JKLM-NPQR numaralı talebinizle ilgili müdürlüğümüz sizden bilgi istiyor:\n\n"
        "Çukur nerede?\n\n"
        "Yanıtınızı bu e-postaya yanıt vererek, Alo 185'i arayarak ya da web sitemizden "
        "takip numaranızla iletebilirsiniz.\n",
    ),
    "vatandas.yanit-olumlu": (
        OLUMLU,
        "Talebiniz sonuçlandı (BI-ABCD-EFGH-JKLM-NPQR)",
        "Sayın Ayşe Yıldırım Öztürk,\n\nBI-ABCD-EFGH-JKLM-NPQR numaralı talebiniz Yol Yapım ve Bakım Dairesi "
        "Başkanlığı tarafından sonuçlandırılmıştır.\n\nYapılan iş: Çukur asfaltla kapatıldı, yol açıldı.\n\n"
        "Yanıtımızı yeterli bulmazsanız 16.12.2026 17:30 tarihine kadar takip numaranızla web sitemizden "
        "ya da Alo 185'ten itiraz edebilirsiniz.\n\n"
        "Bize ulaştığınız için teşekkür ederiz.\n",
    ),
    "vatandas.yanit-olumsuz": (
        {**OLUMLU, "mudurluk": "Belediyemiz", "gerekce": "-"},
        "Talebiniz sonuçlandı (BI-ABCD-EFGH-JKLM-NPQR)",
        "Sayın Ayşe Yıldırım Öztürk,\n\nBI-ABCD-EFGH-JKLM-NPQR numaralı talebiniz Belediyemiz "
        "tarafından değerlendirilmiş, ancak yerine getirilememektedir.\n\n"
        "Gerekçe: -\n\nBu karara 16.12.2026 17:30 tarihine kadar takip numaranızla web sitemizden ya da "
        "Alo 185'ten itiraz edebilirsiniz.\n\nBilgilerinize sunarız.\n",
    ),
}


@pytest.mark.parametrize("key", sorted(TODAY))
def test_the_defaults_read_as_written(container: Container, key: str) -> None:
    wording.load_defaults(container.uow)
    values, subject, body = TODAY[key]
    assert _render(container, key, "eposta", values) == wording.Text(subject, body)


# ---------------------------------------------------------------- the API


@pytest.fixture()
def client(container: Container, as_admin: AsCaller) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:  # its start stores the defaults
        test_client.auth = as_admin
        yield test_client


def test_the_api_lists_changes_and_shows_who_changed_what(client: TestClient) -> None:
    listed = client.get("/templates")
    assert listed.status_code == 200, listed.text
    rows = {(t["key"], t["medium"]): t for t in listed.json()}
    assert len(rows) == len(wording.shipped().defaults)
    sms = rows[("vatandas.bilgi-istendi", "sms")]
    assert sms["version"] == 1 and sms["changedBy"] == "sistem" and sms["subject"] == ""
    assert {
        "name": "soru",
        "description": "Müdürlüğün vatandaşa sorduğu soru",
        "sample": "Çukurun tam yerini tarif eder misiniz?",
    } in sms["placeholders"]

    body = "Talebiniz {{ takip_no }}: {{ soru }} " + TURKISH
    changed = client.put("/templates/vatandas.bilgi-istendi/sms", json={"body": body, "note": "Kısaltıldı"})
    assert changed.status_code == 200, changed.text
    detail = changed.json()
    assert (detail["version"], detail["changedBy"], detail["note"], detail["body"]) == (
        2,
        "yonetici",
        "Kısaltıldı",
        body,
    )
    assert [(v["version"], v["changedBy"]) for v in detail["history"]] == [(2, "yonetici"), (1, "sistem")]
    assert client.get("/templates/vatandas.bilgi-istendi/sms").json() == detail

    own = client.put(
        "/templates/vatandas.bilgi-istendi/sms",
        json={"body": "Çukur: {{ takip_no }} {{ soru }}", "categoryCode": "YOL-CUKUR"},
    )
    assert own.status_code == 200, own.text
    assert (own.json()["categoryCode"], own.json()["version"]) == ("YOL-CUKUR", 1)
    assert client.get("/templates/vatandas.bilgi-istendi/sms?categoryCode=YOL-CUKUR").json()["version"] == 1
    assert client.get("/templates/vatandas.bilgi-istendi/sms?categoryCode=PARK-AGAC").status_code == 404

    preview = client.post(
        "/templates/vatandas.bilgi-istendi/sms/preview",
        json={"values": {"takip_no": "BI-TEST", "soru": "Nerede?\nHangi sokak?"}},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"subject": "", "body": f"Talebiniz BI-TEST: Nerede? Hangi sokak? {TURKISH}"}
    draft = client.post(
        "/templates/vatandas.yanit-olumlu/eposta/preview",
        json={"subject": "Konu {{ takip_no }}", "body": "Örnek: {{ yapilan_is }}\n"},
    )
    assert draft.json() == {
        "subject": "Konu BI-ABCD-EFGH-JKLM-NPQR",
        "body": "Örnek: Çukur asfaltla kapatıldı, yol açıldı.\n",
    }
    # A preview stores nothing.
    assert client.get("/templates/vatandas.yanit-olumlu/eposta").json()["version"] == 1


def test_only_the_administrator_changes_texts_and_public_relations_read_them(
    client: TestClient, issuer: SampleIssuer
) -> None:
    change = {"subject": "Konu {{ takip_no }}", "body": "Metin {{ ad_soyad }}\n"}
    relations = bearer(issuer.issue("halkla.iliskiler"))
    refused = client.put("/templates/vatandas.yanit-olumlu/eposta", json=change, headers=relations)
    assert refused.status_code == 403
    assert refused.json()["missingPermission"] == "templates:write"
    assert client.get("/templates", headers=relations).status_code == 200
    assert (
        client.post("/templates/vatandas.yanit-olumlu/eposta/preview", json={}, headers=relations).status_code
        == 200
    )
    director = bearer(issuer.issue("yol.mudur"))
    assert client.get("/templates", headers=director).json()["missingPermission"] == "templates:read"
    assert client.get("/templates/vatandas.yanit-olumlu/eposta").json()["version"] == 1


@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        (
            "vatandas.yanit-olumlu/eposta",
            {"subject": "{{ takip_no }}", "body": "{{ takip_numarasi }}\n"},
            {"loc": ["body", "body"], "ctx": {"unknownPlaceholders": ["takip_numarasi"]}},
        ),
        (
            "vatandas.yanit-olumlu/eposta",
            {"subject": "{{ takip_no }}", "body": "Sayın {{ ad_soyad }},\n\n{% if x %}\n"},
            {"loc": ["body", "body"], "ctx": {"line": 3}},
        ),
        (
            "vatandas.yanit-olumlu/eposta",
            {"subject": "{{ takip_no }}", "body": "{{ takip_no * 'x' }}\n"},
            {"loc": ["body", "body"]},
        ),
        (
            "vatandas.yanit-olumlu/sms",
            {"subject": "Konu", "body": "{{ takip_no }}"},
            {"loc": ["body", "subject"]},
        ),
        (
            "vatandas.yanit-olumlu/eposta",
            {"subject": "{{ takip_no }}", "body": "x", "categoryCode": "YOK-BOYLE"},
            {"loc": ["body", "categoryCode"]},
        ),
    ],
)
def test_a_text_that_could_not_be_sent_is_a_422_saying_what_is_wrong(
    client: TestClient, path: str, payload: dict[str, str], expected: dict[str, object]
) -> None:
    response = client.put(f"/templates/{path}", json=payload)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    for name, value in expected.items():
        assert problem[name] == value, problem
    assert problem["msg"]
    assert client.get(f"/templates/{path}").json()["version"] == 1


def test_the_unknown_and_the_malformed_are_404_and_422_never_500(client: TestClient) -> None:
    assert client.get("/templates/vatandas.yok/eposta").status_code == 404
    assert client.put("/templates/vatandas.yok/eposta", json={"subject": "a", "body": "b"}).status_code == 404
    assert client.get("/templates/vatandas.yanit-olumlu/faks").status_code == 422
    assert client.get("/templates/Büyük Harf/eposta").status_code == 422
    assert (
        client.put("/templates/vatandas.yanit-olumlu/eposta", json={"body": "b", "extra": 1}).status_code
        == 422
    )
    unknown_value = client.post(
        "/templates/vatandas.yanit-olumlu/eposta/preview", json={"values": {"telefon": "0532"}}
    )
    assert unknown_value.status_code == 422
    assert "telefon" in unknown_value.json()["detail"][0]["msg"]
