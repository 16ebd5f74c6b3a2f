"""Citizens' contact data is encrypted at rest (KVKK) and masked in every log line."""

from __future__ import annotations

import logging
import uuid

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import text

from services import citizen_requests as requests
from services.bootstrap import Container
from services.config import Settings
from services.log_context import MaskingFormatter
from services.models import CitizenContact
from services.personal_data import cipher, mask


def _submit(container: Container) -> uuid.UUID:
    request, _ = requests.submit(
        container.uow,
        requests.Intake(
            channel="cagri-merkezi",
            channel_reference=f"ALO185-{uuid.uuid4()}",
            request_type="sikayet",
            category_code=None,
            description="Sokak lambası yanmıyor.",
            latitude=None,
            longitude=None,
            contact=requests.Contact(
                full_name="Şükrü Öğütçü",
                phone="+905551112233",
                email="sukru@ornek.local",
                address="Çiftlikköy Mah. 3. Sk. No:7",
                preferred_channel="sms",
            ),
        ),
    )
    return request.id


def test_contact_data_is_ciphertext_in_the_database_and_plain_through_the_service(
    container: Container,
) -> None:
    request_id = _submit(container)
    with container.uow() as uow:
        raw = uow.session.execute(
            text("SELECT full_name, phone, email, address FROM citizen_contacts WHERE request_id = :r"),
            {"r": request_id},
        ).one()
        for value, secret in zip(raw, ("Şükrü", "5551112233", "sukru@", "Çiftlikköy"), strict=True):
            assert secret not in value and value.startswith("gAAAAA"), value
        contact = uow.session.get(CitizenContact, request_id)
        assert contact is not None
        assert (contact.full_name, contact.phone) == ("Şükrü Öğütçü", "+905551112233")


def test_a_new_key_first_still_reads_what_the_old_key_wrote() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = cipher((old,)).encrypt("Ayşe Yıldırım".encode())
    assert cipher((new, old)).decrypt(token).decode() == "Ayşe Yıldırım"
    assert cipher((new, old)).rotate(token) != token


def test_production_refuses_to_start_without_its_own_keys() -> None:
    with pytest.raises(ValidationError, match="PERSONAL_DATA_KEYS"):
        Settings(
            environment="production",
            database_url="postgresql+psycopg://kalite:gizli@db/kalite",
            engine_password="gizli",
        )


def test_e_mail_addresses_and_phone_numbers_are_masked_in_log_lines() -> None:
    assert mask("mail to ayse.yildirim@vatandas.local failed") == "mail to <e-posta> failed"
    assert mask("SMS +905321234567 / 0532 123 45 67 / 5321234567") == "SMS <telefon> / <telefon> / <telefon>"
    assert mask("talep 2251799813685249 ve BI-AB12-CD34") == "talep 2251799813685249 ve BI-AB12-CD34"
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "SMTP refused %s", ("x@y.local",), None)
    assert MaskingFormatter("%(message)s").format(record) == "SMTP refused <e-posta>"
