"""System check: an operator proves the whole installation works, end to end.

API → PostgreSQL (+ outbox) → the engine runs `sistem-kontrol` → worker mails a Turkish test message →
a person confirms it in Tasklist → worker marks the check completed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from services import wording
from services.db import UnitOfWorkFactory
from services.models import SystemCheck
from services.notifications import Mail, Mailer, send_once
from services.outbox import enqueue_message

START_MESSAGE = "sistem-kontrol-istendi"
TEST_TEXT = "İı Şş Ğğ Çç Öö Üü"


class SystemCheckNotFound(LookupError):
    pass


def request_check(uow_factory: UnitOfWorkFactory, *, requested_by: str | None) -> SystemCheck:
    with uow_factory() as uow:
        check = SystemCheck(id=uuid.uuid4(), requested_by=requested_by, status="pending")
        uow.session.add(check)
        enqueue_message(
            uow.session,
            message_name=START_MESSAGE,
            correlation_key=str(check.id),
            variables={"systemCheckId": str(check.id)},
        )
        uow.commit()
        uow.session.refresh(check)
        uow.session.expunge(check)
        return check


def get_check(uow_factory: UnitOfWorkFactory, check_id: uuid.UUID) -> SystemCheck:
    with uow_factory() as uow:
        check = uow.session.get(SystemCheck, check_id)
        if check is None:
            raise SystemCheckNotFound(str(check_id))
        uow.session.expunge(check)
        return check


def notification_mail(
    uow_factory: UnitOfWorkFactory, check_id: uuid.UUID, recipient: str, tasklist_url: str
) -> Mail:
    """The test mail of an existing check (SystemCheckNotFound otherwise), in its current wording."""
    with uow_factory() as uow:
        if uow.session.get(SystemCheck, check_id) is None:
            raise SystemCheckNotFound(str(check_id))
        text = wording.render(
            uow.session,
            "sistem.kontrol",
            "eposta",
            {"kontrol_no": str(check_id), "turkce_karakterler": TEST_TEXT, "tasklist_adresi": tasklist_url},
        )
    return Mail(recipient=recipient, subject=text.subject, body=text.body)


async def send_test_notification(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    check_id: uuid.UUID,
    process_instance_id: str,
    activity_instance_id: str,
    recipient: str,
    tasklist_url: str,
) -> datetime:
    """Idempotent: a redelivered task finds the mail sent and the check already notified."""
    # No mail for an unknown check.
    mail = await asyncio.to_thread(notification_mail, uow_factory, check_id, recipient, tasklist_url)
    await send_once(
        uow_factory, mailer, idempotency_key=f"sistem-kontrol:{check_id}:{activity_instance_id}", mail=mail
    )
    return await asyncio.to_thread(
        mark_notified, uow_factory, check_id=check_id, process_instance_id=process_instance_id
    )


def mark_notified(
    uow_factory: UnitOfWorkFactory, *, check_id: uuid.UUID, process_instance_id: str
) -> datetime:
    """Record that the test mail went out; the first call wins, later calls return its time."""
    with uow_factory() as uow:
        check = uow.session.get(SystemCheck, check_id, with_for_update=True)
        if check is None:
            raise SystemCheckNotFound(str(check_id))
        if check.notified_at is None:
            check.notified_at = datetime.now(UTC)
            check.process_instance_id = process_instance_id
            check.status = "notified"
        notified_at = check.notified_at
        uow.commit()
        return notified_at


def complete_check(
    uow_factory: UnitOfWorkFactory, *, check_id: uuid.UUID, confirmed_by: str, note: str | None
) -> datetime:
    with uow_factory() as uow:
        check = uow.session.get(SystemCheck, check_id, with_for_update=True)
        if check is None:
            raise SystemCheckNotFound(str(check_id))
        if check.completed_at is None:
            check.completed_at = datetime.now(UTC)
            check.confirmed_by = confirmed_by
            check.note = note
            check.status = "completed"
        completed_at = check.completed_at
        uow.commit()
        return completed_at
