"""Mail: Turkish text survives a real SMTP conversation; one mail per idempotency key."""

from __future__ import annotations

import re
import uuid
from email import policy
from email.parser import BytesParser
from email.utils import make_msgid, parseaddr
from pathlib import Path

import pytest
from aiosmtplib.email import flatten_message
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from deploy.local.mailbox import read_mailbox
from services.bootstrap import Container
from services.config import Settings
from services.db import UnitOfWork
from services.models import Notification
from services.notifications import Mail, SmtpMailer, build_message, send_once

TURKISH = "Çağrı Işıklı, Şişli, İğdır: ÖĞÜŞİÇ öğüşıç — İı Şş Ğğ Çç Öö Üü"


async def test_turkish_headers_and_body_survive_smtp(settings: Settings, mailbox: tuple[int, Path]) -> None:
    settings = settings.model_copy(
        update={"mail_from": "Büyükşehir Hizmet Takip <hizmet-takip@belediye.local>"}
    )
    message_id = make_msgid(domain="belediye.local")
    mail = Mail(
        recipient="ops@belediye.local", subject=f"Sistem kontrolü: {TURKISH}", body=f"Metin: {TURKISH}\n"
    )

    await SmtpMailer(settings).send(mail, message_id=message_id)

    (stored,) = mailbox[1].glob("*.eml")
    raw_headers = re.split(rb"\r?\n\r?\n", stored.read_bytes(), maxsplit=1)[0]
    raw_headers.decode("ascii")  # every header is RFC 2047-encoded, never raw UTF-8
    (message,) = read_mailbox(mailbox[1])
    assert message["Subject"] == f"Sistem kontrolü: {TURKISH}"
    assert parseaddr(str(message["From"])) == ("Büyükşehir Hizmet Takip", "hizmet-takip@belediye.local")
    assert message["Message-ID"] == message_id
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n") == f"Metin: {TURKISH}\n"


def test_mailbox_files_are_complete_eml_with_sortable_names(mailbox: tuple[int, Path]) -> None:
    from deploy.local.mailbox import MailboxHandler

    handler = MailboxHandler(mailbox[1])
    first = handler.store(b"Subject: bir\r\n\r\nbir\r\n")
    second = handler.store(b"Subject: iki\r\n\r\niki\r\n")
    assert first < second and first.endswith(".eml")
    assert not list(mailbox[1].glob(".*.tmp"))
    assert [m["Subject"] for m in read_mailbox(mailbox[1])] == ["bir", "iki"]


async def test_the_same_key_mails_once(container: Container, mailbox: tuple[int, Path]) -> None:
    key = f"test:{uuid.uuid4()}"
    mail = Mail(recipient="ops@belediye.local", subject="Tek sefer", body="Bir kez gönderilir.")

    first = await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail)
    second = await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail)

    assert (first, second) == (True, False)
    assert len(read_mailbox(mailbox[1])) == 1
    with container.uow() as uow:
        row = uow.session.scalar(select(Notification).where(Notification.idempotency_key == key))
        assert row is not None and row.sent_at is not None
        assert row.smtp_message_id == read_mailbox(mailbox[1])[0]["Message-ID"]


async def test_a_failed_send_is_retried_under_the_same_message_id(
    container: Container, mailbox: tuple[int, Path]
) -> None:
    seen: list[str] = []

    class RefusingMailer:
        async def send(self, mail: Mail, *, message_id: str) -> None:
            seen.append(message_id)
            raise ConnectionRefusedError("SMTP down")

    key = f"test:{uuid.uuid4()}"
    mail = Mail(recipient="ops@belediye.local", subject="Yeniden dene", body="SMTP geri geldi.")
    with pytest.raises(ConnectionRefusedError):
        await send_once(container.uow, RefusingMailer(), idempotency_key=key, mail=mail)
    assert read_mailbox(mailbox[1]) == []

    assert await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail) is True
    (message,) = read_mailbox(mailbox[1])
    assert message["Message-ID"] == seen[0]


async def test_a_mail_accepted_while_the_database_restarts_is_recorded_not_sent_again(
    container: Container, mailbox: tuple[int, Path]
) -> None:
    """The server has the mail; recording it meets the database away twice (its connections cut
    by a restart) and waits for it instead of failing the task, which would send it again."""
    calls = 0

    def restarting() -> UnitOfWork:
        nonlocal calls
        calls += 1
        if calls in (2, 3):  # the first records the reservation; then the database is away
            raise OperationalError(
                "COMMIT", None, Exception("terminating connection due to administrator command")
            )
        return container.uow()

    key = f"test:{uuid.uuid4()}"
    mail = Mail(recipient="ops@belediye.local", subject="Yeniden başlatma", body="Bir kez gönderilir.")

    assert await send_once(restarting, container.mailer, idempotency_key=key, mail=mail) is True
    assert await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail) is False

    assert calls == 4
    assert len(read_mailbox(mailbox[1])) == 1
    with container.uow() as uow:
        row = uow.session.scalar(select(Notification).where(Notification.idempotency_key == key))
        assert row is not None and row.sent_at is not None


@pytest.mark.parametrize(
    "subject",
    [
        "Sistem kontrolü 1f0c2a9e-3b7d-4c55-9a61-2f4e8d0b7c13: bildirim zinciri çalışıyor — İı Şş Ğğ Çç",
        "Hizmet süresi aşıldı (2. bildirim): Yol Yapım ve Bakım Dairesi Başkanlığı — çukur, ışıklandırma",
        "Talebiniz hakkında bilgi gerekiyor (BLD-2026-000123) İı Şş Ğğ Çç Öö Üü İı Şş Ğğ Çç Öö Üü",
        "Kısa konu",
    ],
)
def test_long_turkish_subjects_keep_every_space(subject: str) -> None:
    message = build_message(
        Mail(recipient="ops@belediye.local", subject=subject, body="gövde"),
        sender="Belediye Hizmet Takip <hizmet-takip@belediye.local>",
        message_id=make_msgid(domain="belediye.local"),
    )
    raw = flatten_message(message)
    header_lines = re.split(rb"\r\n\r\n", raw, maxsplit=1)[0].split(b"\r\n")
    assert all(len(line) <= 78 for line in header_lines)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == subject


def test_a_line_break_in_a_subject_cannot_add_a_header() -> None:
    for subject in ("Konu\r\nBcc: herkes@example.com", "Konu İı\nBcc: herkes@example.com"):
        message = build_message(
            Mail(recipient="ops@belediye.local", subject=subject, body="gövde"),
            sender="hizmet-takip@belediye.local",
            message_id=make_msgid(domain="belediye.local"),
        )
        parsed = BytesParser(policy=policy.default).parsebytes(flatten_message(message))
        assert parsed["Bcc"] is None
        assert parsed["Subject"] == subject.replace("\r\n", " ").replace("\n", " ")
