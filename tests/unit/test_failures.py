"""Failed jobs: BPMN errors only for modelled codes; anything else retries after a back-off,
and what reaches the engine or the logs carries no personal data."""

from __future__ import annotations

from typing import Any

import pytest
from pyzeebe import Job, JobController
from pyzeebe.errors import BusinessError
from pyzeebe.types import Variables
from sqlalchemy.exc import IntegrityError

from services.bootstrap import Container
from services.models import Notification
from workers.failures import RETRY_BACK_OFF_MS, handle_failure


class RecordingController(JobController):
    def __init__(self, job: Job) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def set_failure_status(
        self, message: str, retry_back_off_ms: int = 0, variables: Variables | None = None
    ) -> None:
        self.calls.append(("failure", {"message": message, "retry_back_off_ms": retry_back_off_ms}))

    async def set_error_status(
        self, message: str, error_code: str = "", variables: Variables | None = None
    ) -> None:
        self.calls.append(("error", {"message": message, "error_code": error_code}))


def _job() -> Job:
    return Job(
        key=2251799813685300,
        type="sistem-kontrol.bildirim-gonder",
        process_instance_key=2251799813685249,
        bpmn_process_id="sistem-kontrol",
        process_definition_version=1,
        process_definition_key=2251799813685200,
        element_id="bildirim-gonder",
        element_instance_key=2251799813685260,
        custom_headers={},
        worker="test",
        retries=3,
        deadline=0,
        variables={},
    )


async def test_a_business_error_becomes_a_bpmn_error() -> None:
    controller = RecordingController(_job())
    await handle_failure(BusinessError("kategori-bulunamadi"), _job(), controller)
    ((kind, details),) = controller.calls
    assert (kind, details["error_code"]) == ("error", "kategori-bulunamadi")


async def test_other_errors_retry_after_a_back_off_without_e_mail_addresses() -> None:
    controller = RecordingController(_job())
    error = ConnectionRefusedError("recipient <ayse.yilmaz@example.com> refused")
    await handle_failure(error, _job(), controller)
    ((kind, details),) = controller.calls
    assert kind == "failure"
    assert details["retry_back_off_ms"] == RETRY_BACK_OFF_MS
    assert details["message"].startswith("ConnectionRefusedError: recipient")
    assert "ayse" not in details["message"]


def test_database_errors_show_no_values(container: Container) -> None:
    with container.uow() as uow, pytest.raises(IntegrityError) as caught:
        for _ in range(2):
            uow.session.add(
                Notification(idempotency_key="dup", recipient="ayse.yilmaz@example.com", subject="Çağrı")
            )
            uow.session.flush()
    assert "ayse" not in str(caught.value)
    assert "idempotency_key" in str(caught.value)


async def test_an_unreachable_mail_server_is_named_in_plain_words() -> None:
    from aiosmtplib import SMTPConnectError, SMTPRecipientRefused

    from workers.failures import MAIL_SERVER_REFUSED, MAIL_SERVER_UNREACHABLE

    controller = RecordingController(_job())
    await handle_failure(SMTPConnectError("Error connecting to 127.0.0.1 on port 2525"), _job(), controller)
    ((_, details),) = controller.calls
    assert details["message"].startswith(MAIL_SERVER_UNREACHABLE)
    assert details["message"].endswith("SMTPConnectError: Error connecting to 127.0.0.1 on port 2525")

    controller = RecordingController(_job())
    refused = SMTPRecipientRefused(550, "no such user", "ayse.yilmaz@example.com")
    await handle_failure(refused, _job(), controller)
    ((_, details),) = controller.calls
    assert details["message"].startswith(MAIL_SERVER_REFUSED)
    assert "ayse" not in details["message"]
