"""The system check's service functions, as the workers call them: idempotent under redelivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest

from deploy.local.mailbox import read_mailbox
from services.bootstrap import Container
from services.system_checks import (
    TEST_TEXT,
    SystemCheckNotFound,
    complete_check,
    get_check,
    request_check,
    send_test_notification,
)


async def test_a_redelivered_notify_job_mails_once_and_keeps_the_first_time(
    container: Container, mailbox: tuple[int, Path]
) -> None:
    check = request_check(container.uow, requested_by=None)

    async def notify() -> datetime:  # what the handler does for each delivery of the same job
        return await send_test_notification(
            container.uow,
            container.mailer,
            check_id=check.id,
            process_instance_id="2251799813685249",
            activity_instance_id="2251799813685260",
            recipient=container.settings.system_check_recipient,
            tasklist_url=container.settings.tasklist_url,
        )

    first = await notify()
    again = await notify()

    assert first == again
    (message,) = read_mailbox(mailbox[1])
    assert message["To"] == "ops@belediye.local"
    assert "bildirim zinciri çalışıyor" in str(message["Subject"])
    assert TEST_TEXT in message.get_content()
    stored = get_check(container.uow, check.id)
    assert stored.status == "notified"
    assert stored.notified_at == first
    assert stored.process_instance_id == "2251799813685249"


async def test_no_mail_for_an_unknown_check(container: Container, mailbox: tuple[int, Path]) -> None:
    with pytest.raises(SystemCheckNotFound):
        await send_test_notification(
            container.uow,
            container.mailer,
            check_id=uuid.uuid4(),
            process_instance_id="1",
            activity_instance_id="2",
            recipient="ops@belediye.local",
            tasklist_url="http://127.0.0.1:8080/tasklist",
        )
    assert read_mailbox(mailbox[1]) == []


def test_completing_twice_keeps_the_first_confirmation(container: Container) -> None:
    check = request_check(container.uow, requested_by="nöbetçi")

    first = complete_check(
        container.uow, check_id=check.id, confirmed_by="demo", note="Posta geldi, İ ve ş doğru."
    )
    again = complete_check(container.uow, check_id=check.id, confirmed_by="başkası", note=None)

    assert first == again
    stored = get_check(container.uow, check.id)
    assert (stored.status, stored.confirmed_by, stored.note) == (
        "completed",
        "demo",
        "Posta geldi, İ ve ş doğru.",
    )


def test_unknown_checks_are_reported(container: Container) -> None:
    with pytest.raises(SystemCheckNotFound):
        get_check(container.uow, uuid.uuid4())
    with pytest.raises(SystemCheckNotFound):
        complete_check(container.uow, check_id=uuid.uuid4(), confirmed_by="demo", note=None)
