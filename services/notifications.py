"""Outgoing mail over a real SMTP conversation, sent at most once per idempotency key."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib
from sqlalchemy import select

from services.config import Settings
from services.db import UnitOfWorkFactory
from services.models import Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail, *, message_id: str) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, mail: Mail, *, message_id: str) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        message["Message-ID"] = message_id
        message.set_content(mail.body, charset="utf-8")
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )


async def send_once(
    uow_factory: UnitOfWorkFactory, mailer: Mailer, *, idempotency_key: str, mail: Mail
) -> bool:
    """Mail unless a mail with this key was already sent. True when this call sent it."""

    async def deliver(message_id: str) -> None:
        await mailer.send(mail, message_id=message_id)

    return await deliver_once(
        uow_factory,
        idempotency_key=idempotency_key,
        recipient=mail.recipient,
        subject=mail.subject,
        deliver=deliver,
    )


async def deliver_once(
    uow_factory: UnitOfWorkFactory,
    *,
    idempotency_key: str,
    recipient: str,
    subject: str,
    deliver: Callable[[str], Awaitable[None]],
) -> bool:
    """Deliver (mail or SMS) unless already delivered under this key. True when this call did.

    The row is reserved before the conversation with the server and marked sent after it.
    A crash between the server accepting the message and the commit can resend once;
    nothing else can.
    """
    with uow_factory() as uow:
        existing = uow.session.scalar(
            select(Notification).where(Notification.idempotency_key == idempotency_key)
        )
        if existing is not None and existing.sent_at is not None:
            return False
        if existing is None:
            existing = Notification(idempotency_key=idempotency_key, recipient=recipient, subject=subject)
            uow.session.add(existing)
            uow.session.flush()
        message_id = existing.smtp_message_id or make_msgid(domain="belediye.local")
        existing.smtp_message_id = message_id
        uow.commit()
    await deliver(message_id)
    with uow_factory() as uow:
        row = uow.session.scalar(select(Notification).where(Notification.idempotency_key == idempotency_key))
        assert row is not None
        row.sent_at = datetime.now(UTC)
        uow.commit()
    log.info("notification %s sent", idempotency_key)
    return True
