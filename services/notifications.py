"""Outgoing mail over a real SMTP conversation and SMS over SMPP, each sent at most once per
idempotency key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Protocol

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from services import metrics
from services.config import Settings
from services.db import UnitOfWorkFactory
from services.models import Notification
from services.sms import SmsSender
from services.sms_receipts import settle_notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail, *, message_id: str) -> None: ...


def encoded_header(value: str, name: str) -> str:
    """RFC 2047 encoded words that keep every space of Turkish text.

    The modern `email` header folder (CPython 3.11) can put the space between two non-ASCII
    words outside the encoded words when it folds a long header; readers then drop it
    ("İı Şş" arrives as "İıŞş"). The older `Header` encoder keeps spaces inside the words.
    Line breaks become spaces, so a value can never add a header of its own.
    """
    value = " ".join(value.splitlines())
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def build_message(mail: Mail, *, sender: str, message_id: str) -> EmailMessage:
    """A UTF-8 text mail: headers ASCII-only (RFC 2047), body quoted-printable (7-bit safe)."""
    name, address = parseaddr(sender)
    if not address:
        raise ValueError("MAIL_FROM has no e-mail address")
    message = EmailMessage()
    message.set_raw("From", formataddr((name, address), charset="utf-8"))
    message["To"] = mail.recipient
    message.set_raw("Subject", encoded_header(mail.subject, "Subject"))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(mail.body, charset="utf-8", cte="quoted-printable")
    return message


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, mail: Mail, *, message_id: str) -> None:
        s = self._settings
        message = build_message(mail, sender=s.mail_from, message_id=message_id)
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

    sent = await deliver_once(
        uow_factory,
        idempotency_key=idempotency_key,
        recipient=mail.recipient,
        subject=mail.subject,
        deliver=deliver,
    )
    if sent:
        metrics.NOTIFICATIONS_SENT.labels("mail").inc()
    return sent


async def send_sms_once(
    uow_factory: UnitOfWorkFactory,
    sms: SmsSender,
    *,
    idempotency_key: str,
    phone: str,
    subject: str,
    text: str,
) -> bool:
    """SMS unless one with this key was already sent. True when this call sent it. The SMS
    centre's ids of its parts are stored on the notification; their receipts settle it."""

    async def deliver(message_id: str) -> list[str]:
        return await sms.send(phone, text, message_id=message_id)

    sent = await deliver_once(
        uow_factory, idempotency_key=idempotency_key, recipient=phone, subject=subject, deliver=deliver
    )
    if sent:
        metrics.NOTIFICATIONS_SENT.labels("sms").inc()
    return sent


async def deliver_once(
    uow_factory: UnitOfWorkFactory,
    *,
    idempotency_key: str,
    recipient: str,
    subject: str,
    deliver: Callable[[str], Awaitable[Sequence[str] | None]],
) -> bool:
    """Deliver (mail or SMS) unless already delivered under this key. True when this call did.

    The row is reserved (with its Message-ID) before talking to the server and marked sent
    after it, with the SMS centre's message ids when `deliver` returns them. A crash between
    the server accepting the message and that commit, or a second delivery of the same task
    while the first is still talking to the server, can send it once more, with the same
    Message-ID; nothing else can. The database work runs in a thread so that the event loop of
    the workers keeps serving other tasks meanwhile.
    """
    message_id = await asyncio.to_thread(_reserve, uow_factory, idempotency_key, recipient, subject)
    if message_id is None:
        return False
    smsc_message_ids = await deliver(message_id)
    await asyncio.to_thread(_record_sent, uow_factory, idempotency_key, smsc_message_ids)
    if smsc_message_ids:
        # In a transaction of its own after that commit: receipts that came first (services.sms_receipts).
        await asyncio.to_thread(settle_notification, uow_factory, idempotency_key)
    log.info("notification %s sent", idempotency_key)
    return True


def _reserve(
    uow_factory: UnitOfWorkFactory, idempotency_key: str, recipient: str, subject: str
) -> str | None:
    """The Message-ID to send under, or None when this key was already sent."""
    with uow_factory() as uow:
        existing = uow.session.scalar(
            select(Notification).where(Notification.idempotency_key == idempotency_key)
        )
        if existing is not None and existing.sent_at is not None:
            return None
        if existing is None:
            existing = Notification(idempotency_key=idempotency_key, recipient=recipient, subject=subject)
            uow.session.add(existing)
        message_id = existing.smtp_message_id or make_msgid(domain="belediye.local")
        existing.smtp_message_id = message_id
        uow.commit()
        return message_id


def _mark_sent(
    uow_factory: UnitOfWorkFactory, idempotency_key: str, smsc_message_ids: Sequence[str] | None
) -> None:
    """Record that the server accepted the message under this key."""
    with uow_factory() as uow:
        row = uow.session.scalar(select(Notification).where(Notification.idempotency_key == idempotency_key))
        assert row is not None
        row.sent_at = datetime.now(UTC)
        if smsc_message_ids:
            row.smsc_message_ids = list(smsc_message_ids)
        uow.commit()


# Once the server has accepted a message, this record is all that stands between it and a second
# send: a database away for a moment (a restart, a fail-over) is waited for here, instead of the
# task failing and being delivered again to send it once more (found by `make fault` on the
# cluster: four mails twice after a PostgreSQL restart).
RECORD_SENT_FOR_S = 120.0

_record_sent = retry(
    retry=retry_if_exception_type(OperationalError),
    wait=wait_exponential(multiplier=0.5, max=10),
    stop=stop_after_delay(RECORD_SENT_FOR_S),
    before_sleep=lambda state: log.warning(
        "notification sent but not recorded yet (database away), trying again: attempt %d",
        state.attempt_number,
    ),
    reraise=True,
)(_mark_sent)
