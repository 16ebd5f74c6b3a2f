"""Mail goes through a real SMTP conversation, Turkish intact, and at most once per key."""

import uuid
from pathlib import Path

import pytest

from deploy.local.mailbox import read_mailbox
from services.bootstrap import Container
from services.notifications import Mail, send_once

TURKISH = "Çağrı Işıklı, Şişli, İğdır: ÖĞÜŞİÇ öğüşıç"


async def test_mail_arrives_with_turkish_text_intact(
    container: Container, smtp_mailbox: tuple[int, Path]
) -> None:
    mail = Mail(
        recipient="müdürlük@belediye.local", subject=f"Yeni iş: {TURKISH}", body=f"Açıklama: {TURKISH}"
    )
    sent = await send_once(container.uow, container.mailer, idempotency_key=str(uuid.uuid4()), mail=mail)
    assert sent is True
    (message,) = read_mailbox(smtp_mailbox[1])
    assert message["Subject"] == f"Yeni iş: {TURKISH}"
    assert message["To"] == "müdürlük@belediye.local"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert TURKISH in body.get_content()


async def test_a_redelivered_task_sends_one_mail(
    container: Container, smtp_mailbox: tuple[int, Path]
) -> None:
    key = f"test:{uuid.uuid4()}"
    mail = Mail(recipient="ops@belediye.local", subject="Tek sefer", body="Bir kez gönderilir.")
    first = await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail)
    second = await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail)
    assert (first, second) == (True, False)
    assert len(read_mailbox(smtp_mailbox[1])) == 1


async def test_a_failed_send_is_retried_with_the_same_message_id(
    container: Container, smtp_mailbox: tuple[int, Path]
) -> None:
    class RefusingMailer:
        async def send(self, mail: Mail, *, message_id: str) -> None:
            raise ConnectionRefusedError("SMTP down")

    key = f"test:{uuid.uuid4()}"
    mail = Mail(recipient="ops@belediye.local", subject="Yeniden dene", body="SMTP geri geldi.")
    with pytest.raises(ConnectionRefusedError):
        await send_once(container.uow, RefusingMailer(), idempotency_key=key, mail=mail)
    assert read_mailbox(smtp_mailbox[1]) == []
    assert await send_once(container.uow, container.mailer, idempotency_key=key, mail=mail) is True
    (message,) = read_mailbox(smtp_mailbox[1])
    assert message["Message-ID"].endswith("@belediye.local>")
